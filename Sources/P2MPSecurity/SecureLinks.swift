@preconcurrency import Crypto
import P2MPWire

/// A client's authenticated sessions, one per target, under the protocol machines of a
/// push, a query or a fetch (sans-I/O, like them): a `HandshakeInitiator` per target, then
/// every datagram of the machine sealed on the way out and opened on the way in.
///
/// Without an identity the links are plain: datagrams pass unchanged (the native protocol
/// unauthenticated, which daemons accept from loopback only, and only while they have no
/// trusted-senders file).
///
/// The application hands in every datagram from a target (`handle`), drains `pollTransmit`
/// (handshake messages) and `pollEvent` (a target's session established, renewed or
/// failed), seals what its machine writes with `seal`, and calls `handleTimeout` at
/// `nextTimeout`.
///
/// With `renewAfter`, a link shakes hands again when it goes unanswered that long: an
/// established session whose sealed datagrams drew no authentic answer (the daemon
/// restarted and lost it, or the path changed), or a handshake whose CONFIRM drew no DONE
/// (the daemon restarted in between). Silence cannot be forged, so an attacker who can
/// only inject cannot cause a renewal; one who drops everything could anyway.
public struct SecureLinks<Random: RandomNumberGenerator & Sendable>: Sendable {
    public enum Link: Sendable {
        /// No identity: the native protocol in clear.
        case plain
        case handshaking(HandshakeInitiator<Random>)
        /// The session is in `sessions`, where it is sealed and opened in place (its
        /// replay window must not be copied for every datagram).
        case established
        case failed(HandshakeInitiator<Random>.Failure)
    }

    public enum Event: Sendable {
        /// `target`'s session is ready (or, for plain links, usable at once).
        case ready(target: Int, peerKey: IdentityKey?)
        /// `target`'s session went unanswered and a new one replaced it: the machine should
        /// start its exchange again (datagrams of the old session are gone with it).
        case renewed(target: Int)
        case failed(target: Int, HandshakeInitiator<Random>.Failure)
    }

    /// What `handle` made of a datagram.
    public enum Received: Equatable, Sendable {
        /// A datagram of the machine, `size` bytes at the start of the plaintext buffer.
        case plaintext(size: Int)
        /// A handshake message, taken.
        case handshake
        /// Dropped: not authentic, a replay, or for no session (counted by the opener).
        case dropped
    }

    public private(set) var links: [Link]
    public private(set) var sessions: [EstablishedSession?]
    /// How long a link may go unanswered before it shakes hands again; nil: never.
    public let renewAfter: Duration?
    private let identity: Curve25519.Signing.PrivateKey?
    /// Per target, the key its handshakes must prove: once a session is up, the key it
    /// proved, so a renewal never accepts another.
    private var hostKeys: [HandshakeInitiator<Random>.HostKeyPolicy]
    private let configuration: HandshakeInitiator<Random>.Configuration
    private var random: Random
    /// Per target: when the first datagram sealed since the last authentic one arrived left.
    private var unansweredSince: [Duration?]
    /// Per target: whether a session was ever up (so the next one is a renewal).
    private var wasEstablished: [Bool]
    /// When a target that never had a session stops trying, whatever the renewals.
    private let firstGiveUpAt: Duration
    private var events: [Event] = []
    private var pending: [Int] = []

    /// Plain links when `identity` is nil; otherwise one handshake per host-key policy,
    /// each drawing its keys and ids from `random`.
    public init(
        identity: Curve25519.Signing.PrivateKey?, hostKeys: [HandshakeInitiator<Random>.HostKeyPolicy],
        configuration: HandshakeInitiator<Random>.Configuration = .init(), renewAfter: Duration? = nil, random: Random,
        now: Duration
    ) {
        self.identity = identity
        self.hostKeys = hostKeys
        self.configuration = configuration
        self.renewAfter = renewAfter
        self.random = random
        sessions = Array(repeating: nil, count: hostKeys.count)
        unansweredSince = Array(repeating: nil, count: hostKeys.count)
        wasEstablished = Array(repeating: false, count: hostKeys.count)
        firstGiveUpAt = now + configuration.giveUpAfter
        guard identity != nil else {
            links = hostKeys.map { _ in .plain }
            events = hostKeys.indices.map { .ready(target: $0, peerKey: nil) }
            return
        }
        links = Array(repeating: .plain, count: hostKeys.count)
        for target in hostKeys.indices { startHandshake(with: target, now: now) }
    }

    /// Whether the links authenticate at all.
    public var isSecure: Bool {
        if case .plain = links.first { false } else { true }
    }

    public var nextTimeout: Duration? {
        links.indices.compactMap { target -> Duration? in
            switch links[target] {
            case .handshaking(let initiator):
                let stalled = initiator.awaitingDoneSince.flatMap { since in renewAfter.map { since + $0 } }
                return [initiator.nextTimeout, stalled].compactMap { $0 }.min()
            case .established:
                return unansweredSince[target].flatMap { since in renewAfter.map { since + $0 } }
            case .plain, .failed:
                return nil
            }
        }.min()
    }

    public mutating func handleTimeout(now: Duration) {
        for target in links.indices {
            switch links[target] {
            case .handshaking(var initiator):
                if let since = initiator.awaitingDoneSince, let renewAfter, now >= since + renewAfter {
                    startHandshake(with: target, now: now)  // CONFIRM drew no DONE: start over.
                    continue
                }
                initiator.handleTimeout(now: now)
                links[target] = .handshaking(initiator)
                takeEvents(of: target)
            case .established:
                if let since = unansweredSince[target], let renewAfter, now >= since + renewAfter {
                    startHandshake(with: target, now: now)
                }
            case .plain, .failed:
                continue
            }
        }
    }

    /// One datagram from `target`: a handshake message, or a sealed datagram opened into
    /// `plaintext` (at least the datagram's size).
    public mutating func handle(
        _ datagram: UnsafeRawBufferPointer, from target: Int, now: Duration, plaintext: UnsafeMutableRawBufferPointer
    ) -> Received {
        switch links[target] {
        case .plain:
            guard datagram.count <= plaintext.count else { return .dropped }
            plaintext.copyMemory(from: datagram)
            return .plaintext(size: datagram.count)
        case .handshaking(var initiator):
            initiator.handle(datagram, now: now)
            links[target] = .handshaking(initiator)
            takeEvents(of: target)
            return .handshake
        case .established:
            guard let size = sessions[target]?.opener.open(datagram, into: plaintext) else { return .dropped }
            unansweredSince[target] = nil
            return .plaintext(size: size)
        case .failed:
            return .dropped
        }
    }

    public mutating func pollEvent() -> Event? { events.isEmpty ? nil : events.removeFirst() }

    /// The next handshake message, written at the start of `buffer` (at least 256 bytes).
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> (target: Int, size: Int)? {
        while let target = pending.first {
            if case .handshaking(var initiator) = links[target], let size = initiator.pollTransmit(into: buffer) {
                links[target] = .handshaking(initiator)
                return (target, size)
            }
            pending.removeFirst()
        }
        return nil
    }

    /// Seals one datagram of the machine for `target` (`plaintext` at most 65,028 bytes) into
    /// `destination` (at least `plaintext.count + sealedOverhead` bytes) at `now`; nil when
    /// the target has no usable session.
    public mutating func seal(
        _ plaintext: UnsafeRawBufferPointer, for target: Int, into destination: UnsafeMutableRawBufferPointer, now: Duration
    ) -> Int? {
        switch links[target] {
        case .plain:
            guard plaintext.count <= destination.count else { return nil }
            destination.copyMemory(from: plaintext)
            return plaintext.count
        case .established:
            if unansweredSince[target] == nil { unansweredSince[target] = now }
            return sessions[target]?.sealer.seal(plaintext, into: destination)
        case .handshaking, .failed:
            return nil
        }
    }

    /// Bytes sealing adds to each datagram of a target.
    public var overhead: Int { isSecure ? SecureDatagram.sealedOverhead : 0 }

    /// Whether `target` has a session to seal for.
    public func isReady(_ target: Int) -> Bool {
        switch links[target] {
        case .plain, .established: true
        case .handshaking, .failed: false
        }
    }

    /// A new handshake with `target`, replacing whatever the link had. One that never had a
    /// session keeps the first handshake's deadline, so renewals cannot keep it alive.
    private mutating func startHandshake(with target: Int, now: Duration) {
        guard let identity else { return }
        var configuration = configuration
        if !wasEstablished[target] { configuration.giveUpAfter = max(.zero, firstGiveUpAt - now) }
        links[target] = .handshaking(
            HandshakeInitiator(identity: identity, hostKey: hostKeys[target], configuration: configuration, random: &random, now: now))
        sessions[target] = nil
        unansweredSince[target] = nil
        if !pending.contains(target) { pending.append(target) }
    }

    /// Handshake work due again (retransmissions after `handleTimeout`).
    private mutating func takeEvents(of target: Int) {
        guard case .handshaking(var initiator) = links[target] else { return }
        var transmitsNow = true
        while let event = initiator.pollEvent() {
            switch event {
            case .established(let session):
                links[target] = .established
                sessions[target] = session
                events.append(wasEstablished[target] ? .renewed(target: target) : .ready(target: target, peerKey: session.peerKey))
                wasEstablished[target] = true
                hostKeys[target] = .pinned(session.peerKey)
                transmitsNow = false
            case .failed(let failure):
                links[target] = .failed(failure)
                events.append(.failed(target: target, failure))
                transmitsNow = false
            }
        }
        if transmitsNow {
            links[target] = .handshaking(initiator)
            if !pending.contains(target) { pending.append(target) }
        }
    }
}
