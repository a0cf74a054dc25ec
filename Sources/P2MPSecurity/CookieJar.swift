@preconcurrency import Crypto
import P2MPWire

/// Stateless cookies, as WireGuard's cookie reply and QUIC's Retry token make them: a MAC
/// under a secret that rotates every `rotation`, over the initiator's address and its
/// INITIATE's session id and ephemeral key. Checking one needs no state per source, only
/// the current and the previous secret, so a cookie lives between one and two rotations.
struct CookieJar: Sendable {
    let rotation: Duration
    private var current: SymmetricKey
    private var previous: SymmetricKey?
    private(set) var nextRotation: Duration

    init(rotation: Duration, random: inout some RandomNumberGenerator, now: Duration) {
        self.rotation = rotation
        current = SymmetricKey(data: random.bytes(32))
        nextRotation = now + rotation
    }

    /// Rotates the secret when its time came; after two rotations' silence both are new.
    mutating func rotate(now: Duration, random: inout some RandomNumberGenerator) {
        guard now >= nextRotation else { return }
        previous = now >= nextRotation + rotation ? nil : current
        current = SymmetricKey(data: random.bytes(32))
        nextRotation = now + rotation
    }

    /// The cookie for this address and INITIATE: HMAC-SHA256 truncated to 16 bytes (RFC 2104, section 5).
    func cookie(address: [UInt8], initiate: UnsafeRawBufferPointer, decoded: SecureInitiate) -> [UInt8] {
        Self.mac(current, address: address, initiate: initiate, decoded: decoded)
    }

    /// Whether `cookie` was made for this address and INITIATE under the current or the
    /// previous secret. Compared in constant time.
    func isValid(
        _ cookie: UnsafeRawBufferPointer, address: [UInt8], initiate: UnsafeRawBufferPointer, decoded: SecureInitiate
    ) -> Bool {
        let secrets = previous.map { [current, $0] } ?? [current]
        var valid = false
        for secret in secrets {
            let expected = Self.mac(secret, address: address, initiate: initiate, decoded: decoded)
            var difference: UInt8 = 0
            for index in 0..<SecureDatagram.cookieSize { difference |= expected[index] ^ cookie[index] }
            valid = valid || difference == 0
        }
        return valid
    }

    private static func mac(
        _ secret: SymmetricKey, address: [UInt8], initiate: UnsafeRawBufferPointer, decoded: SecureInitiate
    ) -> [UInt8] {
        var mac = HMAC<SHA256>(key: secret)
        mac.update(data: [UInt8(truncatingIfNeeded: address.count)] + address)
        mac.update(data: UnsafeRawBufferPointer(rebasing: initiate[4..<SecureDatagram.headerSize]))
        mac.update(data: UnsafeRawBufferPointer(rebasing: initiate[decoded.ephemeralKey]))
        return Array(Array(mac.finalize()).prefix(SecureDatagram.cookieSize))
    }
}
