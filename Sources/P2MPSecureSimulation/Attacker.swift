import P2MPProtocol
import P2MPSecurity
import P2MPWire

/// A datagram on the simulated network as the attacker's tap saw it leave its sender.
struct TappedDatagram: Sendable {
    var at: Instant
    var from: Int
    var to: Int
    var bytes: [UInt8]
}

/// A datagram the attacker puts on the network, `delay` from now.
struct Injection: Sendable {
    var kind: AttackKind
    var from: Int
    var to: Int
    var delay: Duration
    var bytes: [UInt8]
}

/// The attacker node: a tap on the path that records every datagram as it leaves (so it
/// holds the ones the network then loses too), and an injector that strikes with
/// `AttackKind`s. It knows what the wire shows (clear headers and ciphertext) and, to be
/// the worst case, each receiver's honest transfer id. It sends from its own node or
/// spoofs the sender's, a receiver's or a victim's.
struct Attacker {
    /// The attacker's own address.
    static let node = -2
    /// A bystander's address the attacker spoofs, to reflect replies at it.
    static let victim = -3
    /// Datagrams kept for replays (the most recent), and per receiver from the start of its push.
    static let tapCapacity = 512
    static let sessionCapacity = 400

    let receiverCount: Int
    var random: SeededRandom
    /// The most recent datagrams, a ring of `tapCapacity`.
    private(set) var tapped: [TappedDatagram] = []
    private var tapNext = 0
    /// What the sender sent each receiver, from the first datagram on.
    private(set) var sentTo: [[TappedDatagram]]
    /// The earlier push (to the first receiver), recorded the same way.
    let earlier: [[TappedDatagram]]
    /// Seen on the wire, per receiver: the sender's latest INITIATE and its session id,
    /// the responder session ids in RESPONSEs, the receiver's session id in the latest
    /// SEALED to it, and the sender's in the latest DONE or SEALED from it.
    private(set) var initiate: [[UInt8]?]
    private(set) var initiatorSession: [UInt64?]
    private(set) var responderSessions: [[UInt64]]
    private(set) var receiverSession: [UInt64?]
    private(set) var senderSession: [UInt64?]
    /// SEALED datagrams the sender sent each receiver so far.
    private(set) var sealedSent: [Int]
    /// The honest transfer id each receiver is being sent (the attacker's omniscience).
    var transferID: [UInt64?]
    /// Handshakes and sessions of the attacker's own (at most `maximumOwnSessions`).
    var own: [OwnSession] = []
    /// Every plaintext the insider sealed in its own sessions, for the provenance check.
    var insiderSealed: [SealKey: [UInt8]] = [:]
    /// Datagrams injected so far, by kind.
    var injected: [AttackKind: Int] = [:]

    /// Costly attacks (`AttackKind.isCostly`) the attacker may still make.
    private var costlyAttacksLeft: Int
    /// The insider's sessions are under the sender's key (`AttackPlan.insiderHoldsSenderKey`).
    let insiderHoldsSenderKey: Bool

    init(receiverCount: Int, seed: UInt64, earlier: [[TappedDatagram]], plan: AttackPlan) {
        self.receiverCount = receiverCount
        costlyAttacksLeft = plan.costlyAttacks
        insiderHoldsSenderKey = plan.insiderHoldsSenderKey
        random = SeededRandom(seed: seed)
        sentTo = Array(repeating: [], count: receiverCount)
        self.earlier = earlier
        initiate = Array(repeating: nil, count: receiverCount)
        initiatorSession = Array(repeating: nil, count: receiverCount)
        responderSessions = Array(repeating: [], count: receiverCount)
        receiverSession = Array(repeating: nil, count: receiverCount)
        senderSession = Array(repeating: nil, count: receiverCount)
        sealedSent = Array(repeating: 0, count: receiverCount)
        transferID = Array(repeating: nil, count: receiverCount)
    }

    /// Records a datagram leaving `from` for `to`, and learns what its clear header shows.
    mutating func observe(_ bytes: [UInt8], from: Int, to: Int, at now: Instant) {
        let datagram = TappedDatagram(at: now, from: from, to: to, bytes: bytes)
        if tapped.count < Self.tapCapacity {
            tapped.append(datagram)
        } else {
            tapped[tapNext] = datagram
        }
        tapNext = (tapNext + 1) % Self.tapCapacity
        guard let header = bytes.withUnsafeBytes({ try? SecureDatagram.peekHeader($0) }) else { return }
        if from == SecureSimulation.senderNode, to >= 0 {
            if sentTo[to].count < Self.sessionCapacity { sentTo[to].append(datagram) }
            switch header.type {
            case .initiate:
                initiate[to] = bytes
                initiatorSession[to] = header.session
            case .sealed:
                receiverSession[to] = header.session
                sealedSent[to] += 1
            default: break
            }
        } else if from >= 0, to == SecureSimulation.senderNode {
            switch header.type {
            case .response:
                if let response = bytes.withUnsafeBytes({ try? SecureDatagram.decodeResponse($0) }) {
                    responderSessions[from].append(response.responderSession)
                }
            case .done, .sealed:
                senderSession[from] = header.session
            default: break
            }
        }
    }

    /// The datagrams of one strike against `receiver` as `phase` begins: `forced` attacks,
    /// then a random number in `size` of random kinds.
    mutating func strike(
        _ phase: AttackPhase, at receiver: Int, forced: [AttackKind], size: ClosedRange<Int>, now: Instant
    ) -> [Injection] {
        var injections = forced.flatMap { attack($0, at: receiver, now: now) }
        for _ in 0..<Int.random(in: size, using: &random) {
            var kind = AttackKind.allCases.randomElement(using: &random)!
            if kind.isCostly {
                if costlyAttacksLeft > 0 {
                    costlyAttacksLeft -= 1
                } else {
                    kind = AttackKind.allCases.filter { !$0.isCostly }.randomElement(using: &random)!
                }
            }
            injections += attack(kind, at: receiver, now: now)
        }
        for injection in injections { injected[injection.kind, default: 0] += 1 }
        return injections
    }

    /// What one attack of `kind` sends; empty when the attacker has not seen what it needs yet.
    private mutating func attack(_ kind: AttackKind, at receiver: Int, now: Instant) -> [Injection] {
        switch kind {
        case .forgedInitiate: forgedInitiate(to: receiver)
        case .forgedConfirm: forgedConfirm(to: receiver)
        case .forgedResponse: forgedResponse(as: receiver)
        case .forgedRetry: forgedRetry(as: receiver)
        case .impostorResponse: impostorResponse(as: receiver, now: now)
        case .randomSealed: randomSealed(at: receiver)
        case .bitFlip: bitFlip()
        case .untrustedSession: startOwnSession(.untrustedSession, with: receiver, now: now)
        case .insiderSession: startOwnSession(.insiderSession, with: receiver, now: now)
        case .splicedSession: splicedSession(at: receiver)
        case .replay: replay()
        case .reorderedReplay: reorderedReplay(to: receiver)
        case .race: race(to: receiver)
        case .liveSessionReplay: sessionReplay(sentTo[receiver], kind: .liveSessionReplay, to: receiver, rewritingIDs: false)
        case .earlierSessionReplay:
            // Recorded on its way to the first receiver; to another one it is a host's session replayed at another.
            earlier.first.map { sessionReplay($0, kind: .earlierSessionReplay, to: receiver, rewritingIDs: random.chance(0.5)) } ?? []
        }
    }

    // MARK: - Replays

    /// One to five recorded datagrams again, each to where it went (sometimes to another
    /// receiver), from its source or from the attacker.
    private mutating func replay() -> [Injection] {
        guard !tapped.isEmpty else { return [] }
        return (0..<Int.random(in: 1...5, using: &random)).map { _ in
            let original = tapped.randomElement(using: &random)!
            var to = original.to
            if to >= 0, random.chance(0.2) { to = Int.random(in: 0..<receiverCount, using: &random) }
            return Injection(
                kind: .replay, from: spoofedSource(original.from, toward: to), to: to, delay: smallDelay(), bytes: original.bytes)
        }
    }

    /// The latest datagrams to `receiver`, again in a shuffled order.
    private mutating func reorderedReplay(to receiver: Int) -> [Injection] {
        let recent = tapped.filter { $0.to == receiver && $0.from == SecureSimulation.senderNode }.suffix(20).shuffled(using: &random)
        let from = spoofedSource(SecureSimulation.senderNode, toward: receiver)
        return recent.enumerated().map {
            Injection(kind: .reorderedReplay, from: from, to: receiver, delay: .microseconds(Int64($0.offset) * 100), bytes: $0.element.bytes)
        }
    }

    /// The newest datagram to `receiver`, relayed at once: it arrives before the honest copy.
    private mutating func race(to receiver: Int) -> [Injection] {
        guard let newest = sentTo[receiver].last else { return [] }
        let from = random.chance(0.5) ? Self.node : Self.victim
        return [Injection(kind: .race, from: from, to: receiver, delay: .zero, bytes: newest.bytes)]
    }

    /// A recorded session, in order with its own spacing (at most a second in all). With
    /// `rewritingIDs`, CONFIRM and SEALED carry the live session's ids instead of their own.
    private mutating func sessionReplay(
        _ session: [TappedDatagram], kind: AttackKind, to receiver: Int, rewritingIDs: Bool
    ) -> [Injection] {
        guard let first = session.first else { return [] }
        let from = spoofedSource(SecureSimulation.senderNode, toward: receiver)
        return session.map { datagram in
            var bytes = datagram.bytes
            if rewritingIDs, let type = bytes.withUnsafeBytes({ try? SecureDatagram.peekHeader($0).type }) {
                switch type {
                case .sealed: if let id = receiverSession[receiver] { Self.setSession(id, in: &bytes) }
                case .confirm: if let id = responderSessions[receiver].last { Self.setSession(id, in: &bytes) }
                default: break
                }
            }
            let offset = min(datagram.at.duration(since: first.at), .seconds(1))
            return Injection(kind: kind, from: from, to: receiver, delay: offset, bytes: bytes)
        }
    }

    // MARK: - Helpers

    /// The source of a datagram toward `to`: toward the sender only a receiver's address
    /// reaches it (it listens to its targets alone); toward a receiver the attacker's own,
    /// a victim's or the original one.
    mutating func spoofedSource(_ original: Int, toward to: Int) -> Int {
        if to == SecureSimulation.senderNode { return original >= 0 ? original : Int.random(in: 0..<receiverCount, using: &random) }
        return [Self.node, Self.victim, original].randomElement(using: &random)!
    }

    mutating func smallDelay() -> Duration { .microseconds(Int64.random(in: 0...5_000, using: &random)) }

    mutating func randomBytes(_ count: Int) -> [UInt8] { (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) } }

    static func setSession(_ id: UInt64, in bytes: inout [UInt8]) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: id.bigEndian, toByteOffset: 4, as: UInt64.self) }
    }
}
