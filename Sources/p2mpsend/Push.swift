import ArgumentParser
import NIOCore
import P2MPClient
import P2MPCommandLine
import P2MPProtocol
import P2MPSpool
import P2MPTransport
import P2MPWire

/// `p2mpsend push FILE TARGET...`: the native protocol.
struct Push: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Push a file to receivers (p2mpd) over the native protocol.",
        discussion: """
            Each TARGET is HOST, HOST:PORT or [IPV6]:PORT; --fleet adds the targets of a file, \
            one per line. On a terminal a live display shows the whole push (bytes, rate, ETA) \
            and each receiver (or counts, for more than 10). The file lands in each receiver's \
            spool under --name (default: the file's base name) once its SHA-256 matched. \
            Receivers are independent: a slow or silent one never holds back the others. \
            Exit status: 0 every receiver committed the file, 1 some failed, 2 bad input, \
            3 no receiver answered.
            """)

    @Argument(help: "The file to push.")
    var file: String

    @Argument(help: ArgumentHelp("Receivers: HOST, HOST:PORT or [IPV6]:PORT.", valueName: "target"))
    var targets: [String] = []

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("A file of targets, one per line ('#' comments, blank lines).", valueName: "file"))
    var fleet: String?

    @Flag(help: "No live progress display (it is drawn only on a terminal anyway).")
    var quiet = false

    @Option(parsing: .unconditional, help: ArgumentHelp("Name in the receivers' spool.", valueName: "name"))
    var name: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Port for targets given without one.", valueName: "port"))
    var port = Endpoint.defaultPort

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("Cap on the total send rate, bits per second with K, M or G (200M = 200 Mbit/s).", valueName: "rate"))
    var rate: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Payload bytes per datagram, 1-65000 (default: 1400, or up to 8944 on routes with a larger MTU).",
            valueName: "bytes"))
    var segmentSize: Int?

    @Option(parsing: .unconditional, help: ArgumentHelp("Most segments in flight per receiver.", valueName: "segments"))
    var window = 4_096

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "How each receiver's rate adapts: model (paced at the path's measured bottleneck rate, random loss does not "
                + "slow it down) or aimd (loss-based: every loss does, as in TCP Reno).",
            valueName: "controller"))
    var congestionControl = CongestionChoice.model

    @Option(
        name: .customLong("give-up"), parsing: .unconditional,
        help: ArgumentHelp("Fail a receiver silent for this long.", valueName: "seconds"))
    var giveUp = 30.0

    @Flag(help: "Replace a different file of the same name on the receivers.")
    var replace = false

    @Flag(help: "Print one JSON document (docs/push-report.schema.json) instead of the summary.")
    var json = false

    @Flag(help: "Read FILE to hash it even if the digest cache (~/.cache/p2mp/sha256) remembers it.")
    var rehash = false

    @OptionGroup var trustOptions: TrustOptions

    func run() async throws {
        var (options, trust) = try pushOptions()
        let report = try await NativePush.run(options)
        trust.learn(provedKeys: report.receivers.map(\.hostKey))
        if json {
            CommandRunner.printLine(report.jsonDocument(file: file, name: options.name))
        } else {
            CommandRunner.printLine(report.summary)
            for receiver in report.receivers {
                if case .failed(let reason) = receiver.status {
                    CommandRunner.printError("p2mpsend: receiver \(receiver.target) (\(receiver.address)) failed: \(reason)")
                }
            }
        }
        if report.noneReachable { throw CommandFailure(.unreachable) }
        if !report.allCompleted { throw CommandFailure(.failure) }
    }

    private func pushOptions() throws -> (NativePush.Options, TrustContext) {
        guard !targets.isEmpty || fleet != nil else { throw UsageError("expected at least one TARGET after FILE, or --fleet") }
        if let segmentSize, !(1...NativeDatagram.maximumPayload).contains(segmentSize) {
            throw UsageError("--segment-size '\(segmentSize)' is out of range (expected 1-\(NativeDatagram.maximumPayload))")
        }
        guard (1...65_536).contains(window) else {
            throw UsageError("--window '\(window)' is out of range (expected 1-65536)")
        }
        let giveUpAfter = try CommandLineSeconds.duration(giveUp, flag: "--give-up")
        let rateLimit = try rate.map { text in
            guard let bitsPerSecond = Self.parseRate(text), bitsPerSecond >= 8_000 else {
                throw UsageError("--rate '\(text)' is not a rate (expected bits per second, at least 8K, like 200M or 1.5G)")
            }
            return bitsPerSecond / 8
        }
        let source: FileSegmentSource
        do {
            source = try FileSegmentSource(path: file)
        } catch {
            throw UsageError("FILE '\(file)' cannot be sent: \(error)")
        }
        let name = try SpoolNameArgument.validated(
            self.name ?? String(file.split(separator: "/").last ?? Substring(file)), as: "--name")
        let resolved = try Targets.resolve(targets, fleet: fleet, defaultPort: port)
        let trust = try trustOptions.trust(for: resolved, defaultPort: port)
        let largest = NativeDatagram.maximumPayload - trust.trust.overhead
        if let segmentSize, segmentSize > largest {
            throw UsageError("--segment-size '\(segmentSize)' is out of range (expected 1-\(largest) when authenticated)")
        }
        var options = NativePush.Options(
            targets: resolved.map(\.endpoint), source: source, name: name,
            segmentSize: segmentSize ?? SegmentSize.automatic(toward: resolved.map(\.address)) - trust.trust.overhead,
            window: window, rateLimit: rateLimit, giveUpAfter: giveUpAfter, replaceExisting: replace)
        options.congestionControl = congestionControl.control
        options.showsProgress = !quiet && !json
        options.digestCache = DigestCache.forUser()
        options.rehash = rehash
        options.trust = trust.trust
        return (options, trust)
    }

    /// "200M" → 200,000,000 bits per second; plain numbers are bits per second.
    static func parseRate(_ text: String) -> UInt64? {
        let multipliers: [Character: Double] = ["K": 1e3, "k": 1e3, "M": 1e6, "G": 1e9]
        var digits = Substring(text)
        var multiplier = 1.0
        if let last = digits.last, let scale = multipliers[last] {
            multiplier = scale
            digits = digits.dropLast()
        }
        guard let value = Double(digits), value.isFinite, value > 0 else { return nil }
        let bits = value * multiplier
        return bits < 1e15 ? UInt64(bits) : nil
    }
}

/// The values of `--congestion-control`.
enum CongestionChoice: String, ExpressibleByArgument, CaseIterable {
    case model, aimd

    var control: CongestionControl {
        switch self {
        case .model: .modelBased
        case .aimd: .aimd
        }
    }
}
