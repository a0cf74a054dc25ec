import P2MPWire

/// How receivers of one transfer constrain each other.
public enum GroupPolicy: Sendable, Equatable {
    /// The seed's rule: a segment is sent only once every receiver acknowledged all segments
    /// more than `window` behind it. With a window of 1 this is Stop-and-Wait to a group.
    case lockstep
    /// Every receiver advances at its own pace; a slow one never holds back the others.
    case independent
}

/// Tunables of a `SenderEngine`.
public struct SenderConfiguration: Sendable, Equatable {
    /// Most segments a receiver may have unacknowledged; 1 is Stop-and-Wait. Also the size
    /// of each receiver's scoreboard.
    public var window: Int
    public var groupPolicy: GroupPolicy
    public var retransmissionTimeout: RetransmissionTimeout
    /// A receiver whose acknowledgements have not advanced for this long while it had
    /// data outstanding is reported failed (checked when its timer fires).
    public var giveUpAfter: Duration
    public var congestionControl: CongestionControl
    /// Bytes one segment takes on the wire, for pacing and the rate cap.
    public var segmentBytes: Int
    /// A cap on the sender's total rate over all receivers, in bytes per second.
    public var rateLimit: UInt64?

    public init(
        window: Int = 1,
        groupPolicy: GroupPolicy = .lockstep,
        retransmissionTimeout: RetransmissionTimeout = .adaptive(.standard),
        giveUpAfter: Duration = .seconds(10),
        congestionControl: CongestionControl = .fixedWindow,
        segmentBytes: Int = 1_500,
        rateLimit: UInt64? = nil
    ) {
        self.window = max(1, window)
        self.groupPolicy = groupPolicy
        self.retransmissionTimeout = retransmissionTimeout
        self.giveUpAfter = giveUpAfter
        self.congestionControl = congestionControl
        self.segmentBytes = max(1, segmentBytes)
        self.rateLimit = rateLimit
    }
}

/// What a receiver told the sender in one acknowledgement.
public struct Acknowledgement: Sendable, Equatable {
    /// The receiver holds segments `0..<cumulative`.
    public var cumulative: UInt64
    /// Further segments it holds (SACK), ascending; may be empty.
    public var selective: SACKRanges
    /// How many segments beyond `cumulative` it accepts; nil when the format has no window.
    public var window: Int?
    /// A round-trip measurement from an echoed timestamp; nil lets the engine time one
    /// segment per round trip itself (Karn's rule).
    public var roundTripSample: Duration?

    public init(cumulative: UInt64, selective: SACKRanges = [], window: Int? = nil, roundTripSample: Duration? = nil) {
        self.cumulative = cumulative
        self.selective = selective
        self.window = window
        self.roundTripSample = roundTripSample
    }
}
