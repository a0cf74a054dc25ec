import ArgumentParser
import P2MPClient
import P2MPCommandLine

/// `p2mpsend status TARGET...`: what each daemon is doing.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show what receivers are doing: transfers, recent outcomes, spool usage.",
        discussion: """
            For each TARGET: the daemon's version and uptime, its spool (bytes and files \
            used, bytes free, partial files), its totals since it started, the pushes it is \
            receiving (file, sender, progress, rate) and the last transfers that ended \
            (completed or failed, with why). A host that does not answer is shown as down. \
            --json prints one document instead (docs/status-report.schema.json). Needs the \
            'read' right, as ls does. Exit status: 0 every host answered, 1 some did not or \
            refused, 2 bad input, 3 none did.
            """)

    @Argument(help: ArgumentHelp("Receivers: HOST, HOST:PORT or [IPV6]:PORT.", valueName: "target"))
    var targets: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("A file of targets, one per line.", valueName: "file"))
    var fleet: String?

    @Flag(help: "Print one JSON document (docs/status-report.schema.json) instead of the lines.")
    var json = false

    @OptionGroup var options: QueryOptions

    func run() async throws {
        guard !targets.isEmpty || fleet != nil else { throw UsageError("expected at least one TARGET, or --fleet") }
        let resolved = try Targets.resolve(targets, fleet: fleet, defaultPort: options.port)
        var trust = try options.trust.trust(for: resolved, defaultPort: options.port)
        let outcome = try await FleetQueryRunner.run(
            .status, targets: resolved.map(\.endpoint), trust: trust.trust, giveUpAfter: try options.giveUpAfter)
        trust.learn(provedKeys: outcome.hostKeys)
        let answers = outcome.answers
        if json {
            CommandRunner.printLine(
                StatusReport.jsonDocument(targets: resolved.map(\.endpoint), answers: answers, timeout: options.timeout))
        } else {
            for (target, answer) in zip(resolved, answers) {
                for line in StatusReport.lines(target: target.name, answer: answer, timeout: options.timeout) {
                    CommandRunner.printLine(line)
                }
            }
        }
        let up = answers.count { if case .status = $0 { true } else { false } }
        let unanswered = answers.count { if case .noAnswer = $0 { true } else { false } }
        if up == 0 { throw CommandFailure(unanswered == answers.count ? .unreachable : .failure) }
        if up < answers.count { throw CommandFailure(.failure) }
    }
}
