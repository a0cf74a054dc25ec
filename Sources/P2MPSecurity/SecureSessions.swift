@preconcurrency import Crypto
import P2MPWire

/// A daemon's authenticated sessions (sans-I/O): the `HandshakeResponder` for new ones,
/// and a bounded table of established ones, through which sealed datagrams are opened on
/// the way in and the daemon's answers sealed on the way out.
///
/// `handle` sorts each datagram of the secure envelope: handshake messages go to the
/// responder, SEALED ones are opened (cheap checks first, then the AEAD) into the caller's
/// plaintext buffer and reported with their session. Sessions silent for `idleTimeout` end;
/// beyond `maximumSessions` the least recently heard one ends. A session follows its peer
/// to a new source address once a datagram from there authenticates and is newer than
/// every one before it (QUIC's rule, RFC 9000 section 9.3): a replayed or delayed older
/// datagram, even one whose original never arrived, moves nothing, so an attacker who
/// recorded a session cannot point its replies elsewhere. (One that relays the newest
/// datagram ahead of the original can, until the peer's next datagram moves it back.)
///
/// A datagram older than the newest one opens only within `replayHorizon` of the newest
/// one's arrival. A peer never sends an old counter again, so only a copy held back arrives
/// later: one whose original was lost (or dropped by an attacker who kept it). Held back
/// past the horizon it is too old; otherwise it could re-run a transfer the machines above
/// had already finished and forgotten (their linger must outlast the horizon).
public struct SecureSessions<Peer: HandshakePeer, Random: RandomNumberGenerator & Sendable>: Sendable {
    public struct Configuration: Sendable {
        public var maximumSessions: Int
        public var idleTimeout: Duration
        /// How long after the newest datagram of a session an older one may still open;
        /// below the receiver endpoint's linger (p2mpd's 10 s).
        public var replayHorizon: Duration
        public var responder: HandshakeResponder<Peer, Random>.Configuration

        public init(
            maximumSessions: Int = 4_096, idleTimeout: Duration = .seconds(600), replayHorizon: Duration = .seconds(5),
            responder: HandshakeResponder<Peer, Random>.Configuration = .init()
        ) {
            self.maximumSessions = max(1, maximumSessions)
            self.idleTimeout = idleTimeout
            self.replayHorizon = replayHorizon
            self.responder = responder
        }
    }

    /// One established session as the daemon sees it.
    public struct Session: Sendable {
        public var established: EstablishedSession
        /// Where its datagrams come from now.
        public var peer: Peer
        /// The comment of the key's trusted-senders line, for logs.
        public var comment: String
        public var lastHeard: Duration
        /// When its newest datagram (the highest counter) arrived.
        public var newestAt: Duration
    }

    public enum Event: Sendable {
        case established(session: UInt64, peer: Peer, key: IdentityKey, rights: SenderRights, comment: String)
        /// A key the trust list does not hold, or a handshake that did not authenticate.
        case refused(peer: Peer, key: IdentityKey?, reason: String)
        /// The session ended: idle, evicted, or its key no longer trusted after a reload.
        case ended(session: UInt64, peer: Peer, reason: String)
    }

    public enum Received: Equatable, Sendable {
        /// A datagram of `session`, `size` bytes of plaintext at the start of the buffer.
        case plaintext(size: Int, session: UInt64)
        /// A handshake message, taken.
        case handshake
        /// Dropped: not authentic, a replay, for no session, or malformed (counted).
        case dropped
    }

    /// Datagrams dropped before or at the AEAD, by cause, over every session.
    public struct Statistics: Equatable, Sendable {
        public var unknownSession = 0
        public var malformed = 0
        public var replayed = 0
        public var forged = 0
    }

    public let configuration: Configuration
    public private(set) var responder: HandshakeResponder<Peer, Random>
    public private(set) var sessions: [UInt64: Session] = [:]
    public private(set) var statistics = Statistics()
    private var events: [Event] = []
    private var nextIdleCheck: Duration

    public init(
        identity: Curve25519.Signing.PrivateKey, trustedSenders: TrustedSenders, configuration: Configuration = .init(),
        random: Random, now: Duration
    ) {
        self.configuration = configuration
        responder = HandshakeResponder(
            identity: identity, trustedSenders: trustedSenders, configuration: configuration.responder, random: random,
            now: now)
        nextIdleCheck = now + configuration.idleTimeout
    }

    public var nextTimeout: Duration? {
        guard let handshake = responder.nextTimeout else { return nextIdleCheck }
        return min(handshake, nextIdleCheck)
    }

    /// True when `datagram` belongs to the secure envelope (version 2 of the framing).
    public static func isSecure(_ datagram: UnsafeRawBufferPointer) -> Bool {
        datagram.count >= SecureDatagram.headerSize && datagram[2] == SecureDatagram.version
    }

    /// One datagram of the secure envelope from `peer`.
    public mutating func handle(
        _ datagram: UnsafeRawBufferPointer, from peer: Peer, now: Duration, plaintext: UnsafeMutableRawBufferPointer
    ) -> Received {
        guard let header = try? SecureDatagram.peekHeader(datagram) else {
            statistics.malformed += 1
            return .dropped
        }
        guard header.type == .sealed else {
            responder.handle(datagram, from: peer, now: now)
            takeResponderEvents(now: now)
            return .handshake
        }
        guard let index = sessions.index(forKey: header.session) else {
            statistics.unknownSession += 1
            return .dropped
        }
        if now - sessions.values[index].newestAt >= configuration.replayHorizon {
            sessions.values[index].established.opener.closeWindow()
        }
        let before = sessions.values[index].established.opener.statistics
        let newestBefore = sessions.values[index].established.opener.window.highest
        guard let size = sessions.values[index].established.opener.open(datagram, into: plaintext) else {
            let after = sessions.values[index].established.opener.statistics
            statistics.replayed += after.replayed - before.replayed + after.outsideWindow - before.outsideWindow
            statistics.forged += after.forged - before.forged
            statistics.malformed += after.malformed - before.malformed
            return .dropped
        }
        sessions.values[index].lastHeard = now
        // The window's highest counter moved only if this datagram is the newest yet.
        if sessions.values[index].established.opener.window.highest != newestBefore {
            sessions.values[index].newestAt = now
            if sessions.values[index].peer != peer { sessions.values[index].peer = peer }
        }
        return .plaintext(size: size, session: header.session)
    }

    public mutating func handleTimeout(now: Duration) {
        responder.handleTimeout(now: now)
        takeResponderEvents(now: now)
        guard now >= nextIdleCheck else { return }
        nextIdleCheck = now + configuration.idleTimeout / 4
        for (id, session) in sessions where now - session.lastHeard >= configuration.idleTimeout {
            end(id, reason: "idle for \(configuration.idleTimeout)")
        }
    }

    /// Seals `plaintext` (a datagram of the daemon's machines) for `session` into
    /// `destination`; nil when the session is gone or exhausted.
    public mutating func seal(
        _ plaintext: UnsafeRawBufferPointer, for session: UInt64, into destination: UnsafeMutableRawBufferPointer
    ) -> (peer: Peer, size: Int)? {
        guard let index = sessions.index(forKey: session) else { return nil }
        guard let size = sessions.values[index].established.sealer.seal(plaintext, into: destination) else {
            end(session, reason: "its keys are spent; the sender handshakes again")
            return nil
        }
        return (sessions.values[index].peer, size)
    }

    /// The session `id`, while it lasts.
    public func session(_ id: UInt64) -> Session? { sessions[id] }

    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> (peer: Peer, size: Int)? {
        responder.pollTransmit(into: buffer)
    }

    public mutating func pollEvent() -> Event? { events.isEmpty ? nil : events.removeFirst() }

    /// A reloaded trust list: new handshakes see it, and every live session whose key it
    /// no longer holds ends; the others keep what they were granted until they end.
    public mutating func replaceTrustedSenders(_ trustedSenders: TrustedSenders) {
        responder.trustedSenders = trustedSenders
        for (id, session) in sessions where trustedSenders.grant(for: session.established.peerKey) == nil {
            end(id, reason: "its key is no longer trusted")
        }
    }

    // MARK: - Internals

    private mutating func takeResponderEvents(now: Duration) {
        while let event = responder.pollEvent() {
            switch event {
            case .established(let established, let peer):
                if sessions.count >= configuration.maximumSessions,
                    let oldest = sessions.min(by: { $0.value.lastHeard < $1.value.lastHeard })?.key
                {
                    end(oldest, reason: "evicted: \(configuration.maximumSessions) sessions at once")
                }
                let comment = responder.trustedSenders.grant(for: established.peerKey)?.comment ?? ""
                sessions[established.localSession] = Session(
                    established: established, peer: peer, comment: comment, lastHeard: now, newestAt: now)
                events.append(
                    .established(
                        session: established.localSession, peer: peer, key: established.peerKey, rights: established.rights,
                        comment: comment))
            case .refused(let peer, let key, let reason):
                events.append(.refused(peer: peer, key: key, reason: reason))
            case .authenticationFailed(let peer, let reason):
                events.append(.refused(peer: peer, key: nil, reason: reason))
            }
        }
    }

    private mutating func end(_ id: UInt64, reason: String) {
        guard let session = sessions.removeValue(forKey: id) else { return }
        events.append(.ended(session: id, peer: session.peer, reason: reason))
    }
}
