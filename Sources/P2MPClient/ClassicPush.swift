import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPSpool
import P2MPTransport

/// The seed sender, `p2mpsend HOST... PORT FILE MSS`: Stop-and-Wait to a group.
public enum ClassicPush {
    public struct Options: Sendable {
        /// Receivers as the user named them (for messages) and as resolved.
        public var targets: [(name: String, address: SocketAddress)]
        public var source: FileSegmentSource
        public var segmentSize: Int
        public var sender: SenderConfiguration

        public init(
            targets: [(name: String, address: SocketAddress)], source: FileSegmentSource, segmentSize: Int,
            sender: SenderConfiguration
        ) {
            self.targets = targets
            self.source = source
            self.segmentSize = segmentSize
            self.sender = sender
        }
    }

    /// Sends `options.source` to every target; `output` gets each
    /// `Timeout, sequence number = Y` line.
    public static func run(_ options: Options, output: @escaping @Sendable (String) -> Void) async throws -> PushReport {
        let families = Dictionary(grouping: options.targets.map(\.address), by: { $0.protocol })
        let bindings = families.values.map { Endpoint.wildcard(like: $0[0]) }
        return try await DatagramRunner.run(bindingTo: bindings, on: MultiThreadedEventLoopGroup.singleton.next()) {
            try ClassicPushApplication(options: options, output: output)
        }
    }
}

final class ClassicPushApplication: DatagramApplication {
    typealias Outcome = PushReport

    private let options: ClassicPush.Options
    private let output: @Sendable (String) -> Void
    private var sender: ClassicSender<FileSegmentSource>
    private let receiverIndex: [SocketAddress: Int]
    private var outputs: [ClassicSender<FileSegmentSource>.Output] = []
    private var finishedAt: [Instant?]
    private var startedAt = Instant.zero
    private let fileSize: UInt64

    init(options: ClassicPush.Options, output: @escaping @Sendable (String) -> Void) throws {
        self.options = options
        self.output = output
        self.fileSize = options.source.byteCount
        self.sender = try ClassicSender(
            source: options.source, segmentSize: options.segmentSize, receiverCount: options.targets.count,
            configuration: options.sender)
        self.receiverIndex = Dictionary(
            uniqueKeysWithValues: options.targets.enumerated().map { ($0.element.address, $0.offset) })
        self.finishedAt = Array(repeating: nil, count: options.targets.count)
    }

    func start(io: DatagramIO<Outcome>) {
        startedAt = io.now
        step(io) { sender, now, outputs in try sender.start(now: now, into: &outputs) }
    }

    func receive(_ datagram: ByteBuffer, from address: SocketAddress, io: DatagramIO<Outcome>) {
        guard let receiver = receiverIndex[address] else { return }
        step(io) { sender, now, outputs in
            try datagram.withUnsafeReadableBytes { try sender.receive($0, from: receiver, now: now, into: &outputs) }
        }
    }

    func timerFired(io: DatagramIO<Outcome>) {
        step(io) { sender, now, outputs in try sender.handleTimer(now: now, into: &outputs) }
    }

    /// Runs one event through the sender and carries out what it asks for.
    private func step(
        _ io: DatagramIO<Outcome>,
        _ event: (inout ClassicSender<FileSegmentSource>, Instant, inout [ClassicSender<FileSegmentSource>.Output]) throws -> Void
    ) {
        let now = io.now
        do {
            try event(&sender, now, &outputs)
        } catch {
            io.fail(error)
            return
        }
        for output in outputs {
            switch output {
            case .datagram(let receiver, let bytes):
                io.send(bytes, to: options.targets[receiver].address)
            case .timedOut(_, let sequence):
                self.output("Timeout, sequence number = \(sequence)")
            case .completed(let receiver), .failed(let receiver, _):
                finishedAt[receiver] = now
            }
        }
        outputs.removeAll(keepingCapacity: true)
        if sender.isFinished {
            io.finish(report(now: now))
        } else {
            io.setTimer(sender.nextDeadline())
        }
    }

    private func report(now: Instant) -> PushReport {
        let receivers = options.targets.indices.map { index in
            let statistics = sender.engine.statistics(of: index)
            let status: ReceiverReport.Status
            switch sender.engine.state(of: index) {
            case .completed: status = .completed
            case .failed(.noProgress(let stalled)):
                status = .failed(reason: "no acknowledgement for \(stalled.formattedSeconds) s; gave up")
            case .pending, .active: status = .failed(reason: "transfer ended before it completed")
            }
            return ReceiverReport(
                target: options.targets[index].name, address: options.targets[index].address.displayString,
                status: status, elapsed: (finishedAt[index] ?? now).duration(since: startedAt),
                transmissions: statistics.transmissions, retransmissions: statistics.retransmissions,
                timeouts: statistics.timeouts, smoothedRTT: statistics.smoothedRTT)
        }
        return PushReport(bytes: fileSize, elapsed: now.duration(since: startedAt), receivers: receivers)
    }
}
