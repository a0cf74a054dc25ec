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
        let bindings = Endpoint.wildcardBindings(reaching: options.targets.map(\.address))
        return try await DatagramRunner.run(bindingTo: bindings, on: MultiThreadedEventLoopGroup.singleton.next()) {
            try ClassicPushApplication(options: options, output: output)
        }
    }
}

final class ClassicPushApplication: DatagramApplication {
    typealias Outcome = PushReport

    private let options: ClassicPush.Options
    private let output: @Sendable (String) -> Void
    private var sender: ClassicSender
    private let receiverIndex: [SocketAddress: Int]
    private var finishedAt: [Instant?]
    private var startedAt = Instant.zero

    init(options: ClassicPush.Options, output: @escaping @Sendable (String) -> Void) throws {
        self.options = options
        self.output = output
        self.sender = try ClassicSender(
            byteCount: options.source.byteCount, segmentSize: options.segmentSize, receiverCount: options.targets.count,
            configuration: options.sender)
        self.receiverIndex = Dictionary(
            uniqueKeysWithValues: options.targets.enumerated().map { ($0.element.address, $0.offset) })
        self.finishedAt = Array(repeating: nil, count: options.targets.count)
    }

    func start(io: DatagramIO<Outcome>) {
        startedAt = io.now
        sender.start(now: startedAt)
        drain(io, now: startedAt)
    }

    func receive(_ datagram: ByteBuffer, from address: SocketAddress, io: DatagramIO<Outcome>) {
        guard let receiver = receiverIndex[address] else { return }
        let now = io.now
        datagram.withUnsafeReadableBytes { sender.handle($0, from: receiver, now: now) }
        drain(io, now: now)
    }

    func timerFired(io: DatagramIO<Outcome>) {
        let now = io.now
        sender.handleTimeout(now: now)
        drain(io, now: now)
    }

    /// Carries out what the sender asks for (file bytes, lines to print, datagrams) until
    /// it has nothing more, then arms the timer or finishes.
    private func drain(_ io: DatagramIO<Outcome>, now: Instant) {
        repeat {
            guard takeEvents(io, now: now) else { return }
            while let next = sender.peekTransmit() {
                io.send(maximumSize: next.size, to: options.targets[next.receiver].address) {
                    sender.pollTransmit(into: $0)?.size ?? 0
                }
            }
        } while sender.hasEvents  // A segment waits for payload the sender just asked for.
        if sender.isFinished {
            io.finish(report(now: now))
        } else {
            io.setTimer(sender.nextTimeout)
        }
    }

    /// Carries out the sender's events; false when the run failed (the file cannot be read).
    private func takeEvents(_ io: DatagramIO<Outcome>, now: Instant) -> Bool {
        while let event = sender.pollEvent() {
            switch event {
            case .payloadNeeded(let block):
                do {
                    try sender.supplyPayload(block) { try options.source.read(offset: block.offset, into: $0) }
                } catch {
                    io.fail(error)
                    return false
                }
            case .timedOut(_, let sequence):
                output("Timeout, sequence number = \(sequence)")
            case .completed(let receiver), .failed(let receiver, _):
                finishedAt[receiver] = now
            }
        }
        return true
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
        return PushReport(bytes: sender.byteCount, elapsed: now.duration(since: startedAt), receivers: receivers)
    }
}
