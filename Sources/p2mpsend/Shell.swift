import ArgumentParser
import Dispatch
import NIOCore
import P2MPClient
import P2MPCommandLine
import P2MPProtocol
import P2MPSpool
import P2MPTransport

#if canImport(Glibc)
import Glibc
#endif

/// `p2mpsend shell TARGET`: the seeds' interactive client.
struct Shell: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An interactive prompt for one receiver: get, put, rename, rm, list, exit.",
        discussion: """
            Reads commands from standard input (a prompt is shown on a terminal); type help for \
            the list. A failed command prints why and the prompt comes back. End of input, exit \
            or Ctrl-C leave (status 0; 130 after Ctrl-C).
            """)

    @Argument(help: ArgumentHelp("The receiver.", valueName: "target")) var target: String
    @OptionGroup var options: QueryOptions

    func run() async throws {
        let resolvedTargets = try Targets.resolve([target], defaultPort: options.port)
        let resolved = resolvedTargets[0].endpoint
        var trust = try options.trust.trust(for: resolvedTargets, defaultPort: options.port)
        let deadline = try options.giveUpAfter
        let interactive = isatty(STDIN_FILENO) == 1
        let interrupt = Self.leaveOnInterrupt()
        defer { interrupt.cancel() }
        while true {
            if interactive { Self.prompt("p2mp \(target)> ") }
            guard let line = readLine() else {
                if interactive { CommandRunner.printLine("") }
                return
            }
            switch ShellCommand.parse(line) {
            case .empty: continue
            case .exit: return
            case .help: CommandRunner.printLine(ShellCommand.usage)
            case .invalid(let message): CommandRunner.printError(message)
            case .list: await list(resolved, trust: &trust, deadline: deadline)
            case .get(let name, let destination):
                await get(name, to: destination, from: resolved, trust: &trust, deadline: deadline)
            case .put(let file, let name): await put(file, as: name, to: resolved, trust: &trust)
            case .rename(let from, let to): await change(.move(from: from, to: to), resolved, trust: &trust, deadline: deadline)
            case .remove(let name): await change(.remove(name: name), resolved, trust: &trust, deadline: deadline)
            }
        }
    }

    private func list(_ target: (name: String, address: SocketAddress), trust: inout TrustContext, deadline: Duration) async {
        let outcome = try? await FleetQueryRunner.run(.list, targets: [target], trust: trust.trust, giveUpAfter: deadline)
        trust.learn(provedKeys: outcome?.hostKeys ?? [])
        switch outcome?.answers.first {
        case .listing(let entries)?:
            for line in List.table([(target.name, entries)], hostCount: 1) { CommandRunner.printLine(line) }
        case .result(let result)?: CommandRunner.printError("\(result.status): \(result.explanation)")
        case .unauthenticated(let reason)?: CommandRunner.printError(reason)
        default: CommandRunner.printError("no answer from \(target.name)")
        }
    }

    private func get(
        _ name: String, to destination: String?, from target: (name: String, address: SocketAddress), trust: inout TrustContext,
        deadline: Duration
    ) async {
        let path = destination ?? String(name.split(separator: "/").last ?? Substring(name))
        if let problem = AtomicFileWriter.destinationProblem(path) {
            CommandRunner.printError("cannot write '\(path)': \(problem)")
            return
        }
        let outcome = try? await FetchRunner.run([(name, path)], from: target.address, trust: trust.trust, giveUpAfter: deadline)
        trust.learn(provedKeys: [outcome?.hostKey])
        switch outcome?.results.first {
        case .fetched(let bytes)?: CommandRunner.printLine("\(name) -> \(path) (\(bytes) bytes, SHA-256 verified)")
        case .failed(let reason)?: CommandRunner.printError("\(name): \(reason)")
        case nil: CommandRunner.printError("\(name): no answer from \(target.name)")
        }
    }

    private func put(
        _ file: String, as name: String?, to target: (name: String, address: SocketAddress), trust: inout TrustContext
    ) async {
        let source: FileSegmentSource
        do {
            source = try FileSegmentSource(path: file)
        } catch {
            CommandRunner.printError("no such file: \(file) (\(error))")
            return
        }
        let spoolName = name ?? String(file.split(separator: "/").last ?? Substring(file))
        var options = NativePush.Options(
            targets: [target], source: source, name: spoolName,
            segmentSize: SegmentSize.automatic(toward: [target.address]) - trust.trust.overhead, window: 4_096, rateLimit: nil,
            giveUpAfter: .seconds(30), replaceExisting: false)
        options.digestCache = DigestCache.forUser()
        options.trust = trust.trust
        guard let report = try? await NativePush.run(options), let receiver = report.receivers.first else {
            CommandRunner.printError("put \(file): the push could not run")
            return
        }
        trust.learn(provedKeys: [receiver.hostKey])
        switch receiver.status {
        case .completed: CommandRunner.printLine("\(file) -> \(spoolName) (\(report.bytes) bytes)")
        case .failed(let reason): CommandRunner.printError("put \(file): \(reason)")
        }
    }

    private func change(
        _ request: FleetQueryClient.Request, _ target: (name: String, address: SocketAddress), trust: inout TrustContext,
        deadline: Duration
    ) async {
        let outcome = try? await FleetQueryRunner.run(request, targets: [target], trust: trust.trust, giveUpAfter: deadline)
        trust.learn(provedKeys: outcome?.hostKeys ?? [])
        switch outcome?.answers.first {
        case .result(let result)? where result.status == .done: CommandRunner.printLine(result.text)
        case .result(let result)?: CommandRunner.printError("\(result.status): \(result.explanation)")
        case .unauthenticated(let reason)?: CommandRunner.printError(reason)
        default: CommandRunner.printError("no answer from \(target.name)")
        }
    }

    private static func prompt(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
    }

    /// Ctrl-C leaves at once: a new line, status 130. A file being fetched then leaves at
    /// most a hidden temporary file beside its destination, never a half-written final name.
    private static func leaveOnInterrupt() -> any DispatchSourceSignal {
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: DispatchQueue(label: "p2mpsend.shell.signals"))
        source.setEventHandler {
            CommandRunner.printLine("")
            Glibc.exit(130)
        }
        source.resume()
        return source
    }
}
