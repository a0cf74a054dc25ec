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
/// (handshake messages) and `pollEvent` (a target's session established or failed), seals
/// what its machine writes with `seal`, and calls `handleTimeout` at `nextTimeout`.
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
    private var events: [Event] = []
    private var pending: [Int] = []

    /// Plain links when `identity` is nil; otherwise one handshake per host-key policy.
    public init(
        identity: Curve25519.Signing.PrivateKey?, hostKeys: [HandshakeInitiator<Random>.HostKeyPolicy],
        configuration: HandshakeInitiator<Random>.Configuration = .init(), random: inout Random, now: Duration
    ) {
        sessions = Array(repeating: nil, count: hostKeys.count)
        guard let identity else {
            links = hostKeys.map { _ in .plain }
            events = hostKeys.indices.map { .ready(target: $0, peerKey: nil) }
            return
        }
        links = hostKeys.map {
            .handshaking(HandshakeInitiator(identity: identity, hostKey: $0, configuration: configuration, random: &random, now: now))
        }
        pending = Array(hostKeys.indices)
    }

    /// Whether the links authenticate at all.
    public var isSecure: Bool {
        if case .plain = links.first { false } else { true }
    }

    public var nextTimeout: Duration? {
        links.compactMap { if case .handshaking(let initiator) = $0 { initiator.nextTimeout } else { nil } }.min()
    }

    public mutating func handleTimeout(now: Duration) {
        for target in links.indices {
            guard case .handshaking(var initiator) = links[target] else { continue }
            initiator.handleTimeout(now: now)
            links[target] = .handshaking(initiator)
            takeEvents(of: target)
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
    /// `destination` (at least `plaintext.count + sealedOverhead` bytes); nil when the target
    /// has no usable session.
    public mutating func seal(
        _ plaintext: UnsafeRawBufferPointer, for target: Int, into destination: UnsafeMutableRawBufferPointer
    ) -> Int? {
        switch links[target] {
        case .plain:
            guard plaintext.count <= destination.count else { return nil }
            destination.copyMemory(from: plaintext)
            return plaintext.count
        case .established:
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

    /// Handshake work due again (retransmissions after `handleTimeout`).
    private mutating func takeEvents(of target: Int) {
        guard case .handshaking(var initiator) = links[target] else { return }
        var transmitsNow = true
        while let event = initiator.pollEvent() {
            switch event {
            case .established(let session):
                links[target] = .established
                sessions[target] = session
                events.append(.ready(target: target, peerKey: session.peerKey))
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
