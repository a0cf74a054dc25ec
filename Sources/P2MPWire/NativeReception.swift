/// Why a receiver lost a DATA segment.
public enum NativeLossCause: String, CaseIterable, Hashable, Sendable {
    /// It never reached the receiver's protocol machine: dropped on the path, or by the
    /// host when the socket's receive buffer was full.
    case network
    /// The receiver discarded it on purpose, drawing simulated loss (`--loss`).
    case simulated
    /// The receiver dropped it because its storage was behind on that transfer.
    case storage
}

/// What a receiver saw of one transfer's DATA, counted from the session's start: how many
/// segments arrived, which arrived twice, and which went missing and were filled in again,
/// by cause. The counters only grow.
///
/// A network loss is a hole first seen: a segment still missing when a later one arrives. A
/// retransmission lost again, or a segment lost with nothing after it, is not seen. A
/// simulated or storage loss is every datagram discarded, so the same segment may count
/// more than once. A segment counts as repaired, under the cause of its first loss, when
/// it finally arrives.
public struct NativeReception: Hashable, Sendable {
    /// The lost and repaired segments of one cause.
    public struct Losses: Hashable, Sendable {
        public var lost: UInt64
        public var repaired: UInt64

        public init(lost: UInt64 = 0, repaired: UInt64 = 0) {
            self.lost = lost
            self.repaired = repaired
        }
    }

    /// DATA segments that arrived: new, duplicate, or discarded on purpose.
    public var segments: UInt64
    /// Segments that arrived although the receiver already held them.
    public var duplicates: UInt64
    public var network: Losses
    public var simulated: Losses
    public var storage: Losses

    public init(
        segments: UInt64 = 0, duplicates: UInt64 = 0, network: Losses = Losses(), simulated: Losses = Losses(),
        storage: Losses = Losses()
    ) {
        self.segments = segments
        self.duplicates = duplicates
        self.network = network
        self.simulated = simulated
        self.storage = storage
    }

    public subscript(cause: NativeLossCause) -> Losses {
        get {
            switch cause {
            case .network: network
            case .simulated: simulated
            case .storage: storage
            }
        }
        set {
            switch cause {
            case .network: network = newValue
            case .simulated: simulated = newValue
            case .storage: storage = newValue
            }
        }
    }

    /// Segments lost, whatever the cause.
    public var lost: UInt64 { network.lost &+ simulated.lost &+ storage.lost }

    /// Segments repaired, whatever the cause.
    public var repaired: UInt64 { network.repaired &+ simulated.repaired &+ storage.repaired }
}

extension NativeDatagram {
    /// A reception report on the wire: eight u64, in the order of `NativeReception`'s
    /// stored properties (segments, duplicates, then lost and repaired per cause).
    static let receptionSize = 8 * 8

    /// The largest COMPLETE: the longest text and a reception report.
    public static let maximumCompletionSize =
        headerSize + completionFixedSize + maximumTextLength + receptionSize + checksumSize

    static func appendReception(_ reception: NativeReception, to buffer: inout [UInt8]) {
        buffer.appendBigEndian(reception.segments)
        buffer.appendBigEndian(reception.duplicates)
        for cause in NativeLossCause.allCases {
            buffer.appendBigEndian(reception[cause].lost)
            buffer.appendBigEndian(reception[cause].repaired)
        }
    }

    /// Reads a reception report; the caller checked that `receptionSize` bytes remain.
    static func readReception(_ body: inout NativeReader) -> NativeReception {
        var reception = NativeReception(segments: body.readUInt64(), duplicates: body.readUInt64())
        for cause in NativeLossCause.allCases {
            reception[cause] = NativeReception.Losses(lost: body.readUInt64(), repaired: body.readUInt64())
        }
        return reception
    }
}
