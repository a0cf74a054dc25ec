import Foundation
import P2MPSecurity
import P2MPWire
import Testing

/// The `secure-test-vectors` block of docs/PROTOCOL.md, computed by scripts/secure_vectors.py
/// (Python's `cryptography`, HKDF and transcript written apart from the Swift code). The
/// machines, fed the same fixed keys in place of random draws, must produce every message
/// byte for byte: that checks the layouts, the key schedule, the transcript, the
/// signatures, the Finished MACs, the AEAD and its nonces against a second implementation.
@Suite struct DocumentedVectorTests {
    static let vectors: [String: [UInt8]] = {
        let document = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/PROTOCOL.md")
        let text = (try? String(contentsOf: document, encoding: .utf8)) ?? ""
        var vectors: [String: [UInt8]] = [:]
        var inBlock = false
        for line in text.split(separator: "\n") {
            if line.hasPrefix("```") {
                inBlock = line == "```secure-test-vectors \(PacketCipher.session.vectorName)"
                continue
            }
            guard inBlock, let arrow = line.range(of: " => ") else { continue }
            vectors[String(line[..<arrow.lowerBound])] = hexBytes(line[arrow.upperBound...])
        }
        return vectors
    }()

    static func vector(_ label: String) -> [UInt8] {
        guard let bytes = vectors[label] else {
            Issue.record("docs/PROTOCOL.md has no secure vector '\(label)'")
            return []
        }
        return bytes
    }

    /// The initiator's draws: session id, then the ephemeral key's 32 bytes.
    static func initiatorRandom() -> ScriptedRandom {
        ScriptedRandom([0x0123_4567_89AB_CDEF] + ScriptedRandom.words(Array(0x41...0x60)))
    }

    /// The responder's draws: the cookie secret, then per handshake a session id and an ephemeral key.
    static func responderRandom() -> ScriptedRandom {
        ScriptedRandom(
            ScriptedRandom.words(Array(0x81...0xA0)) + [0xFEDC_BA98_7654_3210] + ScriptedRandom.words(Array(0x61...0x80)))
    }

    @Test func theBlockIsThere() {
        #expect(Self.vectors.count >= 18, "read \(Self.vectors.count) vectors")
    }

    @Test func handshakeAndFirstSealedDatagramsMatchTheDocument() throws {
        var random = Self.initiatorRandom()
        var initiator = HandshakeInitiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        var responder = HandshakeResponder<TestPeer, ScriptedRandom>(
            identity: Keys.responder, trustedSenders: Keys.trusting(Keys.initiatorKey, [.push, .read]),
            random: Self.responderRandom(), now: .zero)

        let initiate = try #require(initiator.transmits().first)
        #expect(initiate == Self.vector("initiate"))
        responder.handle(initiate, from: .sender, now: .zero)
        let response = try #require(responder.transmits().first?.datagram)
        #expect(response == Self.vector("response"))
        initiator.handle(response, now: .zero)
        let confirm = try #require(initiator.transmits().first)
        #expect(confirm == Self.vector("confirm"))
        responder.handle(confirm, from: .sender, now: .zero)
        let done = try #require(responder.transmits().first?.datagram)
        #expect(done == Self.vector("done-accepted"))
        initiator.handle(done, now: .zero)

        guard case .established(var sender) = initiator.pollEvent(),
            case .established(var receiver, _) = responder.pollEvent()
        else {
            Issue.record("the handshake did not establish both sides")
            return
        }
        #expect(sender.rights == [.push, .read])
        let probe = hexBytes("50 32 01 07 00 00 00 00 00 00 00 01") + crc(hexBytes("50 32 01 07 00 00 00 00 00 00 00 01"))
        #expect(sender.sealer.seal(probe) == Self.vector("sealed-initiator-0"))
        #expect(receiver.sealer.seal(Array("hello".utf8)) == Self.vector("sealed-responder-0"))
        for _ in 1..<7 { _ = sender.sealer.seal([0]) }
        #expect(sender.sealer.seal(Array("hello".utf8)) == Self.vector("sealed-initiator-7"))
        #expect(receiver.opener.open(Self.vector("sealed-initiator-0")) == probe)
        #expect(receiver.opener.open(Self.vector("sealed-initiator-7")) == Array("hello".utf8))
        #expect(sender.opener.open(Self.vector("sealed-responder-0")) == Array("hello".utf8))
    }

    @Test func retryAndTheRefusalMatchTheDocument() throws {
        var random = Self.initiatorRandom()
        var initiator = HandshakeInitiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &random, now: .zero)
        var loaded = HandshakeResponder<TestPeer, ScriptedRandom>(
            identity: Keys.responder, trustedSenders: TrustedSenders(),
            configuration: .init(cookieThreshold: 0), random: Self.responderRandom(), now: .zero)
        let initiate = try #require(initiator.transmits().first)
        loaded.handle(initiate, from: .sender, now: .zero)
        let retry = try #require(loaded.transmits().first?.datagram)
        #expect(retry == Self.vector("retry"))
        initiator.handle(retry, now: .zero)
        let second = try #require(initiator.transmits().first)
        #expect(second == Self.vector("initiate-with-cookie"))

        // The documented refusal answers the handshake without a cookie, from a responder
        // that trusts nobody.
        var fresh = Self.initiatorRandom()
        var plain = HandshakeInitiator(identity: Keys.initiator, hostKey: .pinned(Keys.responderKey), random: &fresh, now: .zero)
        var strict = HandshakeResponder<TestPeer, ScriptedRandom>(
            identity: Keys.responder, trustedSenders: TrustedSenders(), random: Self.responderRandom(), now: .zero)
        for _ in 0..<2 {
            for datagram in plain.transmits() { strict.handle(datagram, from: .sender, now: .zero) }
            for (_, datagram) in strict.transmits() {
                if datagram[3] == SecureMessageType.done.rawValue { #expect(datagram == Self.vector("done-refused")) }
                plain.handle(datagram, now: .zero)
            }
        }
        let fingerprint = String(decoding: Self.vector("fingerprint-initiator"), as: UTF8.self)
        #expect(Keys.initiatorKey.fingerprint == fingerprint)
        guard case .failed(.refused(let reason)) = plain.pollEvent() else {
            Issue.record("the untrusted initiator was not refused")
            return
        }
        #expect(reason == "key \(fingerprint) is not trusted by this host")
    }
}


extension PacketCipher {
    var vectorName: String {
        switch self {
        case .aes256GCM: "aes-256-gcm"
        case .chaCha20Poly1305: "chacha20-poly1305"
        }
    }
}

/// CRC-32C, bitwise, for the PROBE the vectors seal.
func crc(_ bytes: [UInt8]) -> [UInt8] {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 != 0 ? crc >> 1 ^ 0x82F6_3B78 : crc >> 1 }
    }
    crc ^= 0xFFFF_FFFF
    return [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)]
}
