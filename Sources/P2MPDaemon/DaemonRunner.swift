import Dispatch
import Logging
import NIOCore
import NIOPosix
import P2MPConfiguration
import P2MPKeys
import P2MPSecurity
import P2MPSpool
import P2MPSystemd
import P2MPTransport

#if canImport(Glibc)
import Glibc
#endif

/// Runs p2mpd in daemon mode: configuration, logging, spool, sockets, signals.
public enum DaemonRunner {
    public struct Options: Sendable {
        public var configurationFile: String
        /// True when the file was named with `--config`: then it must exist.
        public var configurationRequired: Bool
        public var overrides: ConfigurationOverrides
        /// Seeds the simulated loss (`--loss-seed`), so a run can be repeated; random when nil.
        public var lossSeed: UInt64?

        public init(configurationFile: String?, overrides: ConfigurationOverrides) {
            self.configurationFile = configurationFile ?? ConfigurationLoader.defaultMainFile
            self.configurationRequired = configurationFile != nil
            self.overrides = overrides
        }
    }

    /// Loads and validates the configuration: the sources read, or every error.
    public static func loadConfiguration(_ options: Options)
        -> Result<(configuration: DaemonConfiguration, sources: [String]), ConfigurationErrors>
    {
        ConfigurationLoader.load(
            mainFile: options.configurationFile, mainFileRequired: options.configurationRequired,
            overrides: options.overrides)
    }

    /// The configuration and the trusted-senders file it names, every error of both with
    /// FILE:LINE.
    public static func loadSettings(_ options: Options) -> Result<DaemonSettings, ConfigurationErrors> {
        switch loadConfiguration(options) {
        case .failure(let errors): return .failure(errors)
        case .success(let loaded):
            guard let path = loaded.configuration.trustedSenders else {
                return .success(DaemonSettings(configuration: loaded.configuration, trustedSenders: TrustedSenders()))
            }
            switch TrustedSendersFile.load(path: path) {
            case .success(let trusted):
                return .success(DaemonSettings(configuration: loaded.configuration, trustedSenders: trusted))
            case .failure(let errors):
                return .failure(
                    ConfigurationErrors(errors.errors.map { ConfigurationError(file: $0.path, line: $0.line, message: $0.message) }))
            }
        }
    }

    /// The daemon's host key: loaded, or made on first use (mode 0600).
    public static func hostKey(for configuration: DaemonConfiguration) -> Result<(keyPair: KeyPairFile, created: Bool), KeyFileError> {
        KeyPairFile.loadOrCreate(path: configuration.hostKeyPath, comment: "p2mpd@" + hostName())
    }

    static func hostName() -> String {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, name.count) == 0 else { return "localhost" }
        return String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status (0 after a clean stop, 1 when
    /// the configuration, the spool or the sockets fail at start).
    public static func run(_ options: Options, printError: @escaping @Sendable (String) -> Void) async -> Int32 {
        let settings: DaemonSettings
        switch loadSettings(options) {
        case .success(let loaded): settings = loaded
        case .failure(let errors):
            for error in errors.errors { printError(error.description) }
            return 1
        }
        let configuration = settings.configuration
        LoggingSystem.bootstrap { label in
            SystemdEnvironment.makeLogHandler(label: label, identifier: "p2mpd", messageIDs: DaemonEvent.messageIDs)
        }
        var logger = Logger(label: "p2mpd")
        logger.logLevel = Logger.Level(configuration.logLevel)

        let sockets: [DatagramSocket]
        do {
            sockets = try self.sockets(for: configuration)
        } catch {
            printError("cannot use the sockets passed by systemd: \(error)")
            return 1
        }

        let mailbox = DatagramMailbox<DaemonCommand>()
        let signals = watchSignals(options: options, mailbox: mailbox)
        defer { signals.forEach { $0.cancel() } }
        let notifier = SystemdNotifier()
        let daemonLogger = logger
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        do {
            _ = try await DatagramRunner.run(sockets: sockets, on: loop, mailbox: mailbox) {
                // The spool is opened on the loop that will own it.
                let spool = try Spool(root: configuration.spool)
                if let removed = try? spool.removeStalePartials(olderThan: configuration.partialMaxAge.seconds), removed > 0 {
                    daemonLogger.info("removed \(removed) partial files older than \(configuration.partialMaxAge)")
                }
                let hostKey: KeyPairFile
                switch Self.hostKey(for: configuration) {
                case .success(let loaded):
                    hostKey = loaded.keyPair
                    if loaded.created {
                        daemonLogger.notice(
                            "made a new host key \(configuration.hostKeyPath): \(loaded.keyPair.publicKey.fingerprint)",
                            metadata: ["p2mp_event": "start", "p2mp_key": "\(loaded.keyPair.publicKey.fingerprint)"])
                    }
                case .failure(let error):
                    throw HostKeyFailure(error: error)
                }
                return ReceiverDaemon(
                    settings: settings, spool: spool, logger: daemonLogger, notifier: notifier,
                    lossSeed: options.lossSeed ?? .random(in: .min ... .max), hostKey: hostKey, loop: loop)
            }
            mailbox.close()
            return 0
        } catch let failure as HostKeyFailure {
            logger.critical("cannot use the host key: \(failure.error)", metadata: ["p2mp_event": "fail"])
            printError("cannot use the host key: \(failure.error)")
            return 1
        } catch let error as FileSystemError {
            logger.critical("cannot open the spool: \(error)", metadata: ["p2mp_event": "fail"])
            printError("cannot open the spool '\(configuration.spool)': \(error)")
            return 1
        } catch {
            logger.critical("cannot listen: \(error)", metadata: ["p2mp_event": "fail"])
            printError("cannot listen on \(configuration.listen.map(\.description).joined(separator: ", ")): \(error)")
            return 1
        }
    }

    /// Sockets passed by systemd (socket activation) when there are any, else `listen`.
    static func sockets(for configuration: DaemonConfiguration) throws -> [DatagramSocket] {
        let inherited = try ListenFDs.inherited().filter(\.isDatagram)
        if !inherited.isEmpty {
            return inherited.map { .adopt(descriptor: $0.fileDescriptor) }
        }
        return try configuration.listen.map { spec in
            .bind(try SocketAddress(ipAddress: spec.ip, port: Int(spec.port)))
        }
    }

    /// SIGHUP reloads (the files are read here, off the loop); SIGTERM and SIGINT stop.
    private static func watchSignals(options: Options, mailbox: DatagramMailbox<DaemonCommand>) -> [any DispatchSourceSignal] {
        let queue = DispatchQueue(label: "p2mpd.signals")
        var sources: [any DispatchSourceSignal] = []
        for (number, command) in [(SIGHUP, nil), (SIGTERM, DaemonCommand.stop), (SIGINT, DaemonCommand.stop)] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if let command {
                    mailbox.post(command)
                } else {
                    mailbox.post(.reload(loadSettings(options)))
                }
            }
            source.resume()
            sources.append(source)
        }
        return sources
    }
}

/// The host key could not be loaded or made (its file is unreadable, damaged, or readable
/// by others).
struct HostKeyFailure: Error {
    var error: KeyFileError
}
