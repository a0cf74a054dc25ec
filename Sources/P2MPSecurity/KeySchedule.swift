@preconcurrency import Crypto
import P2MPWire

/// TLS 1.3's key schedule (RFC 8446, section 7.1) without pre-shared keys, over HKDF-SHA256
/// (RFC 5869), with the label prefix "p2mp1 " where TLS writes "tls13 ". Nothing here is new
/// cryptography: the same Extract/Expand-Label/Derive-Secret steps in the same order.
enum KeySchedule {
    static let hashLength = 32
    private static let labelPrefix = Array("p2mp1 ".utf8)
    private static let zeros = [UInt8](repeating: 0, count: hashLength)
    /// SHA-256 of nothing: Transcript-Hash("") in Derive-Secret(., "derived", "").
    private static let emptyHash = Array(SHA256.hash(data: [UInt8]()))

    /// HKDF-Expand-Label(secret, label, context, length).
    static func expandLabel(_ secret: SymmetricKey, _ label: String, context: [UInt8], length: Int) -> SymmetricKey {
        let fullLabel = labelPrefix + Array(label.utf8)
        var info: [UInt8] = []
        info.reserveCapacity(4 + fullLabel.count + context.count)
        info.appendBigEndian(UInt16(length))
        info.append(UInt8(fullLabel.count))
        info += fullLabel
        info.append(UInt8(context.count))
        info += context
        return HKDF<SHA256>.expand(pseudoRandomKey: secret, info: info, outputByteCount: length)
    }

    /// Derive-Secret(secret, label, messages), given Transcript-Hash(messages).
    static func deriveSecret(_ secret: SymmetricKey, _ label: String, transcriptHash: [UInt8]) -> SymmetricKey {
        expandLabel(secret, label, context: transcriptHash, length: hashLength)
    }

    /// HKDF-Extract(salt, input).
    static func extract(salt: SymmetricKey, input: [UInt8]) -> SymmetricKey {
        let prk = salt.withUnsafeBytes { salt in
            HKDF<SHA256>.extract(inputKeyMaterial: SymmetricKey(data: input), salt: Array(salt))
        }
        return SymmetricKey(data: prk)
    }

    /// Handshake Secret = HKDF-Extract(Derive-Secret(Early Secret, "derived", ""), DH), with
    /// Early Secret = HKDF-Extract(0, 0).
    static func handshakeSecret(sharedSecret: [UInt8]) -> SymmetricKey {
        let early = extract(salt: SymmetricKey(data: zeros), input: zeros)
        return extract(salt: deriveSecret(early, "derived", transcriptHash: emptyHash), input: sharedSecret)
    }

    /// Master Secret = HKDF-Extract(Derive-Secret(Handshake Secret, "derived", ""), 0).
    static func masterSecret(handshakeSecret: SymmetricKey) -> SymmetricKey {
        extract(salt: deriveSecret(handshakeSecret, "derived", transcriptHash: emptyHash), input: zeros)
    }

    /// finished_key = HKDF-Expand-Label(BaseKey, "finished", "", 32).
    static func finishedKey(_ trafficSecret: SymmetricKey) -> SymmetricKey {
        expandLabel(trafficSecret, "finished", context: [], length: hashLength)
    }

    /// The write key and IV of a traffic secret (RFC 8446, section 7.3).
    static func trafficKey(_ trafficSecret: SymmetricKey, cipher: PacketCipher) -> TrafficKey {
        let key = expandLabel(trafficSecret, "key", context: [], length: 32)
        let iv = expandLabel(trafficSecret, "iv", context: [], length: 12).withUnsafeBytes { Array($0) }
        return TrafficKey(cipher: cipher, key: key, iv: iv)
    }
}

/// The running transcript hash of a handshake: SHA-256 over the messages in order, read at
/// any point without ending it (Transcript-Hash in RFC 8446, section 4.4.1).
struct Transcript: Sendable {
    private var hash = SHA256()

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        hash.update(bufferPointer: bytes)
    }

    mutating func append(_ bytes: [UInt8]) {
        hash.update(data: bytes)
    }

    /// The hash of everything appended so far.
    var current: [UInt8] { Array(hash.finalize()) }
}

/// What each side signs (RFC 8446, section 4.4.3): 64 spaces, a context string naming the
/// signer's role, a zero byte, and the transcript hash.
enum SignatureContent {
    static let responder = "p2mp1 responder signature"
    static let initiator = "p2mp1 initiator signature"

    static func bytes(context: String, transcriptHash: [UInt8]) -> [UInt8] {
        [UInt8](repeating: 0x20, count: 64) + Array(context.utf8) + [0] + transcriptHash
    }
}
