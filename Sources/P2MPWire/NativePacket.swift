/// The packet types of the native v1 format, as the type byte carries them.
public enum NativePacketType: UInt8, CaseIterable, Hashable, Sendable {
    /// Sender → receiver: a file it wants to push.
    case offer = 0x01
    /// Receiver → sender: go ahead, from this segment on.
    case accept = 0x02
    /// Receiver → sender: this offer is refused.
    case reject = 0x03
    /// Sender → receiver: one segment of the file.
    case data = 0x04
    /// Receiver → sender: cumulative and selective acknowledgement.
    case ack = 0x05
    /// Receiver → sender: the outcome of the transfer once every segment arrived.
    case complete = 0x06
    /// Sender → receiver: "what is your state?"; no body.
    case probe = 0x07
    /// Either direction: the transfer is abandoned.
    case abort = 0x08
    /// Client → daemon: list the spool from an entry on.
    case list = 0x09
    /// Daemon → client: one page of the spool's listing.
    case listing = 0x0A
    /// Client → daemon: rename a file in the spool.
    case move = 0x0B
    /// Client → daemon: delete a file from the spool.
    case remove = 0x0C
    /// Daemon → client: the outcome of a MOVE or REMOVE, or why a GET is refused.
    case result = 0x0D
    /// Client → daemon: send me this file (the daemon answers with an OFFER of it).
    case get = 0x0E
}

/// The fixed part of every native packet.
public struct NativeHeader: Hashable, Sendable {
    public var type: NativePacketType
    /// The random 64-bit id the sender drew for this transfer; routes every packet.
    public var transferID: UInt64

    public init(type: NativePacketType, transferID: UInt64) {
        self.type = type
        self.transferID = transferID
    }
}

/// One native v1 packet, without its transfer id.
public enum NativePacket: Equatable, Sendable {
    case offer(NativeOffer)
    case accept(NativeAccept)
    case reject(NativeRejection)
    case data(NativeDataSegment)
    case ack(NativeAck)
    case complete(NativeCompletion)
    case probe
    case abort(NativeRejection)
    case list(cursor: UInt32)
    case listing(NativeListing)
    case move(from: String, to: String)
    case remove(name: String)
    case result(NativeResult)
    case get(name: String)

    /// The type byte this packet is sent with.
    public var type: NativePacketType {
        switch self {
        case .offer: .offer
        case .accept: .accept
        case .reject: .reject
        case .data: .data
        case .ack: .ack
        case .complete: .complete
        case .probe: .probe
        case .abort: .abort
        case .list: .list
        case .listing: .listing
        case .move: .move
        case .remove: .remove
        case .result: .result
        case .get: .get
        }
    }
}

/// A whole native datagram: a packet and the transfer it belongs to.
///
/// Layout (big-endian): magic "P2" (0x50 0x32) | version 1 | type | transfer id (8 bytes) |
/// type-specific body | CRC-32C of every preceding byte (4 bytes). See docs/PROTOCOL.md.
public struct NativeDatagram: Equatable, Sendable {
    public var transferID: UInt64
    public var packet: NativePacket

    public init(transferID: UInt64, packet: NativePacket) {
        self.transferID = transferID
        self.packet = packet
    }

    public var header: NativeHeader { NativeHeader(type: packet.type, transferID: transferID) }

    /// The first two bytes of every native datagram, "P2".
    public static let magic: UInt16 = 0x5032
    public static let version: UInt8 = 1
    /// Magic, version, type and transfer id.
    public static let headerSize = 12
    /// The CRC-32C trailer.
    public static let checksumSize = 4
    /// The smallest valid datagram: a PROBE, header and CRC only.
    public static let minimumSize = headerSize + checksumSize
    /// Header, segment number and timestamp of a DATA packet; the payload follows.
    public static let dataHeaderSize = headerSize + 12
    /// The largest DATA payload.
    public static let maximumPayload = 65_000
    /// The largest valid datagram of any type (a DATA packet with the largest payload), so
    /// a receive buffer of this size never truncates a valid datagram.
    public static let maximumSize = dataHeaderSize + maximumPayload + checksumSize
    /// File names in an OFFER are 1...4096 UTF-8 bytes.
    public static let maximumNameLength = 4096
    /// Texts in REJECT, COMPLETE and ABORT are at most 1024 UTF-8 bytes.
    public static let maximumTextLength = 1024
    /// An ACK carries at most 16 SACK ranges.
    public static let maximumSACKRanges = 16
}

/// A SHA-256 digest: 32 bytes, kept inline (no allocation).
public struct ContentDigest: Hashable, Sendable, CustomStringConvertible {
    public static let byteCount = 32

    /// The digest as four big-endian 64-bit words, first byte in the top of `words.0`.
    public var words: (UInt64, UInt64, UInt64, UInt64)

    public init(words: (UInt64, UInt64, UInt64, UInt64)) {
        self.words = words
    }

    /// The digest with these 32 bytes, or nil for any other count.
    public init?(_ bytes: some Collection<UInt8>) {
        guard bytes.count == Self.byteCount else { return nil }
        var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        for (index, byte) in bytes.enumerated() {
            switch index / 8 {
            case 0: words.0 = words.0 << 8 | UInt64(byte)
            case 1: words.1 = words.1 << 8 | UInt64(byte)
            case 2: words.2 = words.2 << 8 | UInt64(byte)
            default: words.3 = words.3 << 8 | UInt64(byte)
            }
        }
        self.words = words
    }

    /// All zero bytes.
    public static let zero = ContentDigest(words: (0, 0, 0, 0))

    /// The 32 bytes in order.
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.byteCount)
        append(to: &bytes)
        return bytes
    }

    /// Appends the 32 bytes to `buffer`.
    public func append(to buffer: inout [UInt8]) {
        buffer.appendBigEndian(words.0)
        buffer.appendBigEndian(words.1)
        buffer.appendBigEndian(words.2)
        buffer.appendBigEndian(words.3)
    }

    /// Lowercase hex, 64 digits.
    public var description: String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        text.reserveCapacity(2 * Self.byteCount)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public static func == (lhs: ContentDigest, rhs: ContentDigest) -> Bool {
        lhs.words == rhs.words
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }
}

/// OFFER: the sender proposes a file.
public struct NativeOffer: Equatable, Sendable {
    /// Bytes per segment; every segment but the last is full.
    public var segmentSize: UInt32
    public var fileSize: UInt64
    /// The SHA-256 of the whole file.
    public var sha256: ContentDigest
    /// The sender's largest window, in segments.
    public var window: UInt32
    public var flags: NativeOfferFlags
    /// The file name: 1...4096 UTF-8 bytes. Path rules are the spool's business, not the codec's.
    public var name: String

    public init(
        segmentSize: UInt32, fileSize: UInt64, sha256: ContentDigest, window: UInt32,
        flags: NativeOfferFlags = [], name: String
    ) {
        self.segmentSize = segmentSize
        self.fileSize = fileSize
        self.sha256 = sha256
        self.window = window
        self.flags = flags
        self.name = name
    }
}

/// The flags word of an OFFER. Bits without a name are carried through unchanged.
public struct NativeOfferFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32

    public init(rawValue: UInt32) {
        self.rawValue = rawValue
    }

    /// Bit 0: replace a file of the same name that has different content.
    public static let replaceExisting = NativeOfferFlags(rawValue: 1 << 0)
    /// Bit 1: the sender reads a reception report in COMPLETE. A receiver appends one only
    /// when this bit is set, so a sender that predates reports never gets one.
    public static let receptionReport = NativeOfferFlags(rawValue: 1 << 1)
}

/// ACCEPT: the receiver takes the offer.
public struct NativeAccept: Equatable, Sendable {
    /// Segments `0..<resumeFrom` are already held and verified; send from here on.
    public var resumeFrom: UInt64
    /// The receiver's advertised window, in segments.
    public var window: UInt32
    /// The receiver already holds exactly this content; no data is needed. Sent as 1 (true)
    /// or 0; any other byte is a decoding error.
    public var alreadyComplete: Bool

    public init(resumeFrom: UInt64, window: UInt32, alreadyComplete: Bool = false) {
        self.resumeFrom = resumeFrom
        self.window = window
        self.alreadyComplete = alreadyComplete
    }
}

/// Why an offer was rejected or a transfer aborted.
public enum NativeRejectReason: Hashable, Sendable {
    case tooLarge
    case noSpace
    case nameNotAllowed
    case existsWithDifferentContent
    case busy
    case notAllowedFromAddress
    case malformedOffer
    case internalError
    /// ABORT only: the receiver has no session with this transfer id (it restarted, or the
    /// session expired); the sender offers again to resume.
    case unknownTransfer
    /// ABORT only: the receiver is shutting down; the partial stays for a later resume.
    case shuttingDown
    /// REJECT only: the offer came in clear, which the receiver serves only from loopback
    /// and only while it has no trusted-senders file. Its text goes along only when the
    /// REJECT stays no larger than the OFFER (a forged source draws no more bytes than it
    /// sent), so senders explain the reason themselves (`authenticationRequiredExplanation`).
    case authenticationRequired
    /// A value this version does not name. Decoding only produces it for values 0 and 12
    /// and up; build the named case rather than `.unknown` of a named value.
    case unknown(UInt16)

    /// What a client tells its operator for `authenticationRequired` (REJECT, or RESULT).
    public static let authenticationRequiredExplanation =
        "this daemon serves requests in clear only from its own loopback and only while it has no trusted-senders "
        + "file: make a key (p2mpsend keygen), add its public line to the daemon's trusted-senders and use it (--identity)"

    public init(rawValue: UInt16) {
        switch rawValue {
        case 1: self = .tooLarge
        case 2: self = .noSpace
        case 3: self = .nameNotAllowed
        case 4: self = .existsWithDifferentContent
        case 5: self = .busy
        case 6: self = .notAllowedFromAddress
        case 7: self = .malformedOffer
        case 8: self = .internalError
        case 9: self = .unknownTransfer
        case 10: self = .shuttingDown
        case 11: self = .authenticationRequired
        default: self = .unknown(rawValue)
        }
    }

    public var rawValue: UInt16 {
        switch self {
        case .tooLarge: 1
        case .noSpace: 2
        case .nameNotAllowed: 3
        case .existsWithDifferentContent: 4
        case .busy: 5
        case .notAllowedFromAddress: 6
        case .malformedOffer: 7
        case .internalError: 8
        case .unknownTransfer: 9
        case .shuttingDown: 10
        case .authenticationRequired: 11
        case .unknown(let value): value
        }
    }
}

/// The body of REJECT and of ABORT: a reason and a human-readable text.
public struct NativeRejection: Equatable, Sendable {
    public var reason: NativeRejectReason
    /// At most 1024 UTF-8 bytes on the wire; encoding cuts a longer text at a Unicode
    /// scalar boundary.
    public var text: String

    public init(reason: NativeRejectReason, text: String = "") {
        self.reason = reason
        self.text = text
    }

    /// The text a client prints: the receiver's, or for `authenticationRequired` the
    /// explanation (the receiver's text goes along only when it fits the offer's size).
    public var explanation: String {
        reason == .authenticationRequired ? NativeRejectReason.authenticationRequiredExplanation : text
    }
}

/// DATA: one segment of the file.
public struct NativeDataSegment: Equatable, Sendable {
    public var segment: UInt64
    /// The sender's clock in microseconds, echoed back in ACKs for RTT samples.
    public var timestamp: UInt32
    /// Where the payload lies in the buffer the datagram was decoded from (0...65,000 bytes).
    public var payload: Range<Int>

    public init(segment: UInt64, timestamp: UInt32, payload: Range<Int>) {
        self.segment = segment
        self.timestamp = timestamp
        self.payload = payload
    }
}

/// ACK: what the receiver holds.
public struct NativeAck: Equatable, Sendable {
    /// Segments `0..<cumulative` are held.
    public var cumulative: UInt64
    /// The receiver's advertised window, in segments.
    public var window: UInt32
    /// The timestamp of the DATA packet that triggered this ACK.
    public var echoTimestamp: UInt32
    /// Further segments held above `cumulative`: at most 16 non-empty half-open ranges, in
    /// increasing order, none overlapping another (they may touch), none starting below
    /// `cumulative`.
    public var selective: SACKRanges

    public init(cumulative: UInt64, window: UInt32, echoTimestamp: UInt32, selective: SACKRanges = []) {
        self.cumulative = cumulative
        self.window = window
        self.echoTimestamp = echoTimestamp
        self.selective = selective
    }
}

/// The outcome a receiver reports in COMPLETE.
public enum NativeCompletionStatus: Hashable, Sendable {
    /// The file is verified and in place.
    case committed
    /// Every segment arrived but the SHA-256 differs from the offer's.
    case digestMismatch
    /// The file could not be written or committed.
    case writeFailed
    /// A value this version does not name (3 and up).
    case unknown(UInt8)

    public init(rawValue: UInt8) {
        switch rawValue {
        case 0: self = .committed
        case 1: self = .digestMismatch
        case 2: self = .writeFailed
        default: self = .unknown(rawValue)
        }
    }

    public var rawValue: UInt8 {
        switch self {
        case .committed: 0
        case .digestMismatch: 1
        case .writeFailed: 2
        case .unknown(let value): value
        }
    }
}

/// COMPLETE: the receiver's verdict on the whole file.
public struct NativeCompletion: Equatable, Sendable {
    public var status: NativeCompletionStatus
    /// The SHA-256 the receiver computed over what it received.
    public var sha256: ContentDigest
    /// At most 1024 UTF-8 bytes on the wire; encoding cuts a longer text at a Unicode
    /// scalar boundary.
    public var text: String
    /// What the receiver saw of the transfer's DATA, when the OFFER asked for it
    /// (`NativeOfferFlags.receptionReport`).
    public var reception: NativeReception?

    public init(status: NativeCompletionStatus, sha256: ContentDigest, text: String = "", reception: NativeReception? = nil) {
        self.status = status
        self.sha256 = sha256
        self.text = text
        self.reception = reception
    }
}

/// Why a datagram is not a valid native v1 packet.
public enum NativeDecodingError: Error, Equatable, Sendable {
    /// Shorter than the 16 bytes of header and CRC.
    case truncated(length: Int)
    /// The first two bytes are not "P2".
    case badMagic(UInt16)
    case unsupportedVersion(UInt8)
    /// The CRC-32C trailer does not match the bytes before it.
    case badChecksum
    /// An intact datagram of a type this version does not know.
    case unknownType(UInt8)
    /// The body (the bytes between header and CRC) has the wrong length for its type: too
    /// short, trailing bytes after a fixed-size body, or a declared name, text or SACK
    /// length that does not match exactly the bytes that remain.
    case wrongBodyLength(type: NativePacketType, length: Int)
    /// A DATA payload longer than 65,000 bytes.
    case payloadTooLong(length: Int)
    /// An OFFER name length of 0 or more than 4096.
    case nameLengthOutOfRange(length: Int)
    /// A REJECT, COMPLETE or ABORT text longer than 1024 bytes.
    case textTooLong(length: Int)
    /// A name or text that is not valid UTF-8.
    case invalidUTF8
    /// An ACCEPT whose alreadyComplete byte is neither 0 nor 1.
    case invalidAlreadyComplete(UInt8)
    /// An ACK with more than 16 SACK ranges.
    case tooManySACKRanges(count: Int)
    /// The SACK range at `index` is empty, starts below the cumulative point, or overlaps
    /// or precedes the range before it.
    case invalidSACKRange(index: Int)
}
