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
            ClassicReceiver<Int>(loss: SimulatedLoss(probability: scenario.receiverLoss, seed: scenario.seed &+ UInt64(index)))
        }
        var received = Array(repeating: [UInt8](), count: scenario.receiverCount)
        // The scenario's segment sizes are valid by construction.
        var sender = try! ClassicSender(
            byteCount: UInt64(scenario.file.count), segmentSize: scenario.segmentSize,
            receiverCount: scenario.receiverCount, configuration: scenario.sender)
        var buffer = [UInt8](repeating: 0, count: ClassicPacket.headerSize + ClassicPacket.maximumPayload)
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

        /// Drains the sender: its events (payload asked for is handed in at once, from the
        /// file in memory), then its datagrams, until both are empty.
        func drainSender() {
            while true {
                while let event = sender.pollEvent() {
                    trace?("\(now) sender \(event)")
                    switch event {
                    case .payloadNeeded(let block):
                        let start = Int(block.offset)
                        sender.supplyPayload(block) { destination in
                            scenario.file.withUnsafeBytes {
                                destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[start..<start + block.length]))
                            }
                        }
                    case .timedOut:
                        timeouts += 1
                    case .completed, .failed:
                        break
                    }
                }
                guard let transmit = buffer.withUnsafeMutableBytes({ sender.pollTransmit(into: $0) }) else { break }
                trace?("\(now) sender sends \(transmit.size) bytes to \(transmit.receiver)")
                network.send(
                    Array(buffer[0..<transmit.size]), from: senderNode, to: transmit.receiver, now: now,
                    conditions: conditions(for: transmit.receiver))
            }
        }

        /// Drains receiver `index` after a datagram: its event, then its ACK.
        func drainReceiver(_ index: Int, datagram: [UInt8]) {
            while let event = receivers[index].pollEvent() {
                trace?("\(now) receiver \(index) \(event)")
                switch event {
                case .accepted(let payload, _, _):
                    received[index].append(contentsOf: datagram[payload])
                case .discarded:
                    losses += 1
                case .reacknowledged, .ignored:
                    break
                }
            }
            while let transmit = buffer.withUnsafeMutableBytes({ receivers[index].pollTransmit(into: $0) }) {
                // The classic ACK has no checksum; on a real network UDP's checksum guards it.
                network.send(
                    Array(buffer[0..<transmit.size]), from: index, to: senderNode, now: now,
                    conditions: conditions(for: index), mayCorrupt: false)
            }
        }

        var stalledStep: String?
        sender.start(now: now)
        drainSender()
        while !sender.isFinished, stalledStep == nil {
            guard let next = Instant.earliest(sender.nextTimeout, network.nextDeliveryTime), next <= deadline else { break }
            now = next
            events += 1
            if let delivery = network.nextDeliveryTime, delivery == next, let datagram = network.popDelivery() {
                if datagram.to == senderNode {
                    trace?("\(now) sender got \(datagram.bytes) from \(datagram.from)")
                    datagram.bytes.withUnsafeBytes { sender.handle($0, from: datagram.from, now: now) }
                } else {
                    let receiver = datagram.to
                    datagram.bytes.withUnsafeBytes { receivers[receiver].handle($0, from: datagram.from, now: now) }
                    drainReceiver(receiver, datagram: datagram.bytes)
                }
            } else {
                sender.handleTimeout(now: now)
            }
            drainSender()
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
