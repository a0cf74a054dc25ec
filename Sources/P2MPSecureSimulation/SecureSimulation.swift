import P2MPProtocol
import P2MPSecurity
import P2MPSimulation
import P2MPWire

/// Runs a `SecureScenario`: the real `NativeSender` under `SecureLinks` (as `p2mpsend push`
/// wires it) and `NativeReceiverEndpoint`s under `SecureSessions` (as `p2mpd` does), with
/// an `Attacker` on the path of a faulty `SimulatedNetwork`.
///
/// After every step the run checks: every plaintext a machine accepted is one the honest
/// party at the other end sealed, for that session and counter (or, in the insider's own
/// session, one the insider sealed, and then none of it reaches a disk); a session replies
/// where its newest authentic datagram came from; no receiver commits a second time (after
/// a push it committed, whether or not the file was moved away); the liveness invariant of
/// `NativeSimulation`. At the end: what was committed is the file, and every receiver
/// committed it unless it vanished.
public enum SecureSimulation {
    public static let senderNode = NativeSimulation.senderNode

    /// Datagrams a receiver's `SecureSessions` dropped, by cause, over the whole run.
    public struct Drops: Sendable, Equatable {
        public var unknownSession = 0
        public var malformed = 0
        public var replayed = 0
        public var forged = 0

        public init(unknownSession: Int = 0, malformed: Int = 0, replayed: Int = 0, forged: Int = 0) {
            self.unknownSession = unknownSession
            self.malformed = malformed
            self.replayed = replayed
            self.forged = forged
        }
    }

    public struct ReceiverResult: Sendable {
        /// What the receiver last committed under the final name (before a move-away).
        public var committed: [UInt8]?
        public var outcome: NativeSender.Outcome?
        public var restarts: Int
        /// Datagrams its `SecureSessions` dropped, by cause; RESPONSEs it computed (the
        /// handshake work it did, for anyone) and handshakes it refused.
        public var dropped: Drops
        public var handshakesAnswered: Int
        public var handshakesRefused: Int
        /// Datagrams in clear it dropped (it trusts keys, so it serves nothing unauthenticated).
        public var droppedInClear: Int
    }

    public struct Result: Sendable {
        public var scenario: SecureScenario
        public var receivers: [ReceiverResult]
        public var elapsed: Duration
        public var events: Int
        /// Broken invariants found after a step; the run stops at the first.
        public var stepViolations: [String]
        /// Datagrams the attacker injected, by kind, and strikes by phase.
        public var injected: [AttackKind: Int]
        public var strikes: [AttackPhase: Int]
        /// Bytes the network delivered to the spoofed victim's address, and to the attacker's.
        public var bytesAtVictim: Int
        public var bytesAtAttacker: Int
        /// Plaintexts the receivers accepted in the insider's own sessions (and refused to act on).
        public var insiderPlaintexts: Int
        /// Times the sender's link to a receiver went unanswered and shook hands again.
        public var renewals: Int

        /// Every broken promise; empty when the run was correct.
        public var violations: [String] {
            var found = stepViolations
            for (index, receiver) in receivers.enumerated() {
                let vanished = scenario.network.vanishing[index] != nil
                found += NativeSimulation.endViolations(
                    receiver: index, committed: receiver.committed, outcome: receiver.outcome, in: scenario.network
                ) { outcome in
                    // A vanished host never answers the handshake; if the impostor answered
                    // in its place, its key is reported.
                    guard vanished, case .unauthenticated(let reason) = outcome else { return false }
                    return reason.contains("noAnswer") || reason.contains(SimulationIdentities.untrustedKey.fingerprint)
                }
            }
            return found
        }
    }

    /// Runs `scenario`, first recording the earlier push its attacker replays (if any);
    /// `trace`, when given, receives one line per event.
    public static func run(_ scenario: SecureScenario, trace: ((String) -> Void)? = nil) -> Result {
        var run = SecureSimulationRun(scenario, earlier: recordEarlierPush(of: scenario), trace: trace)
        return run.run()
    }

    /// The earlier push the attacker of `scenario` recorded: from the same sender to its
    /// first receiver (the same keys), of its earlier file, over a clean network, with
    /// fresh randomness (new ephemeral keys, session ids and transfer id, as a real earlier
    /// push had). What the sender sent, per receiver.
    static func recordEarlierPush(of scenario: SecureScenario) -> [[TappedDatagram]] {
        guard let file = scenario.attack.earlierFile else { return [] }
        var earlier = scenario
        earlier.network.seed = scenario.seed ^ 0xEA71_1E50_0000_0001
        earlier.network.receiverCount = 1
        earlier.network.file = file
        earlier.network.conditions = NetworkConditions(delay: .milliseconds(1))
        earlier.network.rateLimit = nil
        earlier.network.receiverLoss = 0
        earlier.network.vanishing = [:]
        earlier.network.restarting = [:]
        earlier.attack = .none
        var run = SecureSimulationRun(earlier, earlier: [], trace: nil)
        _ = run.run()
        return run.attacker.sentTo
    }
}

/// A node of the simulated network as a handshake peer: its number is its address.
public struct SimulatedPeer: HandshakePeer, CustomStringConvertible {
    public var node: Int

    public init(node: Int) {
        self.node = node
    }

    public var cookieBytes: [UInt8] { withUnsafeBytes(of: Int64(node).bigEndian) { Array($0) } }
    public var description: String { "node \(node)" }
}
