@preconcurrency import Crypto
// swift-crypto's AEADs speak Foundation's Data; only this file touches it.
import Foundation
import P2MPWire

/// The AEADs swift-crypto offers that fit a per-packet counter nonce. Sessions seal with
/// `PacketCipher.session`; the other stays for `bench/aead`, which measured the choice
/// (docs/SECURITY.md, "Why AES-256-GCM").
public enum PacketCipher: Sendable, CaseIterable, CustomStringConvertible {
    case aes256GCM
    case chaCha20Poly1305

    /// What every session uses.
    public static let session = PacketCipher.aes256GCM

    public var description: String {
        switch self {
        case .aes256GCM: "AES-256-GCM"
        case .chaCha20Poly1305: "ChaCha20-Poly1305"
        }
    }
}

/// One direction's AEAD key and IV. The nonce of packet `n` is the IV XOR `n` as a 96-bit
/// big-endian number (RFC 8446, section 5.3), so no nonce repeats under a key while counters
/// do not.
public struct TrafficKey: Sendable {
    public let cipher: PacketCipher
    let key: SymmetricKey
    private let ivHigh: UInt32
    private let ivLow: UInt64

    /// `iv` is 12 bytes (checked).
    init(cipher: PacketCipher, key: SymmetricKey, iv: [UInt8]) {
        precondition(iv.count == 12 && key.bitCount == 256, "traffic key sizes")
        self.cipher = cipher
        self.key = key
        ivHigh = iv.withUnsafeBytes { $0.loadBigEndianUInt32(at: 0) }
        ivLow = iv.withUnsafeBytes { $0.loadBigEndianUInt64(at: 4) }
    }

    /// A key for tests and benchmarks: 32 key bytes and 12 IV bytes.
    public init(cipher: PacketCipher, keyBytes: [UInt8], iv: [UInt8]) {
        self.init(cipher: cipher, key: SymmetricKey(data: keyBytes), iv: iv)
    }

    /// Three 32-bit words, so the tuple is exactly the 12 nonce bytes with no padding.
    private func nonceBytes(_ counter: UInt64) -> (UInt32, UInt32, UInt32) {
        let low = ivLow ^ counter
        return (ivHigh.bigEndian, UInt32(truncatingIfNeeded: low >> 32).bigEndian, UInt32(truncatingIfNeeded: low).bigEndian)
    }

    /// Seals `plaintext` as packet `counter`, authenticating `header`, and writes ciphertext
    /// then tag at the start of `destination` (at least `plaintext.count + 16` bytes, checked).
    /// Returns the bytes written.
    ///
    /// swift-crypto returns the result in a fresh `Data`, so this allocates and copies once;
    /// it has no API that writes into a caller's buffer (docs/SECURITY.md, "Cost").
    public func seal(
        _ plaintext: UnsafeRawBufferPointer, counter: UInt64, authenticating header: UnsafeRawBufferPointer,
        into destination: UnsafeMutableRawBufferPointer
    ) -> Int {
        let size = plaintext.count + SecureDatagram.tagSize
        precondition(destination.count >= size, "sealed destination too small")
        var nonce = nonceBytes(counter)
        // Sealing fails only for a wrong key or nonce size, which the initializer rules out.
        switch cipher {
        case .aes256GCM:
            let box = try! withUnsafeBytes(of: &nonce) { nonce in
                try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce(data: nonce), authenticating: header)
            }
            copy(box.ciphertext, box.tag, to: destination)
        case .chaCha20Poly1305:
            let box = try! withUnsafeBytes(of: &nonce) { nonce in
                try ChaChaPoly.seal(plaintext, using: key, nonce: ChaChaPoly.Nonce(data: nonce), authenticating: header)
            }
            copy(box.ciphertext, box.tag, to: destination)
        }
        return size
    }

    /// Opens `sealed` (ciphertext then tag) as packet `counter`, checking `header`, and writes
    /// the plaintext at the start of `destination` (at least `sealed.count - 16` bytes,
    /// checked; it must not overlap `sealed`). Returns the plaintext's size, or nil when the
    /// datagram does not authenticate (nothing is written then).
    public func open(
        _ sealed: UnsafeRawBufferPointer, counter: UInt64, authenticating header: UnsafeRawBufferPointer,
        into destination: UnsafeMutableRawBufferPointer
    ) -> Int? {
        guard sealed.count >= SecureDatagram.tagSize else { return nil }
        let size = sealed.count - SecureDatagram.tagSize
        precondition(destination.count >= size, "opened destination too small")
        let ciphertext = UnsafeRawBufferPointer(rebasing: sealed[..<size])
        let tag = UnsafeRawBufferPointer(rebasing: sealed[size...])
        var nonce = nonceBytes(counter)
        let opened: Data?
        switch cipher {
        case .aes256GCM:
            opened = withUnsafeBytes(of: &nonce) { nonce in
                guard let box = try? AES.GCM.SealedBox(nonce: AES.GCM.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
                else { return nil }
                return try? AES.GCM.open(box, using: key, authenticating: header)
            }
        case .chaCha20Poly1305:
            opened = withUnsafeBytes(of: &nonce) { nonce in
                guard
                    let box = try? ChaChaPoly.SealedBox(
                        nonce: ChaChaPoly.Nonce(data: nonce), ciphertext: ciphertext, tag: tag)
                else { return nil }
                return try? ChaChaPoly.open(box, using: key, authenticating: header)
            }
        }
        guard let opened, opened.count == size else { return nil }
        opened.withUnsafeBytes { destination.copyMemory(from: $0) }
        return size
    }

    /// Copies with `withUnsafeBytes`: `Data.copyBytes` walks generic regions, several
    /// times slower per datagram.
    private func copy(_ ciphertext: Data, _ tag: Data, to destination: UnsafeMutableRawBufferPointer) {
        let count = ciphertext.count
        ciphertext.withUnsafeBytes { destination.copyMemory(from: $0) }
        tag.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: destination[count...]).copyMemory(from: $0) }
    }
}
