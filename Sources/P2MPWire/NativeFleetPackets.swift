/// One page of a spool listing (LISTING): entries `cursor ..< cursor + entries.count` of
/// `total`, in name order.
public struct NativeListing: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var size: UInt64
        /// Seconds since 1970 of the file's last change.
        public var modified: UInt64
        public var sha256: ContentDigest

        public init(name: String, size: UInt64, modified: UInt64, sha256: ContentDigest) {
            self.name = name
            self.size = size
            self.modified = modified
            self.sha256 = sha256
        }

        /// Bytes this entry takes in a LISTING body.
        public var encodedSize: Int { 8 + 8 + 32 + 2 + name.utf8.count }
    }

    public var total: UInt32
    public var cursor: UInt32
    public var entries: [Entry]

    public init(total: UInt32, cursor: UInt32, entries: [Entry]) {
        self.total = total
        self.cursor = cursor
        self.entries = entries
    }

    /// Body bytes a daemon may fill with entries so the datagram stays under 60,000 bytes.
    public static let entryBudget = 60_000
}

/// The outcome of a MOVE or REMOVE (RESULT).
public struct NativeResult: Equatable, Sendable {
    public enum Status: Hashable, Sendable {
        case done
        /// The daemon's configuration does not allow it from this address.
        case refused
        case notFound
        /// The new name is taken.
        case exists
        case failed
        /// The request came in clear, which the daemon serves only from loopback and only
        /// while it has no trusted-senders file (`NativeRejectReason.authenticationRequired`).
        case authenticationRequired
        /// A value this version does not name.
        case unknown(UInt8)

        public init(rawValue: UInt8) {
            switch rawValue {
            case 0: self = .done
            case 1: self = .refused
            case 2: self = .notFound
            case 3: self = .exists
            case 4: self = .failed
            case 5: self = .authenticationRequired
            default: self = .unknown(rawValue)
            }
        }

        public var rawValue: UInt8 {
            switch self {
            case .done: 0
            case .refused: 1
            case .notFound: 2
            case .exists: 3
            case .failed: 4
            case .authenticationRequired: 5
            case .unknown(let value): value
            }
        }
    }

    public var status: Status
    public var text: String

    public init(status: Status, text: String = "") {
        self.status = status
        self.text = text
    }

    /// The text a client prints: the daemon's, or for `authenticationRequired` the
    /// explanation (the daemon's text goes along only when it fits the request's size).
    public var explanation: String {
        status == .authenticationRequired ? NativeRejectReason.authenticationRequiredExplanation : text
    }
}
