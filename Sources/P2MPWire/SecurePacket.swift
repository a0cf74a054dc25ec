/// The message types of the secure envelope: version 2 of the "P2" framing, which carries
/// the authenticated handshake and the sealed datagrams of a session (docs/PROTOCOL.md,
/// "Secure envelope"; docs/SECURITY.md says why).
public enum SecureMessageType: UInt8, CaseIterable, Hashable, Sendable {
    /// Initiator → responder, in clear: an ephemeral X25519 key, maybe a cookie, padded.
    case initiate = 0x01
    /// Responder → initiator, in clear: come back with this cookie (the responder is loaded).
    case retry = 0x02
    /// Responder → initiator: its ephemeral key and its sealed proof (identity, signature, MAC).
    case response = 0x03
    /// Initiator → responder: its sealed proof.
    case confirm = 0x04
    /// Responder → initiator, sealed: the verdict on the initiator's key.
    case done = 0x05
    /// Either direction: one datagram of an established session, sealed.
    case sealed = 0x06
}

/// Sizes and offsets of the secure envelope. Every message starts with the same 12 bytes:
/// magic "P2", version 2, type, and a session id whose meaning depends on the type (the
/// initiator's own id in INITIATE, otherwise the id the receiving side chose).
public enum SecureDatagram {
    public static let magic: UInt16 = 0x5032
    public static let version: UInt8 = 2
    /// Magic, version, type and session id.
    public static let headerSize = 12
    /// X25519 and Ed25519 public keys.
    public static let keySize = 32
    /// An Ed25519 signature.
    public static let signatureSize = 64
    /// An HMAC-SHA256 Finished value.
    public static let finishedSize = 32
    /// The AEAD's authentication tag.
    public static let tagSize = 16
    /// A cookie: a truncated HMAC-SHA256 over the initiator's address and first message.
    public static let cookieSize = 16

    /// INITIATE is padded to exactly this size, so no reply to it is larger (RESPONSE 196,
    /// RETRY 28): an unauthenticated source never draws more bytes than it sent.
    public static let initiateSize = 256
    /// Offsets in INITIATE.
    static let initiateEphemeralOffset = headerSize
    static let initiateCookieFlagOffset = initiateEphemeralOffset + keySize
    static let initiateCookieOffset = initiateCookieFlagOffset + 1
    static let initiatePaddingOffset = initiateCookieOffset + cookieSize

    /// RETRY: header and the cookie.
    public static let retrySize = headerSize + cookieSize

    /// The plaintext of the sealed part of RESPONSE and CONFIRM: identity key, signature
    /// over the transcript, Finished MAC.
    public static let proofSize = keySize + signatureSize + finishedSize
    /// RESPONSE: header, responder session id, ephemeral key, sealed proof.
    public static let responseClearSize = headerSize + 8 + keySize
    public static let responseSize = responseClearSize + proofSize + tagSize
    /// CONFIRM: header and the sealed proof.
    public static let confirmSize = headerSize + proofSize + tagSize

    /// DONE's plaintext: status, rights, text length, text.
    public static let doneFixedSize = 3
    /// DONE's text is short so DONE stays smaller than the CONFIRM it answers.
    public static let maximumDoneTextLength = 120
    public static let maximumDoneSize = headerSize + doneFixedSize + maximumDoneTextLength + tagSize

    /// SEALED: header and the 64-bit packet counter, authenticated as the AEAD's associated data.
    public static let sealedHeaderSize = headerSize + 8
    /// Bytes a sealed datagram adds to its plaintext.
    public static let sealedOverhead = sealedHeaderSize + tagSize
    /// The largest plaintext one sealed datagram carries (a whole native v1 DATA datagram).
    public static let maximumSealedPlaintext = NativeDatagram.maximumSize
    /// The largest sealed datagram.
    public static let maximumSealedSize = maximumSealedPlaintext + sealedOverhead
}

/// The fixed part of every secure-envelope datagram.
public struct SecureHeader: Hashable, Sendable {
    public var type: SecureMessageType
    public var session: UInt64

    public init(type: SecureMessageType, session: UInt64) {
        self.type = type
        self.session = session
    }
}

/// A decoded INITIATE. Ranges index the datagram it was decoded from.
public struct SecureInitiate: Hashable, Sendable {
    /// The id the initiator chose for its end of the session.
    public var initiatorSession: UInt64
    public var ephemeralKey: Range<Int>
    public var cookie: Range<Int>?
}

/// A decoded RETRY.
public struct SecureRetry: Hashable, Sendable {
    public var initiatorSession: UInt64
    public var cookie: Range<Int>
}

/// A decoded RESPONSE.
public struct SecureResponse: Hashable, Sendable {
    public var initiatorSession: UInt64
    public var responderSession: UInt64
    public var ephemeralKey: Range<Int>
    /// The sealed proof: ciphertext followed by the tag.
    public var sealedProof: Range<Int>
}

/// A decoded CONFIRM.
public struct SecureConfirm: Hashable, Sendable {
    public var responderSession: UInt64
    public var sealedProof: Range<Int>
}

/// A decoded DONE.
public struct SecureDone: Hashable, Sendable {
    public var initiatorSession: UInt64
    /// The sealed verdict: ciphertext followed by the tag.
    public var sealedVerdict: Range<Int>
}

/// A decoded SEALED datagram's clear part.
public struct SecureSealed: Hashable, Sendable {
    public var receiverSession: UInt64
    public var counter: UInt64
    /// Ciphertext followed by the tag.
    public var sealed: Range<Int>
}

/// The plaintext of a RESPONSE's or CONFIRM's sealed part. Ranges index the plaintext.
public struct SecureProof: Hashable, Sendable {
    public var identityKey: Range<Int>
    public var signature: Range<Int>
    public var finished: Range<Int>
}

/// The responder's verdict on the initiator's key, DONE's plaintext.
public struct SecureVerdict: Hashable, Sendable {
    public enum Status: UInt8, Sendable {
        case accepted = 0
        case refused = 1
    }

    public var status: Status
    /// The rights granted, as `SenderRights` bits (push 1, read 2, manage 4); 0 when refused.
    public var rights: UInt8
    /// Why a key was refused, for the operator; at most 120 bytes of UTF-8.
    public var text: String

    public init(status: Status, rights: UInt8, text: String) {
        self.status = status
        self.rights = rights
        self.text = text
    }
}

/// Why a secure-envelope datagram did not decode.
public enum SecureDecodingError: Error, Equatable, Sendable {
    case truncated(length: Int)
    case badMagic(UInt16)
    case unsupportedVersion(UInt8)
    case unknownType(UInt8)
    /// The datagram's length is not the one its type has.
    case wrongLength(type: SecureMessageType, length: Int)
    /// INITIATE's cookie flag is neither 0 nor 1, or an absent cookie's bytes are not zero.
    case invalidCookieField
    /// INITIATE's padding holds a byte that is not zero.
    case nonZeroPadding
    /// DONE's status is unknown or its text length does not match.
    case invalidVerdict
    case invalidUTF8
}
