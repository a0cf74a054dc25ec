import P2MPProtocol
import P2MPSecurity
import P2MPSimulation
import P2MPWire

/// One receiver as p2mpd runs it: its authenticated sessions, the native endpoint behind
/// them, and its disk. The endpoint's peers are session ids: a reply goes wherever its
/// session is at the time, as `PeerChannels` sends it.
struct SecureReceiver {
    typealias Sessions = SecureSessions<SimulatedPeer, SeededRandom>
    typealias Endpoint = NativeReceiverEndpoint<UInt64>

    /// What the spool holds, as the daemon's would.
    struct Disk {
        var partial: [UInt8]
        var recordedBytes: UInt64 = 0
        /// The file under its final name (nil once it was moved away).
        var committed: [UInt8]?
        /// The last file ever committed, for the result.
        var lastCommitted: [UInt8]?
    }

    var sessions: Sessions
    var endpoint: Endpoint
    var disk: Disk
    var restarts = 0
    /// Datagrams that arrived while the receiver was busy, read as one batch at `readAt`.
    var inbox: [(from: Int, bytes: [UInt8])] = []
    var readAt: Instant?
    /// Each session's newest authentic datagram: its counter and the node it came from.
    var newest: [UInt64: (counter: UInt64, node: Int)] = [:]
    /// Transfers admitted and not finished (all of the one file, all the sender's).
    var unfinished: Set<UInt64> = []
    var droppedInClear = 0
    /// What the sessions a restart threw away had counted, so the result covers the whole run.
    var droppedBefore = SecureSimulation.Drops()
    var refusedBefore = 0
    var responsesBefore = 0

    init(_ scenario: SecureScenario, index: Int) {
        sessions = Self.makeSessions(scenario, index, generation: 0)
        endpoint = Self.makeEndpoint(scenario, index, generation: 0)
        disk = Disk(partial: Array(repeating: 0, count: scenario.network.file.count))
    }

    /// The process restarts: sessions, handshakes and transfers are gone, the disk stays.
    mutating func restart(_ scenario: SecureScenario, index: Int) {
        restarts += 1
        droppedBefore = dropped
        refusedBefore = handshakesRefused
        responsesBefore = handshakesAnswered
        sessions = Self.makeSessions(scenario, index, generation: UInt64(restarts))
        endpoint = Self.makeEndpoint(scenario, index, generation: UInt64(restarts))
        inbox.removeAll()  // The socket's queue goes with the process.
        readAt = nil
        newest = [:]
        unfinished = []
    }

    /// When either machine next has work.
    var nextTimeout: Instant? {
        Instant.earliest(endpoint.nextTimeout, sessions.nextTimeout.map(Instant.init(sinceOrigin:)))
    }

    /// Drops over the whole run, restarts included.
    var dropped: SecureSimulation.Drops {
        let now = sessions.statistics
        return SecureSimulation.Drops(
            unknownSession: droppedBefore.unknownSession + now.unknownSession, malformed: droppedBefore.malformed + now.malformed,
            replayed: droppedBefore.replayed + now.replayed, forged: droppedBefore.forged + now.forged)
    }

    /// RESPONSEs computed (each one X25519 key pair, one key agreement and one signature).
    var handshakesAnswered: Int { responsesBefore + sessions.responder.statistics.responsesSent }

    var handshakesRefused: Int {
        refusedBefore + sessions.responder.statistics.refused + sessions.responder.statistics.authenticationFailed
    }

    private static func makeSessions(_ scenario: SecureScenario, _ index: Int, generation: UInt64) -> Sessions {
        Sessions(
            identity: SimulationIdentities.hosts[index], trustedSenders: SimulationIdentities.trustedSenders,
            random: SeededRandom(seed: scenario.seed ^ 0x5E55_1045 &+ UInt64(index) &* 7_919 &+ generation &* 104_729),
            now: .zero)
    }

    /// As the native simulation's, with the receiver's own simulated loss (`p2mpd --loss`).
    private static func makeEndpoint(_ scenario: SecureScenario, _ index: Int, generation: UInt64) -> Endpoint {
        Endpoint(
            configuration: .init(maximumSessions: 4, window: 1_024, idleTimeout: .seconds(120), linger: .seconds(120)),
            loss: SimulatedLoss(
                probability: scenario.network.receiverLoss, seed: scenario.seed &+ UInt64(index) &* 7_919 &+ generation))
    }
}
