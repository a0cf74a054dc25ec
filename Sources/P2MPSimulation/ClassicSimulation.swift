import P2MPProtocol
import P2MPWire

/// Runs a `ClassicScenario`: the real `ClassicSender` and `ClassicReceiver`s exchange
/// datagrams through a `SimulatedNetwork` on a virtual clock.
public enum ClassicSimulation {
    public struct ReceiverResult: Sendable {
        public var bytes: [UInt8]
        public var isComplete: Bool
        public var senderState: SenderEngine.ReceiverState
        public var statistics: SenderEngine.ReceiverStatistics
    }

    public struct Result: Sendable {
        public var scenario: ClassicScenario
        public var receivers: [ReceiverResult]
        /// Virtual time from start to the last event.
        public var elapsed: Duration
        public var events: Int
        /// Lines printed as the seed programs would (`Timeout, …`, `Packet loss, …`).
        public var timeouts: Int
        public var simulatedLosses: Int
        /// The first step after which the sender had an unfinished receiver without a
        /// deadline (nothing could ever end it); the run stops there.
        public var stalledStep: String?

        /// Every broken promise of the protocol; empty when the run was correct.
        public var violations: [String] {
            var found: [String] = stalledStep.map { [$0] } ?? []
            for (index, receiver) in receivers.enumerated() {
                let file = scenario.file
                if !file.starts(with: receiver.bytes) {
                    found.append("receiver \(index) holds bytes that are not a prefix of the file")
                }
                if receiver.isComplete, receiver.bytes != file {
                    found.append("receiver \(index) completed with \(receiver.bytes.count) of \(file.count) bytes")
                }
                switch receiver.senderState {
                case .completed:
                    if !receiver.isComplete || receiver.bytes != file {
                        found.append("sender counts receiver \(index) complete but it is not")
                    }
                case .failed(let reason):
                    if !scenario.silentReceivers.contains(index) {
                        found.append("receiver \(index) failed: \(reason)")
                    }
                case .pending, .active:
                    found.append("receiver \(index) still active when the run ended")
                }
                if scenario.silentReceivers.contains(index), receiver.senderState == .active {
                    found.append("silent receiver \(index) was never given up on")
                }
            }
            return found
        }
    }

    static let senderNode = -1

    /// Runs `scenario`; `trace`, when given, receives one line per event, for replays.
    public static func run(_ scenario: ClassicScenario, trace: ((String) -> Void)? = nil) -> Result {
        var network = SimulatedNetwork(random: SeededRandom(seed: scenario.seed ^ 0x5EED_0F_AB1E))
        var receivers = (0..<scenario.receiverCount).map { index in
            ClassicReceiver<Int, SeededRandom>(
                loss: SimulatedLoss(
                    probability: scenario.receiverLoss, random: SeededRandom(seed: scenario.seed &+ UInt64(index))))
        }
        var received = Array(repeating: [UInt8](), count: scenario.receiverCount)
        var sender = try! ClassicSender(
            source: ByteArraySource(scenario.file), segmentSize: scenario.segmentSize,
            receiverCount: scenario.receiverCount, configuration: scenario.sender)
        var outputs: [ClassicSender<ByteArraySource>.Output] = []
        var now = Instant.zero
        var events = 0
        var timeouts = 0
        var losses = 0
        let deadline = Instant.zero + scenario.timeLimit

        func conditions(for receiver: Int) -> NetworkConditions {
            var conditions = scenario.conditions
            if scenario.silentReceivers.contains(receiver) { conditions.loss = 1 }
            return conditions
        }

        func dispatch(_ outputs: inout [ClassicSender<ByteArraySource>.Output]) {
            for output in outputs {
                trace?("\(now) sender \(output)")
                switch output {
                case .datagram(let receiver, let bytes):
                    network.send(bytes, from: senderNode, to: receiver, now: now, conditions: conditions(for: receiver))
                case .timedOut:
                    timeouts += 1
                case .completed, .failed:
                    break
                }
            }
            outputs.removeAll(keepingCapacity: true)
        }

        var stalledStep: String?
        try! sender.start(now: now, into: &outputs)
        dispatch(&outputs)
        while !sender.isFinished, stalledStep == nil {
            let timer = sender.nextDeadline()
            let delivery = network.nextDeliveryTime
            guard let next = [timer, delivery].compactMap({ $0 }).min(), next <= deadline else { break }
            now = next
            events += 1
            if let delivery, delivery == next, let datagram = network.popDelivery() {
                if datagram.to == senderNode {
                    trace?("\(now) sender got \(datagram.bytes) from \(datagram.from)")
                    datagram.bytes.withUnsafeBytes { bytes in
                        try! sender.receive(bytes, from: datagram.from, now: now, into: &outputs)
                    }
                } else {
                    let receiver = datagram.to
                    let output = datagram.bytes.withUnsafeBytes { bytes in
                        receivers[receiver].receive(bytes, from: datagram.from)
                    }
                    trace?("\(now) receiver \(receiver) \(output)")
                    switch output {
                    case .accepted(let payload, let sequence, _):
                        received[receiver].append(contentsOf: datagram.bytes[payload])
                        acknowledge(sequence, from: receiver)
                    case .reacknowledged(let sequence):
                        acknowledge(sequence, from: receiver)
                    case .discarded:
                        losses += 1
                    case .ignored:
                        break
                    }
                }
            } else {
                try! sender.handleTimer(now: now, into: &outputs)
            }
            dispatch(&outputs)
            for receiver in 0..<scenario.receiverCount where sender.engine.deadline(of: receiver) == nil {
                switch sender.engine.state(of: receiver) {
                case .pending, .active:
                    stalledStep = "step \(events) at \(now): the sender has no deadline for unfinished receiver \(receiver)"
                case .completed, .failed:
                    continue
                }
                break
            }
        }

        func acknowledge(_ sequence: UInt32, from receiver: Int) {
            // The classic ACK has no checksum; on a real network UDP's checksum guards it.
            network.send(
                ClassicPacket.encodeAck(sequence: sequence), from: receiver, to: senderNode, now: now,
                conditions: conditions(for: receiver), mayCorrupt: false)
        }

        let results = (0..<scenario.receiverCount).map { index in
            ReceiverResult(
                bytes: received[index], isComplete: receivers[index].isComplete,
                senderState: sender.engine.state(of: index), statistics: sender.engine.statistics(of: index))
        }
        return Result(
            scenario: scenario, receivers: results, elapsed: now.duration(since: .zero), events: events,
            timeouts: timeouts, simulatedLosses: losses, stalledStep: stalledStep)
    }
}
