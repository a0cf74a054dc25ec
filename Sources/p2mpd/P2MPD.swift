import ArgumentParser
import P2MPCommandLine
import P2MPConfiguration
import P2MPDaemon
import P2MPProtocol
import P2MPSpool
import P2MPTransport

@main
struct P2MPD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2mpd",
        abstract: "The p2mp receiver.",
        usage: """
            p2mpd [--config PATH] [--listen ADDRESS:PORT ...] [--spool DIR] [--trusted-senders FILE] [--loss P] [--log-level LEVEL]
              p2mpd --check-config [--config PATH]
              p2mpd --show-host-key [--config PATH] [--spool DIR]
              p2mpd PORT FILE P [--bind ADDRESS] [--linger SECONDS]
            """,
        discussion: """
            Without operands p2mpd is the receiver daemon: it reads /etc/p2mp/p2mpd.toml and \
            /etc/p2mp/p2mpd.toml.d/*.toml (see p2mpd.toml(5)), listens for pushes on UDP \
            (7735 by default, or sockets passed by systemd), stores each file in the spool once \
            its SHA-256 matched, and logs every transfer (to journald under systemd). SIGHUP \
            reloads the configuration, SIGTERM stops it, leaving partial files to resume.

            Senders authenticate with keys (docs/SECURITY.md): the daemon proves its host key \
            (made on first start, --show-host-key prints it) and serves the keys its \
            trusted-senders file lists, with the rights each line grants. Without \
            trusted_senders it serves unauthenticated requests from loopback addresses only.

            The seed form receives one file over the classic P2MP-FTP protocol on UDP PORT into \
            FILE, discarding each arriving data packet with probability P (simulated loss) and \
            printing "Packet loss, sequence number = X" for it. It exits 0 once the file is \
            complete and no datagram arrived for the linger time.
            """,
        version: P2MPVersion.string)

    @Argument(parsing: .allUnrecognized, help: "PORT FILE P (seed form)")
    var operands: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("Configuration file.", valueName: "path"))
    var config: String?

    @Flag(help: "Validate the configuration and exit 0 when it is valid, 1 when not.")
    var checkConfig = false

    @Flag(help: "Print the host key's public line (making the key if there is none) and exit.")
    var showHostKey = false

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("The trusted-senders file, replacing 'trusted_senders'.", valueName: "file"))
    var trustedSenders: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The host key file, replacing 'host_key'.", valueName: "file"))
    var hostKey: String?

    @Option(
        parsing: .unconditionalSingleValue,
        help: ArgumentHelp("UDP address to listen on, replacing 'listen' (repeatable).", valueName: "address:port"))
    var listen: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("Spool directory, replacing 'spool'.", valueName: "dir"))
    var spool: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Simulated loss probability, replacing 'loss'.", valueName: "p"))
    var loss: Double?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Seed of the simulated loss, so that a run can be repeated (both forms).", valueName: "n"))
    var lossSeed: UInt64?

    @Option(parsing: .unconditional, help: ArgumentHelp("Log level, replacing 'log_level'.", valueName: "level"))
    var logLevel: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Seed form: local IP address to listen on.", valueName: "address"))
    var bind: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Seed form: seconds to keep re-acknowledging after the file is complete.", valueName: "seconds"))
    var linger: Double?

    static func main() async {
        await CommandRunner.main(self)
    }

    func run() async throws {
        if operands.isEmpty {
            try await runDaemon()
        } else {
            try await runSeedForm()
        }
    }

    private func runDaemon() async throws {
        if bind != nil || linger != nil {
            throw UsageError("--bind and --linger belong to the seed form (p2mpd PORT FILE P)")
        }
        // Relative paths mean the working directory here; the loader sees absolute ones only.
        let configurationFile = try config.map { try CommandLinePath.absolute($0, flag: "--config") }
        let spoolDirectory = try spool.map { try CommandLinePath.absolute($0, flag: "--spool") }
        let trustedFile = try trustedSenders.map { try CommandLinePath.absolute($0, flag: "--trusted-senders") }
        let hostKeyFile = try hostKey.map { try CommandLinePath.absolute($0, flag: "--host-key") }
        var options = DaemonRunner.Options(
            configurationFile: configurationFile,
            overrides: ConfigurationOverrides(
                listen: listen.isEmpty ? nil : listen, spool: spoolDirectory, loss: loss, logLevel: logLevel,
                trustedSenders: trustedFile, hostKey: hostKeyFile))
        options.lossSeed = lossSeed
        if checkConfig || showHostKey {
            switch DaemonRunner.loadSettings(options) {
            case .success(let settings) where showHostKey:
                switch DaemonRunner.hostKey(for: settings.configuration) {
                case .success(let loaded): CommandRunner.printLine(loaded.keyPair.publicLine)
                case .failure(let error): throw CommandFailure(.failure, "cannot use the host key: \(error)")
                }
                return
            case .success:
                guard case .success(let loaded) = DaemonRunner.loadConfiguration(options) else { return }
                let sources = loaded.sources.isEmpty ? "embedded defaults" : loaded.sources.joined(separator: ", ")
                CommandRunner.printLine("configuration is valid (\(sources))")
                return
            case .failure(let errors):
                for error in errors.errors { CommandRunner.printError(error.description) }
                throw CommandFailure(.failure)
            }
        }
        let status = await DaemonRunner.run(options) { CommandRunner.printError("p2mpd: \($0)") }
        if status != 0 { throw CommandFailure(.failure) }
    }

    private func runSeedForm() async throws {
        if config != nil || checkConfig || showHostKey || !listen.isEmpty || spool != nil || loss != nil || logLevel != nil
            || trustedSenders != nil || hostKey != nil
        {
            throw UsageError("the seed form (p2mpd PORT FILE P) takes only --bind, --linger and --loss-seed")
        }
        let options = try seedOptions()
        let report = try await ClassicReceive.run(options) { CommandRunner.printLine($0) }
        let sender = report.sender?.displayString ?? "nobody"
        CommandRunner.printLine("Received \(report.bytes) bytes from \(sender) into \(options.outputPath) (\(report.discardedPackets) packets discarded)")
    }

    private func seedOptions() throws -> ClassicReceive.Options {
        if let option = operands.first(where: { $0.hasPrefix("--") }) {
            throw UsageError("unknown option '\(option)'")
        }
        guard operands.count == 3 else {
            throw UsageError("expected PORT FILE P (3 arguments), or none for the daemon, got \(operands.count)")
        }
        guard let port = Endpoint.parsePort(operands[0]) else {
            throw UsageError("PORT '\(operands[0])' is not a port number (expected an integer in 1-65535)")
        }
        let path = operands[1]
        if let problem = AtomicFileWriter.destinationProblem(path) {
            throw UsageError("FILE '\(path)' cannot be written: \(problem)")
        }
        guard let probability = Double(operands[2]), (0...1).contains(probability) else {
            throw UsageError("P '\(operands[2])' is not a probability (expected a number in [0, 1])")
        }
        let bind = self.bind ?? "0.0.0.0"
        let linger = self.linger ?? 2
        guard let address = Endpoint.bindAddress(bind, port: port) else {
            throw UsageError("--bind '\(bind)' is not an IP address")
        }
        return ClassicReceive.Options(
            bindAddress: address, outputPath: path, lossProbability: probability,
            linger: try CommandLineSeconds.duration(linger, flag: "--linger"), lossSeed: lossSeed)
    }
}
