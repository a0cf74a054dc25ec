import P2MPProtocol
import P2MPWire

/// Runs a `NativeScenario`: the real `NativeSender` and `NativeReceiverEndpoint`s exchange
/// datagrams through a `SimulatedNetwork`, each receiver with an in-memory disk that
/// survives its restarts (a partial file and the prefix recorded for resume).
public enum NativeSimulation {
    public struct ReceiverResult: Sendable {
        /// What the receiver committed under the final name, if anything.
        public var committed: [UInt8]?
        public var outcome: NativeSender.Outcome?
        public var restarts: Int
        /// When the sender learned the outcome.
        public var finishedAt: Instant?
        /// The sender's view of the receiver at the end (congestion window, RTT, estimates).
        public var statistics: SenderEngine.ReceiverStatistics
        /// The reception report the sender took from the receiver's COMPLETE.
        public var reportedReception: NativeReception?
        /// What the receiver's sessions under the sender's last transfer id for it counted
        /// when they held every segment (a restarted receiver may have had several).
        public var countedReceptions: [NativeReception]
        /// What it answered.
        public var answers: Answers

        /// True when the sender's verdict that this receiver went silent is the faults'
        /// doing: the receiver answered what it last learned, and nothing it sent since
        /// reached the sender intact within the give-up period. (`make soak` finds such runs
        /// at 25-30 % loss with corruption, about one in 50,000: every acknowledgement of a
        /// segment lost for 60 s.) A receiver that stops answering, or whose answers reach a
        /// sender that still gives up, stays a violation.
        public var silenceExplained: Bool {
            guard case .noAnswer(_, let after)? = outcome, let finishedAt, answers.sentSinceNews > 0 else { return false }
            guard let reached = answers.newsReachedSenderAt else { return true }
            return reached + after <= finishedAt
        }
    }

    /// What a receiver told the sender, to judge a give-up on it.
    public struct Answers: Sendable {
        /// When it last learned something whose acknowledgement restarts the sender's
        /// give-up clock: an OFFER, a longer complete prefix of the file, the last segment.
        /// (A segment above a hole is news the sender SACKs, but it gives up on a receiver
        /// whose prefix does not grow: `SenderEngine`'s `waitingSince`.)
        public var newsAt: Instant?
        /// Datagrams it sent since then.
        public var sentSinceNews = 0
        /// When the first datagram it sent at or after a piece of news reached the sender
        /// intact, for the latest news that did. (Later copies tell the sender nothing new.)
        public var newsReachedSenderAt: Instant?
        private var latestNewsReachedSender = false

        mutating func learned(at now: Instant) {
            newsAt = now
            sentSinceNews = 0
            latestNewsReachedSender = false
        }

        /// A datagram sent at `sentAt` reached the sender intact at `now`.
        mutating func delivered(sentAt: Instant, now: Instant) {
            guard let newsAt, sentAt >= newsAt, !latestNewsReachedSender else { return }
            newsReachedSenderAt = now
            latestNewsReachedSender = true
        }

        public init(newsAt: Instant? = nil, sentSinceNews: Int = 0, newsReachedSenderAt: Instant? = nil) {
            self.newsAt = newsAt
            self.sentSinceNews = sentSinceNews
            self.newsReachedSenderAt = newsReachedSenderAt
        }
    }

    /// Where every receiver stood at one moment of a run.
    public struct Progress: Sendable {
        public var at: Instant
        /// Segments each receiver has acknowledged cumulatively.
        public var acknowledged: [UInt64]
    }

    public struct Result: Sendable {
        public var scenario: NativeScenario
        public var receivers: [ReceiverResult]
        public var elapsed: Duration
        public var events: Int
        public var timeouts: Int
        public var detectedLosses: Int
        /// The sender's link as the run left it: its drops and every datagram's wait.
        public var bottleneck: Bottleneck?
        /// Every `progressInterval` of the scenario, where the receivers stood.
        public var progress: [Progress]
        /// The first step after which a machine was left waiting for nothing: a receiver
        /// with neither an outcome nor a deadline at the sender, or a receiver session no
        /// timer would visit. The run stops there.
        public var stalledStep: String?

        /// Every broken promise; empty when the run was correct.
        public var violations: [String] {
            var found: [String] = stalledStep.map { [$0] } ?? []
            for (index, receiver) in receivers.enumerated() {
                found += NativeSimulation.endViolations(
                    receiver: index, committed: receiver.committed, outcome: receiver.outcome, in: scenario,
                    silenceExplained: receiver.silenceExplained)
                found += Self.receptionViolations(receiver, index)
            }
            return found
        }

        /// The reception report reaches the sender as the receiver counted it (zeros from a
        /// receiver that held the file already), and every hole a receiver saw was repaired
        /// by the time it held every segment.
        static func receptionViolations(_ receiver: ReceiverResult, _ index: Int) -> [String] {
            var found: [String] = []
            for counted in receiver.countedReceptions
            where counted.network.repaired != counted.network.lost || counted.simulated.repaired > counted.simulated.lost
                || counted.storage != NativeReception.Losses()
            {
                found.append("receiver \(index) held every segment with unrepaired or impossible loss counts: \(counted)")
            }
            guard case .committed(alreadyHeld: false)? = receiver.outcome else { return found }
            guard let reported = receiver.reportedReception else {
                return found + ["receiver \(index) committed without a reception report"]
            }
            let heldAlready = receiver.countedReceptions.isEmpty && reported == NativeReception()
            if !heldAlready, !receiver.countedReceptions.contains(reported) {
                found.append("receiver \(index) reported \(reported), its sessions counted \(receiver.countedReceptions)")
            }
            return found
        }
    }

    /// What is wrong with how receiver `index` of `scenario` ended: bytes under the final
    /// name that are not the file, or an outcome other than committed (or, for a receiver
    /// that vanished or whose answers the faults all took, silence), unless `explains`
    /// accepts it.
    public static func endViolations(
        receiver index: Int, committed: [UInt8]?, outcome: NativeSender.Outcome?, in scenario: NativeScenario,
        silenceExplained: Bool = false, explains: (NativeSender.Outcome) -> Bool = { _ in false }
    ) -> [String] {
        var found: [String] = []
        if let committed, committed != scenario.file {
            found.append("receiver \(index) committed \(committed.count) wrong bytes under the final name")
        }
        switch outcome {
        case .committed?:
            if committed != scenario.file { found.append("sender counts receiver \(index) committed but it holds no correct file") }
        case .noAnswer(let phase, _)?:
            if scenario.vanishing[index] == nil, !silenceExplained {
                found.append("receiver \(index) reported silent in phase \(phase) although it never vanished")
            }
        case let other?:
            if !explains(other) { found.append("receiver \(index) ended \(other)") }
        case nil:
            found.append("receiver \(index) has no outcome when the run ended")
        }
        return found
    }

    /// A receiver's storage, as the daemon's spool would hold it.
    struct Disk {
        var partial: [UInt8]
        var recordedBytes: UInt64 = 0
        var committed: [UInt8]?
    }

    public static let senderNode = -1
    typealias Endpoint = NativeReceiverEndpoint<Int>

    public static func run(_ scenario: NativeScenario, trace: ((String) -> Void)? = nil) -> Result {
        var run = NativeSimulationRun(scenario, trace: trace)
        return run.run()
    }
}

/// One run's state; its steps are methods, so the machines are mutated in place (no
/// closure captures, no copies).
struct NativeSimulationRun {
    typealias Endpoint = NativeReceiverEndpoint<Int>
    typealias Disk = NativeSimulation.Disk

    let scenario: NativeScenario
    let trace: ((String) -> Void)?
    var network: SimulatedNetwork
    /// How long a receiver takes to come back to its socket: what arrives meanwhile is
    /// read as one batch, and answered with one ACK per session, as the daemon does.
    var readLatency: SeededRandom
    var endpoints: [Endpoint]
    /// Each endpoint's `nextTimeout`, refreshed whenever the endpoint is touched.
    var endpointTimeouts: [Instant?]
    var inboxes: [[[UInt8]]]
    var readAt: [Instant?]
    var disks: [Disk]
    /// Per receiver and transfer id, the receptions counted when every segment was held.
    var countedReceptions: [[UInt64: [NativeReception]]]
    var restarts: [Int]
    var pendingRestarts: [Int: Duration]
    var answers: [NativeSimulation.Answers]
    var sender: NativeSender
    let digest: ContentDigest
    var buffer = [UInt8](repeating: 0, count: NativeDatagram.maximumSize)
    var now = Instant.zero
    var events = 0
    var timeouts = 0
    var losses = 0
    var finishedAt: [Instant?]
    var progress: [NativeSimulation.Progress] = []

    init(_ scenario: NativeScenario, trace: ((String) -> Void)?) {
        self.scenario = scenario
        self.trace = trace
        network = SimulatedNetwork(random: SeededRandom(seed: scenario.seed ^ 0xA11C_E5EE_D000_0001))
        network.bottleneck = scenario.bottleneck
        finishedAt = Array(repeating: nil, count: scenario.receiverCount)
        readLatency = SeededRandom(seed: scenario.seed ^ 0x0BAD_BEEF)
        endpoints = (0..<scenario.receiverCount).map { Self.makeEndpoint(scenario, $0, generation: 0) }
        endpointTimeouts = Array(repeating: nil, count: scenario.receiverCount)
        inboxes = Array(repeating: [], count: scenario.receiverCount)
        readAt = Array(repeating: nil, count: scenario.receiverCount)
        disks = Array(repeating: Disk(partial: Array(repeating: 0, count: scenario.file.count)), count: scenario.receiverCount)
        countedReceptions = Array(repeating: [:], count: scenario.receiverCount)
        restarts = Array(repeating: 0, count: scenario.receiverCount)
        pendingRestarts = scenario.restarting
        answers = Array(repeating: NativeSimulation.Answers(), count: scenario.receiverCount)
        var digest = ContentDigest.zero
        digest.words.0 = scenario.seed
        self.digest = digest
        sender = NativeSender(
            fileSize: UInt64(scenario.file.count), receiverCount: scenario.receiverCount,
            configuration: .init(
                transferID: scenario.seed | 1, name: "file.bin", sha256: digest, segmentSize: scenario.segmentSize,
                window: scenario.window, giveUpAfter: scenario.giveUpAfter, rateLimit: scenario.rateLimit,
                congestionControl: scenario.congestionControl))
    }

    static func makeEndpoint(_ scenario: NativeScenario, _ index: Int, generation: UInt64) -> Endpoint {
        Endpoint(
            configuration: .init(maximumSessions: 4, window: 1_024, idleTimeout: .seconds(120), linger: .seconds(120)),
            loss: SimulatedLoss(probability: scenario.receiverLoss, seed: scenario.seed &+ UInt64(index) &* 7_919 &+ generation))
    }

    func conditions(for receiver: Int) -> NetworkConditions {
        var conditions = scenario.conditions
        conditions.delay = scenario.delay(at: now.duration(since: .zero))
        if let vanishAt = scenario.vanishing[receiver], now >= .zero + vanishAt { conditions.loss = 1 }
        return conditions
    }

    mutating func run() -> NativeSimulation.Result {
        let deadline = Instant.zero + scenario.timeLimit
        var stalledStep: String?
        sender.start(now: now)
        drainSender()
        while !sender.isFinished, stalledStep == nil {
            var next = Instant.earliest(sender.nextTimeout, network.nextDeliveryTime)
            for index in endpoints.indices {
                next = Instant.earliest(next, Instant.earliest(endpointTimeouts[index], readAt[index]))
            }
            for at in pendingRestarts.values { next = Instant.earliest(next, .zero + at) }
            guard let next, next <= deadline else { break }
            recordProgress(until: next)
            now = next
            events += 1
            stalledStep = step()
        }
        let receivers = (0..<scenario.receiverCount).map { index in
            NativeSimulation.ReceiverResult(
                committed: disks[index].committed, outcome: sender.outcome(of: index), restarts: restarts[index],
                finishedAt: finishedAt[index], statistics: sender.engine.statistics(of: index),
                reportedReception: sender.receptions[index],
                countedReceptions: countedReceptions[index][sender.transferIDs[index]] ?? [], answers: answers[index])
        }
        return NativeSimulation.Result(
            scenario: scenario, receivers: receivers, elapsed: now.duration(since: .zero), events: events,
            timeouts: timeouts, detectedLosses: losses, bottleneck: network.bottleneck, progress: progress,
            stalledStep: stalledStep)
    }

    /// Records the receivers' progress at every sampling instant before `time`: nothing
    /// changes between two events, so the state now is the state then.
    mutating func recordProgress(until time: Instant) {
        guard let interval = scenario.progressInterval, interval > .zero else { return }
        var at = progress.last.map { $0.at + interval } ?? .zero
        while at < time {
            progress.append(
                NativeSimulation.Progress(
                    at: at,
                    acknowledged: (0..<scenario.receiverCount).map { sender.engine.acknowledgedSegments(of: $0) }))
            at = at + interval
        }
    }

    /// One event at `now`; returns a broken liveness invariant, if any.
    mutating func step() -> String? {
        if let (receiver, at) = pendingRestarts.first(where: { .zero + $0.value <= now }) {
            pendingRestarts[receiver] = nil
            restarts[receiver] += 1
            endpoints[receiver] = Self.makeEndpoint(scenario, receiver, generation: UInt64(restarts[receiver]))
            endpointTimeouts[receiver] = nil
            inboxes[receiver].removeAll()  // The socket's queue goes with the process.
            readAt[receiver] = nil
            trace?("\(now) receiver \(receiver) restarts (scheduled at \(at))")
            return nil
        }
        if let index = readAt.indices.first(where: { readAt[$0].map { $0 <= now } ?? false }) {
            readAt[index] = nil
            let batch = inboxes[index]
            inboxes[index].removeAll(keepingCapacity: true)
            for datagram in batch {
                datagram.withUnsafeBytes { endpoints[index].handle($0, from: NativeSimulation.senderNode, now: now) }
                drainEvents(index, datagram: datagram)
            }
            drainTransmits(index)
            return endpointStall(index)
        }
        if let delivery = network.nextDeliveryTime, delivery == now, let datagram = network.popDelivery() {
            if datagram.to == NativeSimulation.senderNode {
                if datagram.intact { answers[datagram.from].delivered(sentAt: datagram.sentAt, now: now) }
                datagram.bytes.withUnsafeBytes { sender.handle($0, from: datagram.from, now: now) }
                drainSender()
                return senderStall()
            }
            let index = datagram.to
            inboxes[index].append(datagram.bytes)
            if readAt[index] == nil {
                readAt[index] = now + .nanoseconds(Int64.random(in: 0...200_000, using: &readLatency))
            }
            return nil
        }
        sender.handleTimeout(now: now)
        drainSender()
        for index in endpoints.indices {
            if let due = endpointTimeouts[index], due <= now {
                endpoints[index].handleTimeout(now: now)
                drainEvents(index, datagram: [])
                drainTransmits(index)
                if let stall = endpointStall(index) { return stall }
            }
        }
        return senderStall()
    }

    /// The sender's half of the liveness invariant: every unfinished receiver has a deadline.
    func senderStall() -> String? {
        for receiver in 0..<scenario.receiverCount
        where sender.outcome(of: receiver) == nil && sender.deadline(of: receiver) == nil {
            return "step \(events) at \(now): the sender has neither an outcome nor a deadline for receiver \(receiver)"
        }
        return nil
    }

    /// The receiver's half: every session of endpoint `index` has a timer check.
    func endpointStall(_ index: Int) -> String? {
        endpoints[index].sessionWithoutDeadline.map {
            "step \(events) at \(now): receiver \(index) holds session \($0) that no timer will visit"
        }
    }

    /// Drains the sender: its events (payload is handed in at once, from the file in
    /// memory), then its datagrams, until both are empty.
    mutating func drainSender() {
        while true {
            while let event = sender.pollEvent() {
                trace?("\(now) sender \(event)")
                switch event {
                case .payloadNeeded(let block): sender.supplyPayload(block, from: scenario.file, now: now)
                case .timedOut: timeouts += 1
                case .lossDetected(_, let count): losses += count
                case .finished(let receiver, _): finishedAt[receiver] = now
                case .accepted: break
                }
            }
            let now = self.now
            guard let transmit = buffer.withUnsafeMutableBytes({ sender.pollTransmit(into: $0, now: now) }) else {
                if sender.hasEvents { continue }
                break
            }
            trace?("\(now) sender sends \(transmit)")
            network.send(
                Array(buffer[0..<transmit.size]), from: NativeSimulation.senderNode, to: transmit.receiver, now: now,
                conditions: conditions(for: transmit.receiver), queued: true)
        }
    }

    /// Carries out what endpoint `index` asks after a datagram, as the daemon would with
    /// its spool; `datagram` is the one just handled.
    mutating func drainEvents(_ index: Int, datagram: [UInt8]) {
        while let event = endpoints[index].pollEvent() {
            trace?("\(now) receiver \(index) \(event)")
            switch event {
            case .offered, .allReceived:
                answers[index].learned(at: now)
            case .received(_, _, _, let contiguous) where contiguous > disks[index].recordedBytes:
                answers[index].learned(at: now)
            case .received, .duplicate, .ended, .query: break
            }
            switch event {
            case .offered(let id, _, let offer):
                let alreadyComplete = disks[index].committed == scenario.file
                let resume = disks[index].recordedBytes / UInt64(max(1, offer.segmentSize))
                endpoints[index].admit(id, resumeFrom: resume, alreadyComplete: alreadyComplete, now: now)
            case .received(_, let offset, let payload, let contiguous):
                let start = Int(offset)
                disks[index].partial.replaceSubrange(start..<start + payload.count, with: datagram[payload])
                disks[index].recordedBytes = contiguous
            case .allReceived(let id):
                if let reception = endpoints[index].reception(of: id) { countedReceptions[index][id, default: []].append(reception) }
                // The daemon compares SHA-256 digests; byte equality is the same verdict.
                let intact = disks[index].partial == scenario.file
                if intact { disks[index].committed = disks[index].partial }
                disks[index].recordedBytes = 0
                if !intact { disks[index].partial = Array(repeating: 0, count: scenario.file.count) }
                endpoints[index].finalized(
                    id, NativeCompletion(status: intact ? .committed : .digestMismatch, sha256: digest), now: now)
            case .duplicate, .ended, .query:
                break
            }
        }
        endpointTimeouts[index] = endpoints[index].nextTimeout
    }

    mutating func drainTransmits(_ index: Int) {
        while let transmit = buffer.withUnsafeMutableBytes({ endpoints[index].pollTransmit(into: $0) }) {
            answers[index].sentSinceNews += 1
            network.send(
                Array(buffer[0..<transmit.size]), from: index, to: NativeSimulation.senderNode, now: now,
                conditions: conditions(for: index))
        }
        endpointTimeouts[index] = endpoints[index].nextTimeout
    }
}
