import P2MPProtocol
import P2MPWire

/// Runs a `NativeScenario`: the real `NativeSender` and `NativeReceiverEndpoint`s exchange
/// datagrams through a `SimulatedNetwork`, each receiver with an in-memory disk that
/// survives its restarts (a partial file and the prefix recorded for resume).
public enum NativeSimulation {
    public struct ReceiverResult: Sendable {
        /// What the receiver committed under the final name, if anything.
        public var committed: [UInt8]?
        public var outcome: NativeSender<ByteArraySource>.Outcome?
        public var restarts: Int
    }

    public struct Result: Sendable {
        public var scenario: NativeScenario
        public var receivers: [ReceiverResult]
        public var elapsed: Duration
        public var events: Int
        public var timeouts: Int
        public var detectedLosses: Int
        /// The first step after which a machine was left waiting for nothing: a receiver
        /// with neither an outcome nor a deadline at the sender, or a receiver session no
        /// timer would visit. The run stops there.
        public var stalledStep: String?

        /// Every broken promise; empty when the run was correct.
        public var violations: [String] {
            var found: [String] = stalledStep.map { [$0] } ?? []
            for (index, receiver) in receivers.enumerated() {
                if let committed = receiver.committed, committed != scenario.file {
                    found.append("receiver \(index) committed \(committed.count) wrong bytes under the final name")
                }
                switch receiver.outcome {
                case .committed?:
                    if receiver.committed != scenario.file {
                        found.append("sender counts receiver \(index) committed but it holds no correct file")
                    }
                case .noAnswer(let phase, _)?:
                    if scenario.vanishing[index] == nil {
                        found.append("receiver \(index) reported silent in phase \(phase) although it never vanished")
                    }
                case let other?:
                    found.append("receiver \(index) ended \(other)")
                case nil:
                    found.append("receiver \(index) has no outcome when the run ended")
                }
            }
            return found
        }
    }

    /// A receiver's storage, as the daemon's spool would hold it.
    struct Disk {
        var partial: [UInt8]
        var recordedBytes: UInt64 = 0
        var committed: [UInt8]?
    }

    static let senderNode = -1
    typealias Endpoint = NativeReceiverEndpoint<Int, SeededRandom>

    public static func run(_ scenario: NativeScenario, trace: ((String) -> Void)? = nil) -> Result {
        var network = SimulatedNetwork(random: SeededRandom(seed: scenario.seed ^ 0xA11C_E5EE_D000_0001))
        let endpointConfiguration = Endpoint.Configuration(
            maximumSessions: 4, window: 1_024, idleTimeout: .seconds(120), linger: .seconds(120))
        func makeEndpoint(_ index: Int, generation: UInt64) -> Endpoint {
            Endpoint(
                configuration: endpointConfiguration,
                loss: SimulatedLoss(
                    probability: scenario.receiverLoss,
                    random: SeededRandom(seed: scenario.seed &+ UInt64(index) &* 7_919 &+ generation)))
        }
        var endpoints = (0..<scenario.receiverCount).map { makeEndpoint($0, generation: 0) }
        var disks = Array(repeating: Disk(partial: Array(repeating: 0, count: scenario.file.count)), count: scenario.receiverCount)
        var restarts = Array(repeating: 0, count: scenario.receiverCount)
        var pendingRestarts = scenario.restarting
        var digest = SHA256Digest.zero
        digest.words.0 = scenario.seed
        var sender = NativeSender(
            source: ByteArraySource(scenario.file), receiverCount: scenario.receiverCount,
            configuration: .init(
                transferID: scenario.seed | 1, name: "file.bin", sha256: digest, segmentSize: scenario.segmentSize,
                window: scenario.window, giveUpAfter: scenario.giveUpAfter, rateLimit: scenario.rateLimit))
        var senderOutputs: [NativeSender<ByteArraySource>.Output] = []
        var endpointOutputs: [Endpoint.Output] = []
        var now = Instant.zero
        var events = 0
        var timeouts = 0
        var losses = 0
        let deadline = Instant.zero + scenario.timeLimit

        func conditions(for receiver: Int) -> NetworkConditions {
            var conditions = scenario.conditions
            if let vanishAt = scenario.vanishing[receiver], now >= .zero + vanishAt { conditions.loss = 1 }
            return conditions
        }

        func dispatchSender() {
            for output in senderOutputs {
                trace?("\(now) sender \(output)")
                switch output {
                case .send(let receiver, let bytes):
                    network.send(bytes, from: senderNode, to: receiver, now: now, conditions: conditions(for: receiver))
                case .sendData(let transmission):
                    // An in-memory source cannot fail to read.
                    let bytes = try! sender.dataDatagram(transmission)
                    network.send(
                        bytes, from: senderNode, to: transmission.receiver, now: now,
                        conditions: conditions(for: transmission.receiver))
                case .timedOut: timeouts += 1
                case .lossDetected(_, let count): losses += count
                case .accepted, .finished: break
                }
            }
            senderOutputs.removeAll(keepingCapacity: true)
        }

        /// Carries out what endpoint `index` asks, as the daemon would with its spool.
        func dispatchEndpoint(_ index: Int, datagram: [UInt8]) {
            var cursor = 0
            while cursor < endpointOutputs.count {
                let output = endpointOutputs[cursor]
                cursor += 1
                trace?("\(now) receiver \(index) \(output)")
                switch output {
                case .send(_, let bytes):
                    network.send(bytes, from: index, to: senderNode, now: now, conditions: conditions(for: index))
                case .admit(let id, _, let offer):
                    let alreadyComplete = disks[index].committed == scenario.file
                    let resume = disks[index].recordedBytes / UInt64(max(1, offer.segmentSize))
                    endpoints[index].admit(id, resumeFrom: resume, alreadyComplete: alreadyComplete, now: now, into: &endpointOutputs)
                case .store(let id, let offset, let payload):
                    let start = Int(offset)
                    disks[index].partial.replaceSubrange(start..<start + payload.count, with: datagram[payload])
                    if let contiguous = endpoints[index].contiguousBytes(of: id) {
                        disks[index].recordedBytes = contiguous
                    }
                case .finalize(let id):
                    // The daemon compares SHA-256 digests; byte equality is the same verdict.
                    let intact = disks[index].partial == scenario.file
                    if intact { disks[index].committed = disks[index].partial }
                    disks[index].recordedBytes = 0
                    if !intact { disks[index].partial = Array(repeating: 0, count: scenario.file.count) }
                    endpoints[index].finalized(
                        id, NativeCompletion(status: intact ? .committed : .digestMismatch, sha256: digest),
                        now: now, into: &endpointOutputs)
                case .discarded, .duplicate, .ended, .query:
                    break
                }
            }
            endpointOutputs.removeAll(keepingCapacity: true)
        }

        /// The liveness invariant, checked after every step.
        func stall(step: Int) -> String? {
            for receiver in 0..<scenario.receiverCount
            where sender.outcome(of: receiver) == nil && sender.deadline(of: receiver) == nil {
                return "step \(step) at \(now): the sender has neither an outcome nor a deadline for receiver \(receiver)"
            }
            for index in endpoints.indices {
                if let id = endpoints[index].sessionWithoutDeadline {
                    return "step \(step) at \(now): receiver \(index) holds session \(id) that no timer will visit"
                }
            }
            return nil
        }

        var stalledStep: String?
        sender.start(now: now, into: &senderOutputs)
        dispatchSender()
        while !sender.isFinished, stalledStep == nil {
            var candidates: [Instant?] = [sender.nextDeadline(), network.nextDeliveryTime]
            candidates += endpoints.map(\.nextDeadline)
            candidates += pendingRestarts.values.map { Instant.zero + $0 }
            guard let next = candidates.compactMap({ $0 }).min(), next <= deadline else { break }
            now = next
            events += 1
            if let (receiver, at) = pendingRestarts.first(where: { .zero + $0.value <= now }) {
                pendingRestarts[receiver] = nil
                restarts[receiver] += 1
                endpoints[receiver] = makeEndpoint(receiver, generation: UInt64(restarts[receiver]))
                trace?("\(now) receiver \(receiver) restarts (scheduled at \(at))")
            } else if let delivery = network.nextDeliveryTime, delivery == now, let datagram = network.popDelivery() {
                if datagram.to == senderNode {
                    datagram.bytes.withUnsafeBytes { bytes in
                        sender.receive(bytes, from: datagram.from, now: now, into: &senderOutputs)
                    }
                    dispatchSender()
                } else {
                    let index = datagram.to
                    datagram.bytes.withUnsafeBytes { bytes in
                        endpoints[index].receive(bytes, from: datagram.from, now: now, into: &endpointOutputs)
                    }
                    endpoints[index].flushAcknowledgements(into: &endpointOutputs)
                    dispatchEndpoint(index, datagram: datagram.bytes)
                }
            } else {
                sender.handleTimer(now: now, into: &senderOutputs)
                dispatchSender()
                for index in endpoints.indices {
                    if let due = endpoints[index].nextDeadline, due <= now {
                        endpoints[index].handleTimer(now: now, into: &endpointOutputs)
                        dispatchEndpoint(index, datagram: [])
                    }
                }
            }
            stalledStep = stall(step: events)
        }

        let receivers = (0..<scenario.receiverCount).map { index in
            ReceiverResult(committed: disks[index].committed, outcome: sender.outcome(of: index), restarts: restarts[index])
        }
        return Result(
            scenario: scenario, receivers: receivers, elapsed: now.duration(since: .zero), events: events,
            timeouts: timeouts, detectedLosses: losses, stalledStep: stalledStep)
    }
}
