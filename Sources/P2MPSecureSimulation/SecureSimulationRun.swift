import Crypto
import P2MPProtocol
import P2MPSecurity
import P2MPSimulation
import P2MPWire

/// One run's state; its steps are methods, so the machines are mutated in place.
struct SecureSimulationRun {
    typealias Links = SecureLinks<SeededRandom>

    /// How long the run goes on after the push ended, for the attacker's last strikes.
    static let aftermath: Duration = .seconds(200)
    /// The path of every datagram to or from the attacker's and the victim's addresses.
    static let attackerPath = NetworkConditions(delay: .microseconds(200), jitter: .microseconds(800))

    let scenario: SecureScenario
    let trace: ((String) -> Void)?
    var network: SimulatedNetwork
    var readLatency: SeededRandom
    var strikeRandom: SeededRandom
    var sender: NativeSender
    var links: Links
    var receivers: [SecureReceiver]
    var attacker: Attacker
    var provenance = Provenance()
    var pendingRestarts: [Int: Duration]
    /// The attacker's planned strikes, in the order they were planned, with the attacks
    /// each must include.
    var strikes: [(at: Instant, phase: AttackPhase, receiver: Int, forced: [AttackKind])] = []
    /// Whether the earlier push was replayed in its planned phase yet.
    var earlierReplayed = false
    var strikesByPhase: [AttackPhase: Int] = [:]
    var handshakeSeen: Set<Int> = []
    /// Where the machines write a datagram, where it is sealed, and where one is opened.
    var scratch = [UInt8](repeating: 0, count: NativeDatagram.maximumSize)
    var sealed = [UInt8](repeating: 0, count: SecureDatagram.maximumSealedSize)
    var opened = [UInt8](repeating: 0, count: SecureDatagram.maximumSealedSize)
    var now = Instant.zero
    var events = 0
    var violations: [String] = []
    /// When the push ended (every receiver has its outcome); the attacker goes on a while.
    var pushEndedAt: Instant?
    var bytesAtVictim = 0
    var bytesAtAttacker = 0
    /// Plaintexts the receivers accepted in the insider's own sessions (and acted on as its).
    var insiderPlaintexts = 0
    /// Links renewed after their session went unanswered.
    var renewals = 0

    init(_ scenario: SecureScenario, earlier: [[TappedDatagram]], trace: ((String) -> Void)?) {
        self.scenario = scenario
        self.trace = trace
        network = SimulatedNetwork(random: SeededRandom(seed: scenario.seed ^ 0xA11C_E5EE_D000_0002))
        readLatency = SeededRandom(seed: scenario.seed ^ 0x0BAD_BEEF)
        strikeRandom = SeededRandom(seed: scenario.seed ^ 0x57_21CE)
        links = Links(
            identity: SimulationIdentities.sender,
            hostKeys: (0..<scenario.network.receiverCount).map { .pinned(SimulationIdentities.hostKeys[$0]) },
            configuration: .init(giveUpAfter: scenario.network.giveUpAfter), renewAfter: scenario.network.giveUpAfter / 5,
            random: SeededRandom(seed: scenario.seed ^ 0x11_4C5), now: .zero)
        receivers = (0..<scenario.network.receiverCount).map { SecureReceiver(scenario, index: $0) }
        attacker = Attacker(
            receiverCount: scenario.network.receiverCount, seed: scenario.seed ^ 0xA77A_C4E5, earlier: earlier, plan: scenario.attack)
        pendingRestarts = scenario.network.restarting
        sender = NativeSender(
            fileSize: UInt64(scenario.network.file.count), receiverCount: scenario.network.receiverCount,
            configuration: .init(
                transferID: scenario.seed | 1, name: "file.bin", sha256: ContentDigest(Array(SHA256.hash(data: scenario.network.file)))!,
                segmentSize: scenario.network.segmentSize, window: scenario.network.window, giveUpAfter: scenario.network.giveUpAfter,
                rateLimit: scenario.network.rateLimit, packetOverhead: 28 + SecureDatagram.sealedOverhead))
    }

    mutating func run() -> SecureSimulation.Result {
        let deadline = Instant.zero + scenario.network.timeLimit
        for receiver in receivers.indices { planStrike(.beforeHandshake, at: receiver) }
        drainSender()
        while violations.isEmpty {
            if sender.isFinished, pushEndedAt == nil { endPush() }
            if let pushEndedAt, strikes.isEmpty || now > pushEndedAt + Self.aftermath,
                network.nextDeliveryTime == nil, receivers.allSatisfy({ $0.readAt == nil })
            {
                break
            }
            var next = Instant.earliest(network.nextDeliveryTime, strikes.map(\.at).min())
            if pushEndedAt == nil {
                next = Instant.earliest(next, Instant.earliest(sender.nextTimeout, links.nextTimeout.map(Instant.init(sinceOrigin:))))
            }
            for receiver in receivers { next = Instant.earliest(next, Instant.earliest(receiver.nextTimeout, receiver.readAt)) }
            for at in pendingRestarts.values { next = Instant.earliest(next, .zero + at) }
            guard let next, next <= deadline else { break }
            now = next
            events += 1
            step()
            if violations.isEmpty { checkLiveness() }
        }
        return result()
    }

    /// One event at `now`.
    mutating func step() {
        if let (receiver, _) = pendingRestarts.first(where: { .zero + $0.value <= now }) {
            pendingRestarts[receiver] = nil
            receivers[receiver].restart(scenario, index: receiver)
            trace?("\(now) receiver \(receiver) restarts")
            planStrike(.restarted, at: receiver)
            return
        }
        if let index = strikes.firstIndex(where: { $0.at <= now }) {
            let strike = strikes.remove(at: index)
            strikesByPhase[strike.phase, default: 0] += 1
            let injections = attacker.strike(
                strike.phase, at: strike.receiver, forced: strike.forced, size: scenario.attack.strikeSize, now: now)
            trace?("\(now) attacker strikes receiver \(strike.receiver) (\(strike.phase)): \(injections.map(\.kind))")
            inject(injections)
            return
        }
        if let index = receivers.indices.first(where: { receivers[$0].readAt.map { $0 <= now } ?? false }) {
            readBatch(index)
            return
        }
        if let delivery = network.nextDeliveryTime, delivery == now, let datagram = network.popDelivery() {
            deliver(datagram)
            return
        }
        if pushEndedAt == nil {
            if let due = links.nextTimeout, due <= now.sinceOrigin { links.handleTimeout(now: now.sinceOrigin) }
            sender.handleTimeout(now: now)
            drainSender()
        }
        for index in receivers.indices {
            guard let due = receivers[index].nextTimeout, due <= now else { continue }
            if let endpointDue = receivers[index].endpoint.nextTimeout, endpointDue <= now {
                receivers[index].endpoint.handleTimeout(now: now)
                drainEvents(index, plaintext: [], fromInsider: false)
            }
            if let sessionsDue = receivers[index].sessions.nextTimeout, sessionsDue <= now.sinceOrigin {
                receivers[index].sessions.handleTimeout(now: now.sinceOrigin)
                takeSessionEvents(index)
            }
            drainTransmits(index)
        }
    }

    // MARK: - The network

    /// Sends a datagram an honest party wrote; the attacker's tap records it as it leaves.
    mutating func transmit(_ bytes: [UInt8], from: Int, to: Int) {
        attacker.observe(bytes, from: from, to: to, at: now)
        if from == SecureSimulation.senderNode, to >= 0, !handshakeSeen.contains(to),
            bytes.withUnsafeBytes({ (try? SecureDatagram.peekHeader($0).type) == .initiate })
        {
            handshakeSeen.insert(to)
            planStrike(.handshake, at: to)
        }
        if from == SecureSimulation.senderNode, to >= 0, attacker.sealedSent[to] == scenario.attack.dataPhaseAfter,
            bytes.withUnsafeBytes({ (try? SecureDatagram.peekHeader($0).type) == .sealed })
        {
            planStrike(.data, at: to)
        }
        network.send(bytes, from: from, to: to, now: now, conditions: conditions(from: from, to: to))
    }

    mutating func inject(_ injections: [Injection]) {
        for injection in injections {
            var path = Self.attackerPath
            path.delay = injection.delay
            path.jitter = .zero
            network.send(injection.bytes, from: injection.from, to: injection.to, now: now, conditions: path)
        }
    }

    func conditions(from: Int, to: Int) -> NetworkConditions {
        guard from >= SecureSimulation.senderNode, to >= SecureSimulation.senderNode else { return Self.attackerPath }
        let receiver = max(from, to)
        var conditions = scenario.network.conditions
        if let vanishAt = scenario.network.vanishing[receiver], now >= .zero + vanishAt { conditions.loss = 1 }
        return conditions
    }

    mutating func deliver(_ datagram: SimulatedNetwork.Delivery) {
        switch datagram.to {
        case SecureSimulation.senderNode:
            // The sender listens to its targets only.
            guard datagram.from >= 0 else { return }
            receiveAtSender(datagram.bytes, from: datagram.from)
            drainSender()
        case Attacker.node:
            bytesAtAttacker += datagram.bytes.count
            if datagram.from >= 0 { inject(attacker.receive(datagram.bytes, from: datagram.from, now: now)) }
        case Attacker.victim:
            bytesAtVictim += datagram.bytes.count
        default:
            let index = datagram.to
            receivers[index].inbox.append((datagram.from, datagram.bytes))
            if receivers[index].readAt == nil {
                receivers[index].readAt = now + .nanoseconds(Int64.random(in: 0...200_000, using: &readLatency))
            }
        }
    }

    // MARK: - The attacker's schedule

    /// With the plan's chance, schedules a strike at `receiver` as `phase` begins: at once,
    /// or for `afterPush` anywhere in the next 200 s (so sometimes after the receivers
    /// forgot the transfer). The earlier push is replayed at the first receiver in its
    /// planned phase for certain.
    mutating func planStrike(_ phase: AttackPhase, at receiver: Int) {
        var forced: [AttackKind] = []
        if scenario.attack.earlierFile != nil, !earlierReplayed, phase == scenario.attack.earlierReplayPhase, receiver == 0 {
            earlierReplayed = true
            forced.append(.earlierSessionReplay)
        }
        guard strikeRandom.chance(scenario.attack.strikeChance) || !forced.isEmpty else { return }
        let delay: Int64 =
            phase == .afterPush
            ? Int64.random(in: 0...Self.aftermath.nanoseconds, using: &strikeRandom)
            : Int64.random(in: 0...20_000_000, using: &strikeRandom)
        strikes.append((now + .nanoseconds(delay), phase, receiver, forced))
    }

    /// The push is over: files are moved away if the plan says so (a replay that committed
    /// one again would show), and the attacker may strike once more at each receiver.
    mutating func endPush() {
        pushEndedAt = now
        for index in receivers.indices {
            if scenario.attack.movesAwayAfterPush { receivers[index].disk.committed = nil }
            planStrike(.afterPush, at: index)
        }
    }

    // MARK: - Invariants

    /// Liveness: every receiver without an outcome has a deadline at the sender or a
    /// handshake timer; every receiver session has a timer check.
    mutating func checkLiveness() {
        guard pushEndedAt == nil else { return }
        for receiver in receivers.indices where sender.outcome(of: receiver) == nil && sender.deadline(of: receiver) == nil {
            if case .handshaking(let initiator) = links.links[receiver], initiator.nextTimeout != nil { continue }
            violations.append("step \(events) at \(now): the sender has neither an outcome nor a deadline for receiver \(receiver)")
        }
        for index in receivers.indices {
            if let session = receivers[index].endpoint.sessionWithoutDeadline {
                violations.append("step \(events) at \(now): receiver \(index) holds session \(session) that no timer will visit")
            }
        }
    }

    func result() -> SecureSimulation.Result {
        SecureSimulation.Result(
            scenario: scenario,
            receivers: receivers.indices.map { index in
                SecureSimulation.ReceiverResult(
                    committed: receivers[index].disk.lastCommitted, outcome: sender.outcome(of: index),
                    restarts: receivers[index].restarts, dropped: receivers[index].dropped,
                    handshakesAnswered: receivers[index].handshakesAnswered,
                    handshakesRefused: receivers[index].handshakesRefused, droppedInClear: receivers[index].droppedInClear)
            },
            elapsed: now.duration(since: .zero), events: events, stepViolations: violations, injected: attacker.injected,
            strikes: strikesByPhase, bytesAtVictim: bytesAtVictim, bytesAtAttacker: bytesAtAttacker,
            insiderPlaintexts: insiderPlaintexts, renewals: renewals)
    }
}
