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
    /// Segments a receiver may have unacknowledged; 1 is Stop-and-Wait.
    public var window: Int
    public var groupPolicy: GroupPolicy
    public var retransmissionTimeout: RetransmissionTimeout
    /// A receiver whose acknowledgements have not advanced for this long while it had
    /// data outstanding is reported failed (checked when its timer fires).
    public var giveUpAfter: Duration

    public init(
        window: Int = 1,
        groupPolicy: GroupPolicy = .lockstep,
        retransmissionTimeout: RetransmissionTimeout = .adaptive(.standard),
        giveUpAfter: Duration = .seconds(10)
    ) {
        self.window = max(1, window)
        self.groupPolicy = groupPolicy
        self.retransmissionTimeout = retransmissionTimeout
        self.giveUpAfter = giveUpAfter
    }
}
