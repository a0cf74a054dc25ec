// The fuzz binary's stand-in for P2MPSecurity's IdentityKey. scripts/fuzz.sh compiles it
// with the real Base64.swift and SenderRights.swift as the module P2MPSecurity, so that the
// key-file parsers of P2MPKeys build without swift-crypto (whose BoringSSL the script does
// not build). It accepts what the real one accepts on Linux, where swift-crypto's Ed25519
// public key checks only the length (32 bytes); its fingerprint is not a digest. `swift
// test` replays the corpus through the real IdentityKey.

/// A 32-byte Ed25519 public key, as far as the parsers can tell.
public struct IdentityKey: Hashable, Sendable, CustomStringConvertible {
    public let rawRepresentation: [UInt8]

    public init?(rawRepresentation: some Collection<UInt8>) {
        let bytes = Array(rawRepresentation)
        guard bytes.count == 32 else { return nil }
        self.rawRepresentation = bytes
    }

    /// Distinct per key, like the real fingerprint, but the key itself rather than its SHA-256.
    public var fingerprint: String { "KEY:" + Base64.encode(rawRepresentation, padded: false) }

    public var description: String { fingerprint }
}
