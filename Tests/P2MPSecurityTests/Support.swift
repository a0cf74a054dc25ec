@preconcurrency import Crypto
import P2MPSecurity
import P2MPWire
import Testing

/// SplitMix64: a generator whose whole stream is fixed by its seed, so every randomized test
/// replays exactly; tests print the seed they use.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Returns scripted words first (the vectors' fixed "random" values), then a seeded stream.
struct ScriptedRandom: RandomNumberGenerator, Sendable {
    private var script: [UInt64]
    private var rest: SplitMix64

    init(_ script: [UInt64], seed: UInt64 = 1) {
        self.script = script
        rest = SplitMix64(seed: seed)
    }

    /// Words whose big-endian bytes are `bytes` (a multiple of 8 long).
    static func words(_ bytes: [UInt8]) -> [UInt64] {
        stride(from: 0, to: bytes.count, by: 8).map { start in
            bytes[start..<start + 8].reduce(0) { $0 << 8 | UInt64($1) }
        }
    }

    mutating func next() -> UInt64 {
        script.isEmpty ? rest.next() : script.removeFirst()
    }
}

/// An IPv4 address and port; a cookie binds its six bytes.
struct TestPeer: HandshakePeer, CustomStringConvertible {
    var host: UInt32
    var port: UInt16

    static let sender = TestPeer(host: 0x7F00_0001, port: 7735)
    static let other = TestPeer(host: 0x7F00_0002, port: 40_000)

    var cookieBytes: [UInt8] {
        [UInt8(host >> 24), UInt8(host >> 16 & 0xFF), UInt8(host >> 8 & 0xFF), UInt8(host & 0xFF)]
            + [UInt8(port >> 8), UInt8(port & 0xFF)]
    }

    var description: String { "\(host >> 24).\(host >> 16 & 0xFF).\(host >> 8 & 0xFF).\(host & 0xFF):\(port)" }
}

typealias Initiator = HandshakeInitiator<SplitMix64>
typealias Responder = HandshakeResponder<TestPeer, SplitMix64>

/// Fixed identities: the same seeds as scripts/secure_vectors.py.
enum Keys {
    static let initiator = try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(0x01...0x20 as ClosedRange<UInt8>))
    static let responder = try! Curve25519.Signing.PrivateKey(rawRepresentation: Array(0x21...0x40 as ClosedRange<UInt8>))
    static let stranger = try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: 0x77, count: 32))
    static var initiatorKey: IdentityKey { IdentityKey(initiator.publicKey) }
    static var responderKey: IdentityKey { IdentityKey(responder.publicKey) }
    static var strangerKey: IdentityKey { IdentityKey(stranger.publicKey) }

    static func trusting(_ key: IdentityKey, _ rights: SenderRights = .default, prefix: String? = nil) -> TrustedSenders {
        TrustedSenders([key: SenderGrant(rights: rights, namePrefix: prefix, comment: "test")])
    }
}

extension HandshakeInitiator {
    /// Every datagram due now.
    mutating func transmits() -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while let size = buffer.withUnsafeMutableBytes({ pollTransmit(into: $0) }) {
            datagrams.append(Array(buffer[..<size]))
        }
        return datagrams
    }

    mutating func handle(_ datagram: [UInt8], now: Duration) {
        datagram.withUnsafeBytes { handle($0, now: now) }
    }

    mutating func events() -> [Event] {
        var events: [Event] = []
        while let event = pollEvent() { events.append(event) }
        return events
    }
}

extension HandshakeResponder {
    mutating func transmits() -> [(peer: Peer, datagram: [UInt8])] {
        var datagrams: [(Peer, [UInt8])] = []
        var buffer = [UInt8](repeating: 0, count: 512)
        while let (peer, size) = buffer.withUnsafeMutableBytes({ pollTransmit(into: $0) }) {
            datagrams.append((peer, Array(buffer[..<size])))
        }
        return datagrams
    }

    mutating func handle(_ datagram: [UInt8], from peer: Peer, now: Duration) {
        datagram.withUnsafeBytes { handle($0, from: peer, now: now) }
    }

    mutating func events() -> [Event] {
        var events: [Event] = []
        while let event = pollEvent() { events.append(event) }
        return events
    }
}

/// One complete handshake, recorded: the four messages and both sides' outcomes.
struct RecordedHandshake {
    var initiate: [UInt8]
    var response: [UInt8]
    var confirm: [UInt8]
    var done: [UInt8]
    var initiatorSession: EstablishedSession
    var responderSession: EstablishedSession
}

/// Runs a handshake with no loss between a fresh initiator and `responder`.
func handshake(
    responder: inout Responder, seed: UInt64, identity: Curve25519.Signing.PrivateKey = Keys.initiator,
    hostKey: Initiator.HostKeyPolicy = .pinned(Keys.responderKey), now: Duration = .zero
) -> (initiator: Initiator, record: RecordedHandshake?, failure: Initiator.Failure?) {
    var random = SplitMix64(seed: seed)
    var initiator = Initiator(identity: identity, hostKey: hostKey, random: &random, now: now)
    var messages: [[UInt8]] = []
    var initiatorSession: EstablishedSession?
    var responderSession: EstablishedSession?
    var failure: Initiator.Failure?
    for _ in 0..<4 {
        for datagram in initiator.transmits() {
            messages.append(datagram)
            responder.handle(datagram, from: .sender, now: now)
        }
        for (_, datagram) in responder.transmits() {
            messages.append(datagram)
            initiator.handle(datagram, now: now)
        }
        for event in responder.events() {
            if case .established(let session, _) = event { responderSession = session }
        }
        for event in initiator.events() {
            switch event {
            case .established(let session): initiatorSession = session
            case .failed(let reason): failure = reason
            }
        }
    }
    guard messages.count == 4, let initiatorSession, let responderSession else { return (initiator, nil, failure) }
    return (
        initiator,
        RecordedHandshake(
            initiate: messages[0], response: messages[1], confirm: messages[2], done: messages[3],
            initiatorSession: initiatorSession, responderSession: responderSession),
        failure
    )
}

func makeResponder(
    trusting trusted: TrustedSenders = Keys.trusting(Keys.initiatorKey), seed: UInt64 = 99,
    configuration: Responder.Configuration = .init()
) -> Responder {
    Responder(
        identity: Keys.responder, trustedSenders: trusted, configuration: configuration,
        random: SplitMix64(seed: seed), now: .zero)
}

extension SessionSealer {
    mutating func seal(_ plaintext: [UInt8]) -> [UInt8] {
        var datagram = [UInt8](repeating: 0, count: plaintext.count + SecureDatagram.sealedOverhead)
        let size = datagram.withUnsafeMutableBytes { datagram in
            plaintext.withUnsafeBytes { seal($0, into: datagram) }
        }
        return Array(datagram[..<size!])
    }
}

extension SessionOpener {
    mutating func open(_ datagram: [UInt8]) -> [UInt8]? {
        var plaintext = [UInt8](repeating: 0, count: max(0, datagram.count - SecureDatagram.sealedOverhead))
        let size = plaintext.withUnsafeMutableBytes { plaintext in
            datagram.withUnsafeBytes { open($0, into: plaintext) }
        }
        return size.map { Array(plaintext[..<$0]) }
    }
}

func hexBytes(_ text: some StringProtocol) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace && $0 != "|" })
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(digits[$0...$0 + 1]), radix: 16)! }
}
