import NIOCore
import NIOPosix
import P2MPProtocol
import P2MPSpool
import P2MPTransport
import P2MPWire

/// The seed receiver, `p2mpd PORT FILE P`: receives one file with simulated loss.
public enum ClassicReceive {
    public struct Options: Sendable {
        public var bindAddress: SocketAddress
        public var outputPath: String
        public var lossProbability: Double
        /// How long to keep re-acknowledging after the file is complete, measured from the
        /// last datagram, so a lost final ACK is repaired before exiting.
        public var linger: Duration
        /// Seeds the simulated loss, so a run can be repeated exactly; random when nil.
        public var lossSeed: UInt64?

        public init(
            bindAddress: SocketAddress, outputPath: String, lossProbability: Double, linger: Duration, lossSeed: UInt64? = nil
        ) {
            self.bindAddress = bindAddress
            self.outputPath = outputPath
            self.lossProbability = lossProbability
            self.linger = linger
            self.lossSeed = lossSeed
        }
    }

    public struct Report: Sendable {
        public var bytes: UInt64
        public var sender: SocketAddress?
        public var discardedPackets: Int
        /// From the first accepted segment to the commit.
        public var elapsed: Duration
    }

    /// Receives one file into `options.outputPath`; `output` gets each
    /// `Packet loss, sequence number = X` line.
    public static func run(
        _ options: Options, output: @escaping @Sendable (String) -> Void
    ) async throws -> Report {
        try await DatagramRunner.run(
            bindingTo: [options.bindAddress], on: MultiThreadedEventLoopGroup.singleton.next()
        ) {
            try ClassicReceiveApplication(options: options, output: output)
        }
    }
}

final class ClassicReceiveApplication: DatagramApplication {
    typealias Outcome = ClassicReceive.Report

    private let options: ClassicReceive.Options
    private let output: @Sendable (String) -> Void
    private var receiver: ClassicReceiver<SocketAddress>
    private let writer: AtomicFileWriter
    private var discarded = 0
    private var startedAt: Instant?
    private var completedAt: Instant?
    private var lastHeard = Instant.zero

    init(options: ClassicReceive.Options, output: @escaping @Sendable (String) -> Void) throws {
        self.options = options
        self.output = output
        self.receiver = ClassicReceiver(
            loss: SimulatedLoss(probability: options.lossProbability, seed: options.lossSeed ?? .random(in: .min ... .max)))
        self.writer = try AtomicFileWriter(destination: options.outputPath)
    }

    func start(io: DatagramIO<Outcome>) {}

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        let now = io.now
        var heardSender = false
        do {
            try datagram.withUnsafeReadableBytes { bytes in
                receiver.handle(bytes, from: sender, now: now)
                while let event = receiver.pollEvent() {
                    switch event {
                    case .discarded(let sequence):
                        discarded += 1
                        heardSender = true
                        output("Packet loss, sequence number = \(sequence)")
                    case .accepted(let payload, let sequence, let completesFile):
                        try writer.append(UnsafeRawBufferPointer(rebasing: bytes[payload]))
                        if completesFile { try writer.commit() }
                        if sequence == 0 { startedAt = now }
                        if completesFile { completedAt = now }
                        heardSender = true
                    case .reacknowledged:
                        heardSender = true
                    case .ignored:
                        break
                    }
                }
            }
        } catch {
            io.fail(error)
            return
        }
        while let next = receiver.peekTransmit() {
            io.send(maximumSize: next.size, to: next.peer) { receiver.pollTransmit(into: $0)?.size ?? 0 }
        }
        if heardSender, completedAt != nil {
            lastHeard = now
            io.setTimer(now + options.linger)
        }
    }

    func timerFired(io: DatagramIO<Outcome>) {
        guard let completedAt else { return }
        let quietUntil = lastHeard + options.linger
        guard io.now >= quietUntil else {
            io.setTimer(quietUntil)
            return
        }
        io.finish(
            ClassicReceive.Report(
                bytes: receiver.bytesAccepted, sender: receiver.peer, discardedPackets: discarded,
                elapsed: completedAt.duration(since: startedAt ?? completedAt)))
    }
}
