import ArgumentParser
import NIOCore
import P2MPClient
import P2MPSpool
import P2MPCommandLine
import P2MPProtocol
import P2MPTransport
import P2MPWire

#if canImport(Glibc)
import Glibc
#endif

/// Options every fleet query shares.
struct QueryOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: ArgumentHelp("Port for targets given without one.", valueName: "port"))
    var port = Endpoint.defaultPort

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Seconds a receiver may stay silent (requests are repeated meanwhile) before it counts as down.",
            valueName: "seconds"))
    var timeout = 5.0

    @OptionGroup var trust: TrustOptions

    var giveUpAfter: Duration {
        get throws {
            try CommandLineSeconds.duration(timeout, flag: "--timeout", limit: 3_600)
        }
    }
}

/// `p2mpsend ls TARGET...`: what each receiver's spool holds.
struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List the files in receivers' spools.",
        discussion: """
            With one TARGET: its files with size, SHA-256 (its first 16 digits; all 64 with \
            --long) and time. With several: one merged table saying which host holds which \
            version of each name; a host that does not answer is listed as down. --json \
            prints one document instead (docs/ls-report.schema.json): per host its files \
            with size, full SHA-256 and time, or why it has none (down, refused). Exit \
            status: 0 every host answered, 1 some did not, 2 bad input, 3 none did.
            """)

    @Argument(help: ArgumentHelp("Receivers: HOST, HOST:PORT or [IPV6]:PORT.", valueName: "target"))
    var targets: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("A file of targets, one per line.", valueName: "file"))
    var fleet: String?

    @Flag(help: "Print one JSON document (docs/ls-report.schema.json) instead of the table.")
    var json = false

    @Flag(help: "Show each SHA-256 in full (64 hex digits) instead of its first 16.")
    var long = false

    @OptionGroup var options: QueryOptions

    func run() async throws {
        guard !targets.isEmpty || fleet != nil else { throw UsageError("expected at least one TARGET, or --fleet") }
        if json && long { throw UsageError("--long is for the table; --json always carries full digests") }
        let resolved = try Targets.resolve(targets, fleet: fleet, defaultPort: options.port)
        var trust = try options.trust.trust(for: resolved, defaultPort: options.port)
        let outcome = try await FleetQueryRunner.run(
            .list, targets: resolved.map(\.endpoint), trust: trust.trust, giveUpAfter: try options.giveUpAfter)
        trust.learn(provedKeys: outcome.hostKeys)
        let answers = outcome.answers
        if json {
            CommandRunner.printLine(
                ListingReport.jsonDocument(targets: resolved.map(\.endpoint), answers: answers, timeout: options.timeout))
        } else {
            printTable(targets: resolved, answers: answers)
        }
        let listed = answers.count { if case .listing = $0 { true } else { false } }
        let unanswered = answers.count { if case .noAnswer = $0 { true } else { false } }
        if listed == 0 { throw CommandFailure(unanswered == answers.count ? .unreachable : .failure) }
        if listed < answers.count { throw CommandFailure(.failure) }
    }

    /// The table on standard output, then the down hosts; refusals on standard error.
    private func printTable(targets: [Target], answers: [FleetQueryClient.Answer]) {
        var listings: [(host: String, entries: [NativeListing.Entry])] = []
        var down: [String] = []
        var refusals: [String] = []
        for (target, answer) in zip(targets, answers) {
            switch answer {
            case .listing(let entries): listings.append((target.name, entries))
            case .result(let result): refusals.append("\(target.name): \(result.explanation)")
            case .unauthenticated(let reason): refusals.append("\(target.name): \(reason)")
            case .noAnswer: down.append(target.name)
            }
        }
        for line in Self.table(listings, hostCount: targets.count, digestDigits: long ? 64 : 16) {
            CommandRunner.printLine(line)
        }
        for host in down { CommandRunner.printLine("\(host)  down: no answer in \(options.timeout) s") }
        for refusal in refusals { CommandRunner.printError("p2mpsend: \(refusal)") }
    }

    /// One host: NAME SIZE SHA256 MODIFIED. Several: NAME SIZE SHA256 HOSTS, one row per
    /// version of a name. Digests are cut to their first `digestDigits` hex digits.
    static func table(
        _ listings: [(host: String, entries: [NativeListing.Entry])], hostCount: Int, digestDigits: Int = 16
    ) -> [String] {
        if listings.count == 1, hostCount == 1 {
            let rows = listings[0].entries.map { entry in
                [entry.name, "\(entry.size)", String("\(entry.sha256)".prefix(digestDigits)), timestamp(entry.modified)]
            }
            return columns(["NAME", "SIZE", "SHA256", "MODIFIED"], rows)
        }
        var versions: [String: (size: UInt64, hosts: [String])] = [:]
        var order: [String] = []
        for (host, entries) in listings {
            for entry in entries {
                let key = "\(entry.name)\u{0}\(entry.sha256)"
                if versions[key] == nil {
                    versions[key] = (entry.size, [])
                    order.append(key)
                }
                versions[key]!.hosts.append(host)
            }
        }
        let rows = order.sorted().map { key -> [String] in
            let parts = key.split(separator: "\u{0}", maxSplits: 1).map(String.init)
            let version = versions[key]!
            let hosts = version.hosts.count == hostCount ? "all \(hostCount)" : version.hosts.joined(separator: ",")
            return [parts[0], "\(version.size)", String(parts[1].prefix(digestDigits)), hosts]
        }
        return columns(["NAME", "SIZE", "SHA256", "HOSTS"], rows)
    }

    static func columns(_ header: [String], _ rows: [[String]]) -> [String] {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.indices.map { column in
                column == row.count - 1 ? row[column] : row[column].padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }

    static func timestamp(_ seconds: UInt64) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday)) \(two(parts.tm_hour)):\(two(parts.tm_min))Z"
    }
}

/// `p2mpsend mv TARGET OLD NEW`.
struct Move: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mv",
        abstract: "Rename a file in a receiver's spool (allowed by its manage_allow).",
        discussion: "Exit status: 0 renamed, 1 refused or failed, 2 bad input, 3 no answer.")

    @Argument(help: ArgumentHelp("The receiver.", valueName: "target")) var target: String
    @Argument(help: ArgumentHelp("The current name.", valueName: "old")) var old: String
    @Argument(help: ArgumentHelp("The new name.", valueName: "new")) var new: String
    @OptionGroup var options: QueryOptions

    func run() async throws {
        try await FleetChange.run(
            .move(from: try SpoolNameArgument.validated(old, as: "OLD"), to: try SpoolNameArgument.validated(new, as: "NEW")),
            target: target, options: options)
    }
}

/// `p2mpsend rm TARGET NAME`.
struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete a file from a receiver's spool (allowed by its manage_allow).",
        discussion: "Exit status: 0 removed, 1 refused or not found, 2 bad input, 3 no answer.")

    @Argument(help: ArgumentHelp("The receiver.", valueName: "target")) var target: String
    @Argument(help: ArgumentHelp("The file to delete.", valueName: "name")) var name: String
    @OptionGroup var options: QueryOptions

    func run() async throws {
        try await FleetChange.run(.remove(name: try SpoolNameArgument.validated(name, as: "NAME")), target: target, options: options)
    }
}

/// mv and rm: one request, one answer, printed.
enum FleetChange {
    static func run(_ request: FleetQueryClient.Request, target: String, options: QueryOptions) async throws {
        let resolved = try Targets.resolve([target], defaultPort: options.port)
        var trust = try options.trust.trust(for: resolved, defaultPort: options.port)
        let outcome = try await FleetQueryRunner.run(
            request, targets: resolved.map(\.endpoint), trust: trust.trust, giveUpAfter: try options.giveUpAfter)
        trust.learn(provedKeys: outcome.hostKeys)
        switch outcome.answers.first {
        case .result(let result)? where result.status == .done:
            CommandRunner.printLine("\(target): \(result.text)")
        case .result(let result)?:
            throw CommandFailure(.failure, "\(target): \(result.status): \(result.explanation)")
        case .listing?:
            throw CommandFailure(.failure, "\(target): unexpected answer")
        case .unauthenticated(let reason)?:
            throw CommandFailure(.failure, "\(target): \(reason)")
        case .noAnswer?, nil:
            throw CommandFailure(.unreachable, "\(target): no answer in \(options.timeout) s")
        }
    }
}

/// `p2mpsend get TARGET NAME... [-o PATH]`.
struct Get: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch files from a receiver's spool, reliably and concurrently.",
        discussion: """
            Each NAME is fetched over the native protocol (selective repeat, congestion control, \
            SHA-256 checked before the file is renamed into place). With one NAME, -o is the \
            file to write (default: the name's last component, here); with several, -o is a \
            directory. Exit status: 0 all fetched, 1 some failed, 2 bad input, 3 no answer.
            """)

    @Argument(help: ArgumentHelp("The receiver.", valueName: "target")) var target: String
    @Argument(help: ArgumentHelp("Names in its spool.", valueName: "name")) var names: [String] = []
    @Option(name: .shortAndLong, parsing: .unconditional, help: ArgumentHelp("Where to write.", valueName: "path"))
    var output: String?
    @OptionGroup var options: QueryOptions

    func run() async throws {
        guard !names.isEmpty else { throw UsageError("expected at least one NAME after TARGET") }
        let resolved = try Targets.resolve([target], defaultPort: options.port)
        var files: [(name: String, destination: String)] = []
        for name in names {
            _ = try SpoolNameArgument.validated(name, as: "NAME")
            let leaf = String(name.split(separator: "/").last ?? Substring(name))
            let destination: String
            if names.count == 1 {
                destination = output ?? leaf
            } else {
                destination = (output.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? "") + leaf
            }
            if let problem = AtomicFileWriter.destinationProblem(destination) {
                throw UsageError("cannot write '\(destination)': \(problem)")
            }
            files.append((name, destination))
        }
        var trust = try options.trust.trust(for: resolved, defaultPort: options.port)
        let outcome = try await FetchRunner.run(
            files, from: resolved[0].address, trust: trust.trust, giveUpAfter: try options.giveUpAfter)
        trust.learn(provedKeys: [outcome.hostKey])
        let results = outcome.results
        var failures = 0
        var unanswered = 0
        for (file, result) in zip(files, results) {
            switch result {
            case .fetched(let bytes):
                CommandRunner.printLine("\(file.name) -> \(file.destination) (\(bytes) bytes, SHA-256 verified)")
            case .failed(let reason):
                failures += 1
                if reason.hasPrefix("no answer") { unanswered += 1 }
                CommandRunner.printError("p2mpsend: \(target): \(file.name): \(reason)")
            }
        }
        if unanswered == files.count { throw CommandFailure(.unreachable) }
        if failures > 0 { throw CommandFailure(.failure) }
    }
}
