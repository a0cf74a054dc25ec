@preconcurrency import Crypto
import P2MPWire

/// The peer a handshake answers: an address a cookie can bind.
public protocol HandshakePeer: Hashable, Sendable {
    /// The source address and port as the network delivered them, in any fixed encoding:
    /// a cookie is valid only for the bytes it was made for.
    var cookieBytes: [UInt8] { get }
}

extension RandomNumberGenerator {
    /// `count` bytes drawn from the generator.
    mutating func bytes(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count { bytes.appendBigEndian(next() as UInt64) }
        return Array(bytes.prefix(count))
    }

    /// A session id; never 0, so a zeroed field never names a session.
    mutating func sessionID() -> UInt64 {
        while true {
            let id: UInt64 = next()
            if id != 0 { return id }
        }
    }
}

/// The secrets of one handshake once both ephemeral keys are known (RFC 8446, section 7.1).
struct HandshakeSecrets: Sendable {
    /// i hs traffic: the initiator's CONFIRM is sealed and its Finished keyed from it.
    let initiatorSecret: SymmetricKey
    /// r hs traffic: the responder's RESPONSE proof and DONE.
    let responderSecret: SymmetricKey
    private let master: SymmetricKey

    /// `transcriptHash` is Transcript-Hash(INITIATE, RESPONSE's clear part); nil when the
    /// peer's ephemeral key is not a valid X25519 key or gives the all-zero shared secret
    /// (RFC 8446, section 7.4.2: a low-order point).
    init?(ephemeral: Curve25519.KeyAgreement.PrivateKey, peerEphemeral: UnsafeRawBufferPointer, transcriptHash: [UInt8]) {
        guard let peer = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: peerEphemeral),
            let shared = try? ephemeral.sharedSecretFromKeyAgreement(with: peer)
        else { return nil }
        let sharedBytes = shared.withUnsafeBytes { Array($0) }
        guard sharedBytes.reduce(0, |) != 0 else { return nil }
        let handshake = KeySchedule.handshakeSecret(sharedSecret: sharedBytes)
        initiatorSecret = KeySchedule.deriveSecret(handshake, "i hs traffic", transcriptHash: transcriptHash)
        responderSecret = KeySchedule.deriveSecret(handshake, "r hs traffic", transcriptHash: transcriptHash)
        master = KeySchedule.masterSecret(handshakeSecret: handshake)
    }

    var initiatorKey: TrafficKey { KeySchedule.trafficKey(initiatorSecret, cipher: .session) }
    var responderKey: TrafficKey { KeySchedule.trafficKey(responderSecret, cipher: .session) }

    /// The session's traffic keys; `transcriptHash` runs through the responder's Finished.
    func applicationKeys(transcriptHash: [UInt8]) -> (initiator: TrafficKey, responder: TrafficKey) {
        (
            KeySchedule.trafficKey(
                KeySchedule.deriveSecret(master, "i ap traffic", transcriptHash: transcriptHash), cipher: .session),
            KeySchedule.trafficKey(
                KeySchedule.deriveSecret(master, "r ap traffic", transcriptHash: transcriptHash), cipher: .session)
        )
    }
}

/// A side's proof of identity, the plaintext of RESPONSE's and CONFIRM's sealed part: its
/// Ed25519 key (TLS's Certificate), its signature over the transcript so far
/// (CertificateVerify), and an HMAC over the transcript under its finished key (Finished).
enum HandshakeProof {
    enum Failure: Error, Equatable, Sendable {
        case malformed
        case badSignature
        case badFinished
    }

    /// Builds the proof and appends its three parts to `transcript`.
    static func make(
        identity: Curve25519.Signing.PrivateKey, context: String, trafficSecret: SymmetricKey,
        transcript: inout Transcript
    ) -> [UInt8] {
        let key = Array(identity.publicKey.rawRepresentation)
        transcript.append(key)
        // Signing fails only when the system cannot allocate; a handshake cannot go on then.
        let signature = try! Array(
            identity.signature(for: SignatureContent.bytes(context: context, transcriptHash: transcript.current)))
        transcript.append(signature)
        let finished = Array(
            HMAC<SHA256>.authenticationCode(
                for: transcript.current, using: KeySchedule.finishedKey(trafficSecret)))
        transcript.append(finished)
        var proof: [UInt8] = []
        proof.reserveCapacity(SecureDatagram.proofSize)
        SecureDatagram.appendProof(identityKey: key, signature: signature, finished: finished, to: &proof)
        return proof
    }

    /// Checks a proof's signature and Finished and appends its parts to `transcript`;
    /// returns the key it proves.
    static func verify(
        _ plaintext: UnsafeRawBufferPointer, context: String, trafficSecret: SymmetricKey,
        transcript: inout Transcript
    ) -> Result<IdentityKey, Failure> {
        guard let proof = try? SecureDatagram.decodeProof(plaintext),
            let key = IdentityKey(rawRepresentation: UnsafeRawBufferPointer(rebasing: plaintext[proof.identityKey]))
        else { return .failure(.malformed) }
        transcript.append(key.rawRepresentation)
        let signature = UnsafeRawBufferPointer(rebasing: plaintext[proof.signature])
        let content = SignatureContent.bytes(context: context, transcriptHash: transcript.current)
        guard key.signingKey.isValidSignature(signature, for: content) else { return .failure(.badSignature) }
        transcript.append(signature)
        let finished = UnsafeRawBufferPointer(rebasing: plaintext[proof.finished])
        guard
            HMAC<SHA256>.isValidAuthenticationCode(
                finished, authenticating: transcript.current, using: KeySchedule.finishedKey(trafficSecret))
        else { return .failure(.badFinished) }
        transcript.append(finished)
        return .success(key)
    }
}

/// Seals and opens the handshake's own records: RESPONSE's and CONFIRM's proofs (record 0
/// of their side's handshake key) and DONE (record 1 of the responder's), each
/// authenticating the clear bytes before it.
enum HandshakeRecord {
    static func seal(_ plaintext: [UInt8], key: TrafficKey, record: UInt64, clearPart: [UInt8]) -> [UInt8] {
        var datagram = clearPart + [UInt8](repeating: 0, count: plaintext.count + SecureDatagram.tagSize)
        let clearCount = clearPart.count
        datagram.withUnsafeMutableBytes { datagram in
            plaintext.withUnsafeBytes { plaintext in
                _ = key.seal(
                    plaintext, counter: record, authenticating: UnsafeRawBufferPointer(rebasing: datagram[..<clearCount]),
                    into: UnsafeMutableRawBufferPointer(rebasing: datagram[clearCount...]))
            }
        }
        return datagram
    }

    /// The plaintext of `datagram[sealed]`, authenticated with `datagram[..<sealed.lowerBound]`.
    static func open(
        _ datagram: UnsafeRawBufferPointer, sealed: Range<Int>, key: TrafficKey, record: UInt64
    ) -> [UInt8]? {
        var plaintext = [UInt8](repeating: 0, count: max(0, sealed.count - SecureDatagram.tagSize))
        let size = plaintext.withUnsafeMutableBytes {
            key.open(
                UnsafeRawBufferPointer(rebasing: datagram[sealed]), counter: record,
                authenticating: UnsafeRawBufferPointer(rebasing: datagram[..<sealed.lowerBound]), into: $0)
        }
        return size == nil ? nil : plaintext
    }
}
