import P2MPProtocol
import P2MPSimulation

/// One seeded run of the native protocol under the trust core (the sender under
/// `SecureLinks`, every receiver under `SecureSessions`) with an attacker on the path: a
/// `NativeScenario` of the `shape` below and an `AttackPlan`. Everything derives from the
/// seed, so `SecureScenario(seed: s)` is a complete reproduction.
public struct SecureScenario: Sendable, CustomStringConvertible {
    /// The push and the network's faults.
    public var network: NativeScenario
    public var attack: AttackPlan

    /// 1–3 receivers (every handshake costs real X25519, Ed25519 and HKDF work, and the
    /// attacker is what this simulation is about), up to 48 segments, loss up to 20 %, the
    /// native simulation's other faults, and more restarts than it has.
    public static let shape = NativeScenario.Shape(
        receivers: 1...3, segments: 0...48, maximumLoss: 0.2, receiverLossChance: 0.3, vanishChance: 0.1, restartChance: 0.25)

    public init(seed: UInt64) {
        network = NativeScenario(seed: seed, shape: Self.shape)
        var random = SeededRandom(seed: seed ^ 0xA77A_C4E5_0000_0001)
        attack = AttackPlan(file: network.file, random: &random)
    }

    public var seed: UInt64 { network.seed }

    public var description: String { "\(network); attack: \(attack)" }
}

/// When the attacker strikes: as each phase of a receiver's push begins (it knows them from
/// what it sees on the wire and, to be the worst case, from the simulation itself).
public enum AttackPhase: String, CaseIterable, Sendable, CustomStringConvertible {
    /// Time zero, before any handshake.
    case beforeHandshake
    /// The sender's first INITIATE to the receiver went out.
    case handshake
    /// The sender sent the receiver its n-th SEALED datagram (n drawn per receiver).
    case data
    /// The sender has the receiver's outcome.
    case completed
    /// The receiver restarted.
    case restarted
    /// The whole push is over.
    case afterPush

    public var description: String { rawValue }
}

/// What the attacker sends. Each strike draws a few of these.
public enum AttackKind: String, CaseIterable, Sendable, CustomStringConvertible {
    /// A well-formed INITIATE with a fresh key (sometimes with a made-up cookie), from the
    /// attacker, a victim's address or the sender's.
    case forgedInitiate
    /// CONFIRM with a made-up proof, for a responder session seen in a RESPONSE.
    case forgedConfirm
    /// RESPONSE and DONE with made-up sealed parts, to the sender for its initiator session.
    case forgedResponse
    /// RETRY with a made-up cookie, to the sender for its initiator session (RETRY is not authenticated).
    case forgedRetry
    /// A valid RESPONSE to the sender's INITIATE, signed by the attacker's own key (the
    /// sender pins the receiver's).
    case impostorResponse
    /// SEALED with a live session id, a plausible counter and random bytes, either way.
    case randomSealed
    /// A recorded datagram with one bit flipped, to where it was going.
    case bitFlip
    /// A handshake under a key no receiver trusts.
    case untrustedSession
    /// A session under the insider's read-only key, then OFFER, DATA, PROBE and ABORT in it
    /// for the honest transfer.
    case insiderSession
    /// The insider's sealed datagrams with the honest session's id put in.
    case splicedSession
    /// Recorded datagrams again, from the attacker or their original source.
    case replay
    /// A run of recorded datagrams again, shuffled.
    case reorderedReplay
    /// The newest datagram to a receiver, relayed from the attacker ahead of the honest copy.
    case race
    /// Every datagram the sender sent a receiver so far, again, in order.
    case liveSessionReplay
    /// The recorded earlier push, whole, in order (sometimes with the live session ids put in).
    case earlierSessionReplay

    public var description: String { rawValue }

    /// Whether it makes someone do handshake cryptography (bounded by `AttackPlan.costlyAttacks`):
    /// a replayed session's INITIATE costs a receiver a RESPONSE once its own has expired.
    var isCostly: Bool {
        switch self {
        case .forgedInitiate, .impostorResponse, .untrustedSession, .insiderSession, .liveSessionReplay, .earlierSessionReplay:
            true
        default: false
        }
    }
}

/// How hard and with what the attacker strikes in one scenario.
public struct AttackPlan: Sendable, CustomStringConvertible {
    /// The chance that the attacker strikes as a phase begins.
    public var strikeChance: Double
    /// Attacks per strike.
    public var strikeSize: ClosedRange<Int>
    /// The file of an earlier push the attacker recorded (the same file, or an older
    /// version of it), replayed by `earlierSessionReplay`; nil when it recorded none.
    public var earlierFile: [UInt8]?
    /// The phase in which the attacker replays that earlier push whole, at the first
    /// receiver, for certain (it may replay it at other times too).
    public var earlierReplayPhase: AttackPhase
    /// After the push, each receiver's file is moved away, so a replay that committed it
    /// again would show.
    public var movesAwayAfterPush: Bool
    /// Which SEALED datagram to each receiver starts the data phase.
    public var dataPhaseAfter: Int
    /// The insider's sessions are made under the sender's own key instead of its read-only
    /// one: a stolen key, outside the threat model. Only for showing that the provenance
    /// check sees what such an attacker injects (it must report it).
    public var insiderHoldsSenderKey = false
    /// Attacks that make a receiver or the attacker do handshake cryptography (forged
    /// INITIATE, impostor RESPONSE, sessions of its own, whole sessions replayed), at most:
    /// they cost the simulation what they cost a daemon, milliseconds each in a debug build.
    public var costlyAttacks: Int

    /// No attacker at all (an honest recording).
    public static let none = AttackPlan(
        strikeChance: 0, strikeSize: 0...0, earlierFile: nil, earlierReplayPhase: .afterPush, movesAwayAfterPush: false,
        dataPhaseAfter: 1, costlyAttacks: 0)

    init(
        strikeChance: Double, strikeSize: ClosedRange<Int>, earlierFile: [UInt8]?, earlierReplayPhase: AttackPhase,
        movesAwayAfterPush: Bool, dataPhaseAfter: Int, costlyAttacks: Int
    ) {
        self.strikeChance = strikeChance
        self.strikeSize = strikeSize
        self.earlierFile = earlierFile
        self.earlierReplayPhase = earlierReplayPhase
        self.movesAwayAfterPush = movesAwayAfterPush
        self.dataPhaseAfter = dataPhaseAfter
        self.costlyAttacks = costlyAttacks
    }

    init(file: [UInt8], random: inout SeededRandom) {
        strikeChance = Double.random(in: 0.3...1, using: &random)
        strikeSize = 1...Int.random(in: 1...4, using: &random)
        if random.chance(0.25) {
            earlierFile = random.chance(0.5) ? file : Self.olderVersion(of: file, random: &random)
        }
        earlierReplayPhase = AttackPhase.allCases.randomElement(using: &random)!
        movesAwayAfterPush = random.chance(0.5)
        dataPhaseAfter = Int.random(in: 1...30, using: &random)
        costlyAttacks = Int.random(in: 0...2, using: &random)
    }

    /// The file as it was before: some bytes different, sometimes shorter or longer.
    static func olderVersion(of file: [UInt8], random: inout SeededRandom) -> [UInt8] {
        var older = file
        switch Int.random(in: 0..<3, using: &random) {
        case 0 where !older.isEmpty:
            for _ in 0..<Int.random(in: 1...8, using: &random) {
                older[Int.random(in: 0..<older.count, using: &random)] ^= UInt8.random(in: 1...255, using: &random)
            }
        case 1 where !older.isEmpty:
            older.removeLast(Int.random(in: 1...older.count, using: &random))
        default:
            older += (0..<Int.random(in: 1...2_000, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
        }
        return older
    }

    public var description: String {
        "strike chance \(Int(strikeChance * 100))%, \(strikeSize.upperBound) attacks a strike, \(costlyAttacks) costly, "
            + "data phase after SEALED \(dataPhaseAfter)"
            + (earlierFile.map { ", an earlier push of \($0.count) bytes recorded, replayed \(earlierReplayPhase)" } ?? "")
            + (movesAwayAfterPush ? ", files moved away after the push" : "")
    }
}
