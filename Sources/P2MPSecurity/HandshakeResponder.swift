@preconcurrency import Crypto
import P2MPWire

/// The responder's side of the handshake (the daemon's, one per socket, every initiator):
/// SIGMA-I as TLS 1.3 builds it (docs/SECURITY.md), with a stateless cookie under load.
/// Sans-I/O like `HandshakeInitiator`.
///
/// What an unauthenticated source can make it do is bounded:
/// - It replies to a datagram with at most one datagram, never larger (INITIATE is padded
///   to 256 bytes, RESPONSE is 196, RETRY 28, DONE at most 151 against CONFIRM's 156), and
///   it never retransmits on its own: an initiator that lost a reply repeats its message,
///   which is answered from the entry's cache.
/// - With `cookieThreshold` or more handshakes half-open, an INITIATE without a valid
///   cookie gets a RETRY and leaves no state; at `maximumHalfOpen` new ones are dropped.
///   Below the threshold a cookie is not needed, and one that is not valid is ignored.
///   Each half-open entry ends `halfOpenLifetime` after it began (or after it completed,
///   to repeat DONE to a repeated CONFIRM).
/// - Datagrams that do not decode or authenticate are dropped and counted.
public struct HandshakeResponder<Peer: HandshakePeer, Random: RandomNumberGenerator & Sendable>: Sendable {
    public struct Configuration: Sendable {
        public var maximumHalfOpen: Int
        /// From this many half-open handshakes on, INITIATE needs a cookie; 0 always asks for one.
        public var cookieThreshold: Int
        public var halfOpenLifetime: Duration
        public var cookieRotation: Duration
        /// Replies waiting for `pollTransmit`, at most; more are dropped and counted.
        public var maximumPendingTransmits: Int

        public init(
            maximumHalfOpen: Int = 1_024, cookieThreshold: Int = 256, halfOpenLifetime: Duration = .seconds(10),
            cookieRotation: Duration = .seconds(120), maximumPendingTransmits: Int = 256
        ) {
            self.maximumHalfOpen = max(1, maximumHalfOpen)
            self.cookieThreshold = max(0, cookieThreshold)
            self.halfOpenLifetime = halfOpenLifetime
            self.cookieRotation = cookieRotation
            self.maximumPendingTransmits = max(1, maximumPendingTransmits)
        }
    }

    public enum Event: Sendable {
        /// The initiator proved a trusted key; its session is ready for sealed datagrams.
        case established(EstablishedSession, peer: Peer)
        /// The initiator proved a key the trust list does not hold (or one it no longer holds).
        case refused(peer: Peer, key: IdentityKey, reason: String)
        /// The initiator holds the handshake keys but its signature or Finished is wrong.
        case authenticationFailed(peer: Peer, reason: String)
    }

    public struct Statistics: Equatable, Sendable {
        /// Did not decode, or not a message a responder receives.
        public var malformed = 0
        public var retriesSent = 0
        /// INITIATE with a cookie that is not valid for its source (then treated as one without).
        public var badCookies = 0
        /// INITIATE dropped because `maximumHalfOpen` handshakes were half-open.
        public var halfOpenFull = 0
        public var responsesSent = 0
        /// Repeated INITIATE or CONFIRM answered from the cache.
        public var repeatsAnswered = 0
        /// CONFIRM for no half-open handshake.
        public var unknownSession = 0
        /// CONFIRM whose sealed part did not open.
        public var forged = 0
        public var authenticationFailed = 0
        public var refused = 0
        public var established = 0
        /// Replies dropped because `maximumPendingTransmits` were waiting.
        public var transmitQueueFull = 0
    }

    private struct HalfOpen: Sendable {
        enum Phase: Sendable {
            /// RESPONSE sent; waiting for CONFIRM.
            case responded(transcript: Transcript, secrets: HandshakeSecrets, keys: (initiator: TrafficKey, responder: TrafficKey))
            /// CONFIRM handled; DONE repeats to the same CONFIRM.
            case completed(confirm: [UInt8], done: [UInt8])
        }

        var initiatorSession: UInt64
        var initiateDigest: [UInt8]
        var response: [UInt8]
        var phase: Phase
        var expiry: Duration
    }

    public let configuration: Configuration
    /// Replaced as a whole on reload; handshakes completing afterwards see the new list.
    public var trustedSenders: TrustedSenders
    public private(set) var statistics = Statistics()
    private let identity: Curve25519.Signing.PrivateKey
    private var random: Random
    private var cookies: CookieJar
    private var halfOpen: [UInt64: HalfOpen] = [:]
    /// SHA-256 of each half-open handshake's INITIATE, to answer a repeat from the cache.
    private var byInitiate: [[UInt8]: UInt64] = [:]
    /// Expiries in the order they were set, which is their time order (the lifetime is
    /// fixed and time only grows); an entry counts only while it matches the handshake's.
    private var expiries: [(at: Duration, session: UInt64)] = []
    private var expiriesHead = 0
    private var transmits: [(peer: Peer, datagram: [UInt8])] = []
    private var transmitsHead = 0
    private var events: [Event] = []

    public init(
        identity: Curve25519.Signing.PrivateKey, trustedSenders: TrustedSenders, configuration: Configuration = .init(),
        random: Random, now: Duration
    ) {
        self.configuration = configuration
        self.identity = identity
        self.trustedSenders = trustedSenders
        self.random = random
        cookies = CookieJar(rotation: configuration.cookieRotation, random: &self.random, now: now)
    }

    /// Handshakes begun and not yet expired (completed ones included while they linger).
    public var halfOpenCount: Int { halfOpen.count }

    /// When to call `handleTimeout`: the next expiry or cookie rotation.
    public var nextTimeout: Duration? {
        let expiry = expiriesHead < expiries.count ? expiries[expiriesHead].at : nil
        return min(expiry ?? cookies.nextRotation, cookies.nextRotation)
    }

    public mutating func handleTimeout(now: Duration) {
        cookies.rotate(now: now, random: &random)
        while expiriesHead < expiries.count, expiries[expiriesHead].at <= now {
            let (at, session) = expiries[expiriesHead]
            expiriesHead += 1
            if let entry = halfOpen[session], entry.expiry == at {
                halfOpen[session] = nil
                byInitiate[entry.initiateDigest] = nil
            }
        }
        if expiriesHead > 64, expiriesHead * 2 > expiries.count {
            expiries.removeFirst(expiriesHead)
            expiriesHead = 0
        }
    }

    /// The next reply: written at the start of `buffer` (at least 256 bytes, checked), with
    /// its destination; nil when none is waiting.
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> (peer: Peer, size: Int)? {
        guard transmitsHead < transmits.count else { return nil }
        let (peer, datagram) = transmits[transmitsHead]
        transmitsHead += 1
        if transmitsHead == transmits.count {
            transmits.removeAll(keepingCapacity: true)
            transmitsHead = 0
        }
        precondition(buffer.count >= datagram.count, "handshake transmit buffer too small")
        datagram.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return (peer, datagram.count)
    }

    public mutating func pollEvent() -> Event? {
        events.isEmpty ? nil : events.removeFirst()
    }

    /// One handshake datagram (INITIATE or CONFIRM; the caller routes SEALED to its sessions).
    public mutating func handle(_ datagram: UnsafeRawBufferPointer, from peer: Peer, now: Duration) {
        cookies.rotate(now: now, random: &random)
        switch try? SecureDatagram.peekHeader(datagram).type {
        case .initiate: handleInitiate(datagram, from: peer, now: now)
        case .confirm: handleConfirm(datagram, from: peer, now: now)
        default: statistics.malformed += 1
        }
    }

    private mutating func handleInitiate(_ datagram: UnsafeRawBufferPointer, from peer: Peer, now: Duration) {
        guard let initiate = try? SecureDatagram.decodeInitiate(datagram) else {
            statistics.malformed += 1
            return
        }
        let digest = Array(SHA256.hash(data: datagram))
        if let session = byInitiate[digest], let entry = halfOpen[session] {
            statistics.repeatsAnswered += 1
            send(entry.response, to: peer)
            return
        }
        let address = peer.cookieBytes
        var echoedValidCookie = false
        if let cookie = initiate.cookie {
            echoedValidCookie = cookies.isValid(
                UnsafeRawBufferPointer(rebasing: datagram[cookie]), address: address, initiate: datagram, decoded: initiate)
            // A cookie that is not valid counts as none (QUIC's rule for a bad token): RETRY
            // is not authenticated, so a forged one must cost the initiator a round trip,
            // not its handshake.
            if !echoedValidCookie { statistics.badCookies += 1 }
        }
        if !echoedValidCookie, halfOpen.count >= configuration.cookieThreshold {
            var retry = [UInt8](repeating: 0, count: SecureDatagram.retrySize)
            let cookie = cookies.cookie(address: address, initiate: datagram, decoded: initiate)
            retry.withUnsafeMutableBytes { retry in
                cookie.withUnsafeBytes {
                    _ = SecureDatagram.writeRetry(initiatorSession: initiate.initiatorSession, cookie: $0, to: retry)
                }
            }
            statistics.retriesSent += 1
            send(retry, to: peer)
            return
        }
        guard halfOpen.count < configuration.maximumHalfOpen else {
            statistics.halfOpenFull += 1
            return
        }
        respond(to: initiate, datagram, digest: digest, from: peer, now: now)
    }

    private mutating func respond(
        to initiate: SecureInitiate, _ datagram: UnsafeRawBufferPointer, digest: [UInt8], from peer: Peer, now: Duration
    ) {
        var session = random.sessionID()
        while halfOpen[session] != nil { session = random.sessionID() }
        let ephemeral = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: random.bytes(32))
        var clear = [UInt8](repeating: 0, count: SecureDatagram.responseClearSize)
        let ephemeralKey = Array(ephemeral.publicKey.rawRepresentation)
        clear.withUnsafeMutableBytes { clear in
            ephemeralKey.withUnsafeBytes {
                SecureDatagram.writeResponseClear(
                    initiatorSession: initiate.initiatorSession, responderSession: session, ephemeralKey: $0, to: clear)
            }
        }
        var transcript = Transcript()
        transcript.append(datagram)
        transcript.append(clear)
        guard
            let secrets = HandshakeSecrets(
                ephemeral: ephemeral, peerEphemeral: UnsafeRawBufferPointer(rebasing: datagram[initiate.ephemeralKey]),
                transcriptHash: transcript.current)
        else {
            statistics.malformed += 1
            return
        }
        let proof = HandshakeProof.make(
            identity: identity, context: SignatureContent.responder, trafficSecret: secrets.responderSecret,
            transcript: &transcript)
        let response = HandshakeRecord.seal(proof, key: secrets.responderKey, record: 0, clearPart: clear)
        let keys = secrets.applicationKeys(transcriptHash: transcript.current)
        let expiry = now + configuration.halfOpenLifetime
        halfOpen[session] = HalfOpen(
            initiatorSession: initiate.initiatorSession, initiateDigest: digest, response: response,
            phase: .responded(transcript: transcript, secrets: secrets, keys: keys), expiry: expiry)
        byInitiate[digest] = session
        expiries.append((expiry, session))
        statistics.responsesSent += 1
        send(response, to: peer)
    }

    private mutating func handleConfirm(_ datagram: UnsafeRawBufferPointer, from peer: Peer, now: Duration) {
        guard let confirm = try? SecureDatagram.decodeConfirm(datagram) else {
            statistics.malformed += 1
            return
        }
        guard var entry = halfOpen[confirm.responderSession] else {
            statistics.unknownSession += 1
            return
        }
        switch entry.phase {
        case .completed(let answered, let done):
            if answered.elementsEqual(datagram) {
                statistics.repeatsAnswered += 1
                send(done, to: peer)
            } else {
                statistics.forged += 1
            }
        case .responded(var transcript, let secrets, let keys):
            guard
                let plaintext = HandshakeRecord.open(
                    datagram, sealed: confirm.sealedProof, key: secrets.initiatorKey, record: 0)
            else {
                statistics.forged += 1
                return
            }
            let proof = plaintext.withUnsafeBytes {
                HandshakeProof.verify(
                    $0, context: SignatureContent.initiator, trafficSecret: secrets.initiatorSecret,
                    transcript: &transcript)
            }
            let verdict: SecureVerdict
            switch proof {
            case .failure(let failure):
                let reason = "the initiator's \(failure == .badFinished ? "Finished" : "signature") did not verify"
                statistics.authenticationFailed += 1
                events.append(.authenticationFailed(peer: peer, reason: reason))
                verdict = SecureVerdict(status: .refused, rights: 0, text: reason)
            case .success(let key):
                if let grant = trustedSenders.grant(for: key) {
                    statistics.established += 1
                    let session = EstablishedSession(
                        peerKey: key, rights: grant.rights, namePrefix: grant.namePrefix,
                        sealer: SessionSealer(remoteSession: entry.initiatorSession, key: keys.responder),
                        opener: SessionOpener(localSession: confirm.responderSession, key: keys.initiator))
                    events.append(.established(session, peer: peer))
                    verdict = SecureVerdict(status: .accepted, rights: grant.rights.rawValue, text: "")
                } else {
                    let reason = "key \(key.fingerprint) is not trusted by this host"
                    statistics.refused += 1
                    events.append(.refused(peer: peer, key: key, reason: reason))
                    verdict = SecureVerdict(status: .refused, rights: 0, text: reason)
                }
            }
            var plaintextVerdict: [UInt8] = []
            SecureDatagram.appendVerdict(verdict, to: &plaintextVerdict)
            var header = [UInt8](repeating: 0, count: SecureDatagram.headerSize)
            header.withUnsafeMutableBytes {
                SecureDatagram.writeHeader(SecureHeader(type: .done, session: entry.initiatorSession), to: $0)
            }
            let done = HandshakeRecord.seal(plaintextVerdict, key: secrets.responderKey, record: 1, clearPart: header)
            entry.phase = .completed(confirm: Array(datagram), done: done)
            entry.expiry = now + configuration.halfOpenLifetime
            halfOpen[confirm.responderSession] = entry
            expiries.append((entry.expiry, confirm.responderSession))
            send(done, to: peer)
        }
    }

    private mutating func send(_ datagram: [UInt8], to peer: Peer) {
        guard transmits.count - transmitsHead < configuration.maximumPendingTransmits else {
            statistics.transmitQueueFull += 1
            return
        }
        transmits.append((peer, datagram))
    }
}
