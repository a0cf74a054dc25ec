@preconcurrency import Crypto
import P2MPSecurity

/// The long-term keys of every secure scenario. They are fixed, so an earlier push the
/// attacker recorded was made under the same identities as the run it is replayed into,
/// as a real earlier push would have been.
public enum SimulationIdentities {
    /// The honest sender: trusted with `push` and `read` by every receiver.
    public static let sender = key(0x51)
    /// A key the attacker made: no receiver trusts it.
    public static let untrusted = key(0xA7)
    /// An insider's key: trusted with `read` only, so it may open a session but not push.
    public static let insider = key(0xA8)
    /// Each receiver's host key, which the sender pins.
    public static let hosts = (0..<SecureScenario.shape.receivers.upperBound).map { key(0x70 + UInt8($0) * 0x10) }

    public static let senderKey = IdentityKey(sender.publicKey)
    public static let untrustedKey = IdentityKey(untrusted.publicKey)
    public static let insiderKey = IdentityKey(insider.publicKey)
    public static let hostKeys = hosts.map { IdentityKey($0.publicKey) }

    /// Every receiver's trusted-senders list.
    public static let trustedSenders = TrustedSenders([
        senderKey: SenderGrant(rights: .default, comment: "sender"),
        insiderKey: SenderGrant(rights: .read, comment: "insider"),
    ])

    /// A key from 32 consecutive bytes starting at `first`.
    static func key(_ first: UInt8) -> Curve25519.Signing.PrivateKey {
        // Any 32 bytes are an Ed25519 seed.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: (0..<32).map { first &+ UInt8($0) })
    }
}
