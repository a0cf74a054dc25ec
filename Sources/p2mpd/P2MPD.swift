import ArgumentParser
import P2MPCommandLine
import P2MPDaemon
import P2MPProtocol
import P2MPSpool
import P2MPTransport

@main
struct P2MPD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2mpd",
        abstract: "The p2mp receiver.",
        usage: "p2mpd PORT FILE P [--bind ADDRESS] [--linger SECONDS]",
        discussion: """
            Seed mode receives one file over the classic P2MP-FTP protocol on UDP PORT into \
            FILE, discarding each arriving data packet with probability P (simulated loss) and \
            printing "Packet loss, sequence number = X" for it. It exits 0 once the file is \
            complete and no datagram arrived for the linger time.
            """,
        version: P2MPVersion.string)

    @Argument(parsing: .allUnrecognized, help: "PORT FILE P")
    var operands: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("Local IP address to listen on.", valueName: "address"))
    var bind = "0.0.0.0"

    @Option(parsing: .unconditional, help: ArgumentHelp("Seconds to keep re-acknowledging after the file is complete.", valueName: "seconds"))
    var linger = 2.0

    static func main() async {
        await CommandRunner.main(self)
    }

    func run() async throws {
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
            throw UsageError("expected PORT FILE P (3 arguments), got \(operands.count)")
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
        guard let address = Endpoint.bindAddress(bind, port: port) else {
            throw UsageError("--bind '\(bind)' is not an IP address")
        }
        guard linger.isFinite, linger > 0 else {
            throw UsageError("--linger '\(linger)' is not a positive number of seconds")
        }
        return ClassicReceive.Options(
            bindAddress: address, outputPath: path, lossProbability: probability,
            linger: .milliseconds(Int64(linger * 1000)))
    }
}
