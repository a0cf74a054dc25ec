import ArgumentParser
import NIOCore
import P2MPClient
import P2MPCommandLine
import P2MPProtocol
import P2MPSpool
import P2MPTransport
import P2MPWire

@main
struct P2MPSend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "p2mpsend",
        abstract: "The p2mp sender.",
        usage: """
            p2mpsend push FILE TARGET... [--json] [--rate RATE] [--name NAME] [options]
              p2mpsend HOST... PORT FILE MSS [--timeout SECONDS] [--give-up SECONDS]
            """,
        discussion: """
            `p2mpsend push` is the main job: see `p2mpsend push --help`.

            The seed form sends FILE over the classic P2MP-FTP protocol (Stop-and-Wait) to every \
            HOST on UDP PORT, in segments of MSS data bytes, printing \
            "Timeout, sequence number = Y" for each retransmission timeout. Exit status: 0 \
            when every receiver has the whole file, 1 when some receiver failed, 2 for bad input.
            """,
        version: P2MPVersion.string,
        subcommands: [Push.self, List.self, Get.self, Move.self, Remove.self, Shell.self, Keygen.self, SeedSend.self],
        defaultSubcommand: SeedSend.self)

    static func main() async {
        await CommandRunner.main(self)
    }
}

/// The seed form, `p2mpsend HOST... PORT FILE MSS`: Stop-and-Wait over the classic format.
/// It is the default subcommand, so it runs without a verb.
struct SeedSend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Send a file with the seed's Stop-and-Wait protocol (the default without a verb).",
        usage: "p2mpsend HOST... PORT FILE MSS [--timeout SECONDS] [--give-up SECONDS]")

    @Argument(parsing: .allUnrecognized, help: "HOST... PORT FILE MSS")
    var operands: [String] = []

    @Option(parsing: .unconditional, help: ArgumentHelp("Fixed retransmission timeout (default: adaptive, RFC 6298).", valueName: "seconds"))
    var timeout: Double?

    @Option(
        name: .customLong("give-up"), parsing: .unconditional,
        help: ArgumentHelp("Give up on a receiver whose ACKs have not advanced for this long.", valueName: "seconds"))
    var giveUp = 10.0

    func run() async throws {
        let options = try seedOptions()
        let report = try await ClassicPush.run(options) { CommandRunner.printLine($0) }
        CommandRunner.printLine(report.summary)
        let failed = report.receivers.filter { $0.status != .completed }
        for receiver in failed {
            if case .failed(let reason) = receiver.status {
                CommandRunner.printError("p2mpsend: receiver \(receiver.target) (\(receiver.address)) failed: \(reason)")
            }
        }
        if !failed.isEmpty { throw CommandFailure(.failure) }
    }

    private func seedOptions() throws -> ClassicPush.Options {
        if let option = operands.first(where: { $0.hasPrefix("--") }) {
            throw UsageError("unknown option '\(option)'")
        }
        guard operands.count >= 4 else {
            throw UsageError("expected HOST... PORT FILE MSS (at least 4 arguments), got \(operands.count)")
        }
        let hosts = operands.dropLast(3)
        let (portText, path, mssText) = (operands[operands.count - 3], operands[operands.count - 2], operands[operands.count - 1])
        guard let port = Endpoint.parsePort(portText) else {
            throw UsageError("PORT '\(portText)' is not a port number (expected an integer in 1-65535)")
        }
        guard let segmentSize = Int(mssText), (1...ClassicPacket.maximumPayload).contains(segmentSize) else {
            throw UsageError(
                "MSS '\(mssText)' is not a segment size (expected an integer in 1-\(ClassicPacket.maximumPayload), what fits one UDP datagram)")
        }
        let source: FileSegmentSource
        do {
            source = try FileSegmentSource(path: path)
        } catch {
            throw UsageError("FILE '\(path)' cannot be sent: \(error)")
        }
        var targets: [(name: String, address: SocketAddress)] = []
        for host in hosts {
            guard let address = Endpoint.resolve(host: host, port: port) else {
                throw UsageError("HOST '\(host)' does not resolve to an address")
            }
            if let twin = targets.first(where: { $0.address == address }) {
                throw UsageError("HOST '\(host)' is the same receiver as '\(twin.name)' (\(address.displayString))")
            }
            targets.append((host, address))
        }
        let retransmission: RetransmissionTimeout
        if let timeout {
            retransmission = .fixed(try CommandLineSeconds.duration(timeout, flag: "--timeout", limit: 3_600))
        } else {
            retransmission = .adaptive(.standard)
        }
        let giveUpAfter = try CommandLineSeconds.duration(giveUp, flag: "--give-up")
        return ClassicPush.Options(
            targets: targets, source: source, segmentSize: segmentSize,
            sender: SenderConfiguration(
                window: 1, groupPolicy: .lockstep, retransmissionTimeout: retransmission,
                giveUpAfter: giveUpAfter))
    }
}
