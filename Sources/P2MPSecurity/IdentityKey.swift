@preconcurrency import Crypto
import P2MPWire

/// An Ed25519 public key that names a sender or a host: what trusted-senders and known-hosts
/// files hold, what a handshake proves possession of.
public struct IdentityKey: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes of the Ed25519 public key (RFC 8032).
    public let rawRepresentation: [UInt8]

    /// The key with these 32 bytes, or nil when they are not a valid Ed25519 public key.
    public init?(rawRepresentation: some Collection<UInt8>) {
        let bytes = Array(rawRepresentation)
        guard bytes.count == SecureDatagram.keySize,
            (try? Curve25519.Signing.PublicKey(rawRepresentation: bytes)) != nil
        else { return nil }
        self.rawRepresentation = bytes
    }

    public init(_ key: Curve25519.Signing.PublicKey) {
        rawRepresentation = Array(key.rawRepresentation)
    }

    /// `SHA256:` and the unpadded base64 of the key's SHA-256, as ssh shows fingerprints.
    public var fingerprint: String {
        "SHA256:" + Base64.encode(Array(SHA256.hash(data: rawRepresentation)), padded: false)
    }

    public var description: String { fingerprint }

    var signingKey: Curve25519.Signing.PublicKey {
        // Checked at construction.
        try! Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
    }
}
