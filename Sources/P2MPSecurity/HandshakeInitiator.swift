@preconcurrency import Crypto
import P2MPWire

/// The initiator's side of the handshake (the sender's, one per receiver): SIGMA-I as TLS
/// 1.3 builds it (docs/SECURITY.md). Sans-I/O in the shape of the other machines: datagrams
/// and time go in (`handle`, `handleTimeout`), datagrams and events come out
/// (`pollTransmit`, `pollEvent`), and `nextTimeout` says when to call again. Time is the
/// duration since an arbitrary origin of a monotonic clock.
///
///     INITIATE ──► (RETRY ◄── ; INITIATE with cookie ──►)
///              ◄── RESPONSE    verify the host's key, signature, Finished
///     CONFIRM  ──►
///              ◄── DONE        accepted (with rights) or refused (with a reason)
///
/// The initiator retransmits INITIATE, then CONFIRM, with exponential backoff until the
/// answer or `giveUpAfter`. A datagram that does not authenticate is dropped and counted,
/// never fatal, so an attacker who can only inject cannot end the handshake. Nor can a
/// valid RESPONSE under another key than the pinned one, which anyone with a key of their
/// own can make: it fails the handshake (`hostKeyChanged`) only when no RESPONSE under the
/// pinned key follows within `hostKeyGrace`, as none does from a host whose key changed.
public struct HandshakeInitiator<Random: RandomNumberGenerator & Sendable>: Sendable {
    public struct Configuration: Sendable {
        /// The first retransmission timeout, doubled after each retransmission up to `maximumTimeout`.
        public var initialTimeout: Duration
        public var maximumTimeout: Duration
        /// Silence from the start for this long fails the handshake (`noAnswer`).
        public var giveUpAfter: Duration
        /// RETRYs followed per handshake, at most; later ones are ignored.
        public var maximumRetries: Int
        /// How long after a RESPONSE under another key than the pinned one the handshake
        /// still waits for one under the pinned key (the real host answers the same INITIATE,
        /// repeated) before it fails with `hostKeyChanged`; at most until `giveUpAfter`. Long
        /// enough for several retransmissions through a lossy path: an injected RESPONSE must
        /// not win against the real one only because a few datagrams were lost.
        public var hostKeyGrace: Duration

        public init(
            initialTimeout: Duration = .milliseconds(250), maximumTimeout: Duration = .seconds(2),
            giveUpAfter: Duration = .seconds(10), maximumRetries: Int = 3, hostKeyGrace: Duration = .seconds(10)
        ) {
            self.initialTimeout = initialTimeout
            self.maximumTimeout = maximumTimeout
            self.giveUpAfter = giveUpAfter
            self.maximumRetries = maximumRetries
            self.hostKeyGrace = hostKeyGrace
        }
    }

    /// Which host key the responder must prove.
    public enum HostKeyPolicy: Equatable, Sendable {
        /// The key known-hosts holds for it; any other fails with `hostKeyChanged`.
        case pinned(IdentityKey)
        /// Any key (the caller records it from the established session: `--accept-new-host-keys`).
        case acceptNew
        /// None is known: stop after the responder proved a key and fail with `unknownHostKey`,
        /// so the operator can see its fingerprint and decide.
        case reportUnknown
    }

    public enum Failure: Equatable, Sendable {
        /// No valid answer within `giveUpAfter`.
        case noAnswer
        /// The responder proved its key but refused ours; its reason.
        case refused(String)
        /// The responder proved a key other than the pinned one: a new host key or a man in the middle.
        case hostKeyChanged(expected: IdentityKey, received: IdentityKey)
        /// `reportUnknown`: the key the responder proved.
        case unknownHostKey(IdentityKey)
    }

    public enum Event: Sendable {
        case established(EstablishedSession)
        case failed(Failure)
    }

    /// Datagrams dropped, by reason, and retransmissions.
    public struct Statistics: Equatable, Sendable {
        /// Not a handshake datagram of this session, or not one expected now.
        public var ignored = 0
        /// Did not authenticate: a sealed part that did not open, a bad signature or Finished.
        public var forged = 0
        /// Authenticated, but under another key than the pinned one.
        public var wrongHostKey = 0
        public var retriesFollowed = 0
        public var retransmissions = 0
    }

    private enum Phase: Sendable {
        /// INITIATE sent; its bytes are the transcript's first message.
        case awaitingResponse(initiate: [UInt8])
        case awaitingDone(confirm: [UInt8], secrets: HandshakeSecrets, session: EstablishedSession)
        case finished
    }

    public let configuration: Configuration
    /// The id this side chose; the responder's datagrams carry it.
    public let localSession: UInt64
    public private(set) var statistics = Statistics()
    /// When the responder proved an acceptable key and CONFIRM first left; nil before.
    public private(set) var awaitingDoneSince: Duration?
    private let identity: Curve25519.Signing.PrivateKey
    private let hostKey: HostKeyPolicy
    private let ephemeral: Curve25519.KeyAgreement.PrivateKey
    private var phase: Phase
    private var transmitPending = true
    private var events: [Event] = []
    private let giveUpAt: Duration
    private var timeout: Duration
    private var retransmitAt: Duration
    /// The first key other than the pinned one that a RESPONSE proved, and when the
    /// handshake fails with it unless the pinned key proves itself first.
    private var wrongKey: (key: IdentityKey, failAt: Duration)?

    public init(
        identity: Curve25519.Signing.PrivateKey, hostKey: HostKeyPolicy, configuration: Configuration = .init(),
        random: inout Random, now: Duration
    ) {
        self.configuration = configuration
        self.identity = identity
        self.hostKey = hostKey
        localSession = random.sessionID()
        // Any 32 bytes are an X25519 private key (RFC 7748 clamps them).
        ephemeral = try! Curve25519.KeyAgreement.PrivateKey(rawRepresentation: random.bytes(32))
        giveUpAt = now + configuration.giveUpAfter
        timeout = configuration.initialTimeout
        retransmitAt = now + configuration.initialTimeout
        phase = .awaitingResponse(initiate: [])
        phase = .awaitingResponse(initiate: makeInitiate(cookie: nil))
    }

    /// When to call `handleTimeout`; nil once the handshake is over.
    public var nextTimeout: Duration? {
        if case .finished = phase { return nil }
        return min(retransmitAt, giveUpAt, wrongKey?.failAt ?? giveUpAt)
    }

    public var isFinished: Bool {
        if case .finished = phase { true } else { false }
    }

    /// The next datagram to send to the responder, written at the start of `buffer` (at least
    /// 256 bytes, checked); returns its size, or nil when nothing is due.
    public mutating func pollTransmit(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        guard transmitPending else { return nil }
        let message: [UInt8]
        switch phase {
        case .awaitingResponse(let initiate): message = initiate
        case .awaitingDone(let confirm, _, _): message = confirm
        case .finished: return nil
        }
        transmitPending = false
        precondition(buffer.count >= message.count, "handshake transmit buffer too small")
        message.withUnsafeBytes { buffer.copyMemory(from: $0) }
        return message.count
    }

    public mutating func pollEvent() -> Event? {
        events.isEmpty ? nil : events.removeFirst()
    }

    public mutating func handleTimeout(now: Duration) {
        if case .finished = phase { return }
        if let wrongKey, now >= wrongKey.failAt, case .pinned(let expected) = hostKey {
            finish(.failed(.hostKeyChanged(expected: expected, received: wrongKey.key)))
        } else if now >= giveUpAt {
            finish(.failed(.noAnswer))
        } else if now >= retransmitAt {
            transmitPending = true
            statistics.retransmissions += 1
            timeout = min(timeout * 2, configuration.maximumTimeout)
            retransmitAt = now + timeout
        }
    }

    /// One datagram from the responder.
    public mutating func handle(_ datagram: UnsafeRawBufferPointer, now: Duration) {
        guard let header = try? SecureDatagram.peekHeader(datagram), header.session == localSession else {
            statistics.ignored += 1
            return
        }
        switch (header.type, phase) {
        case (.retry, .awaitingResponse): handleRetry(datagram, now: now)
        case (.response, .awaitingResponse(let initiate)): handleResponse(datagram, initiate: initiate, now: now)
        case (.done, .awaitingDone(_, let secrets, let session)): handleDone(datagram, secrets: secrets, session: session)
        default: statistics.ignored += 1
        }
    }

    private mutating func handleRetry(_ datagram: UnsafeRawBufferPointer, now: Duration) {
        guard let retry = try? SecureDatagram.decodeRetry(datagram), statistics.retriesFollowed < configuration.maximumRetries
        else {
            statistics.ignored += 1
            return
        }
        statistics.retriesFollowed += 1
        phase = .awaitingResponse(initiate: makeInitiate(cookie: Array(UnsafeRawBufferPointer(rebasing: datagram[retry.cookie]))))
        transmitPending = true
        timeout = configuration.initialTimeout
        retransmitAt = now + timeout
    }

    private mutating func handleResponse(_ datagram: UnsafeRawBufferPointer, initiate: [UInt8], now: Duration) {
        guard let response = try? SecureDatagram.decodeResponse(datagram) else {
            statistics.ignored += 1
            return
        }
        let clear = UnsafeRawBufferPointer(rebasing: datagram[..<SecureDatagram.responseClearSize])
        var transcript = Transcript()
        transcript.append(initiate)
        transcript.append(clear)
        guard
            let secrets = HandshakeSecrets(
                ephemeral: ephemeral, peerEphemeral: UnsafeRawBufferPointer(rebasing: datagram[response.ephemeralKey]),
                transcriptHash: transcript.current),
            let proof = HandshakeRecord.open(
                datagram, sealed: response.sealedProof, key: secrets.responderKey, record: 0),
            case .success(let hostKey) = proof.withUnsafeBytes({
                HandshakeProof.verify(
                    $0, context: SignatureContent.responder, trafficSecret: secrets.responderSecret,
                    transcript: &transcript)
            })
        else {
            statistics.forged += 1
            return
        }
        switch self.hostKey {
        case .pinned(let expected) where expected != hostKey:
            statistics.wrongHostKey += 1
            if wrongKey == nil { wrongKey = (hostKey, min(now + configuration.hostKeyGrace, giveUpAt)) }
            return
        case .reportUnknown:
            finish(.failed(.unknownHostKey(hostKey)))
            return
        case .pinned, .acceptNew:
            break
        }
        let keys = secrets.applicationKeys(transcriptHash: transcript.current)
        let ownProof = HandshakeProof.make(
            identity: identity, context: SignatureContent.initiator, trafficSecret: secrets.initiatorSecret,
            transcript: &transcript)
        var header = [UInt8](repeating: 0, count: SecureDatagram.headerSize)
        header.withUnsafeMutableBytes {
            SecureDatagram.writeHeader(SecureHeader(type: .confirm, session: response.responderSession), to: $0)
        }
        let confirm = HandshakeRecord.seal(ownProof, key: secrets.initiatorKey, record: 0, clearPart: header)
        let session = EstablishedSession(
            peerKey: hostKey, rights: [], namePrefix: nil,
            sealer: SessionSealer(remoteSession: response.responderSession, key: keys.initiator),
            opener: SessionOpener(localSession: localSession, key: keys.responder))
        phase = .awaitingDone(confirm: confirm, secrets: secrets, session: session)
        awaitingDoneSince = now
        wrongKey = nil
        transmitPending = true
        timeout = configuration.initialTimeout
        retransmitAt = now + timeout
    }

    private mutating func handleDone(_ datagram: UnsafeRawBufferPointer, secrets: HandshakeSecrets, session: EstablishedSession) {
        guard let done = try? SecureDatagram.decodeDone(datagram),
            let plaintext = HandshakeRecord.open(datagram, sealed: done.sealedVerdict, key: secrets.responderKey, record: 1),
            let verdict = try? plaintext.withUnsafeBytes({ try SecureDatagram.decodeVerdict($0) })
        else {
            statistics.forged += 1
            return
        }
        switch verdict.status {
        case .accepted:
            finish(
                .established(
                    EstablishedSession(
                        peerKey: session.peerKey, rights: SenderRights(rawValue: verdict.rights), namePrefix: nil,
                        sealer: session.sealer, opener: session.opener)))
        case .refused:
            finish(.failed(.refused(verdict.text)))
        }
    }

    private mutating func finish(_ event: Event) {
        phase = .finished
        transmitPending = false
        events.append(event)
    }

    private func makeInitiate(cookie: [UInt8]?) -> [UInt8] {
        var initiate = [UInt8](repeating: 0, count: SecureDatagram.initiateSize)
        let key = Array(ephemeral.publicKey.rawRepresentation)
        initiate.withUnsafeMutableBytes { initiate in
            key.withUnsafeBytes { key in
                if let cookie {
                    cookie.withUnsafeBytes {
                        _ = SecureDatagram.writeInitiate(
                            initiatorSession: localSession, ephemeralKey: key, cookie: $0, to: initiate)
                    }
                } else {
                    _ = SecureDatagram.writeInitiate(initiatorSession: localSession, ephemeralKey: key, cookie: nil, to: initiate)
                }
            }
        }
        return initiate
    }
}
