/// One request repeated until it is answered: RFC 6298 timeouts with exponential backoff,
/// and a give-up time counted from when the peer was last heard.
///
/// The single retry rule of every request-shaped exchange (OFFER, PROBE, fleet queries,
/// GET); the per-segment timers of bulk data are `SenderEngine`'s. Sans-I/O: the owner
/// keeps `deadline` in its timer set and calls `fire(now:)` when it passes.
public struct RequestRetry: Sendable {
    public enum Verdict: Equatable, Sendable {
        /// Send the request again; `deadline` moved on.
        case retry
        /// Silent for `giveUpAfter`: stop and report the peer unreachable.
        case giveUp(silentFor: Duration)
    }

    public let giveUpAfter: Duration
    public private(set) var estimator: RTTEstimator
    /// When the peer was last heard (or the request first sent).
    public private(set) var lastHeard: Instant
    /// When `fire(now:)` is due.
    public private(set) var deadline: Instant
    /// When the request was first sent, and how often it was sent again since.
    public let sentAt: Instant
    public private(set) var retries = 0

    /// Starts timing a request sent at `now`. `roundTrip`, when known from earlier traffic,
    /// seeds the estimator.
    public init(now: Instant, giveUpAfter: Duration, roundTrip: Duration? = nil, bounds: RTTEstimator.Bounds = .standard) {
        self.giveUpAfter = giveUpAfter
        var estimator = RTTEstimator(bounds: bounds)
        if let roundTrip { estimator.addSample(roundTrip) }
        self.estimator = estimator
        lastHeard = now
        sentAt = now
        deadline = now + min(estimator.timeout, giveUpAfter)
    }

    /// The round trip an answer at `now` measures: only when the request was sent once
    /// (Karn's rule), else the estimate so far.
    public func roundTrip(answeredAt now: Instant) -> Duration? {
        retries == 0 ? now.duration(since: sentAt) : estimator.smoothed
    }

    /// The peer answered something (not necessarily the final answer): the give-up time
    /// counts from now.
    public mutating func heard(at now: Instant) {
        lastHeard = now
    }

    /// Called once `deadline` has passed: retry with a doubled timeout, or give up.
    public mutating func fire(now: Instant) -> Verdict {
        let silent = now.duration(since: lastHeard)
        guard silent < giveUpAfter else { return .giveUp(silentFor: silent) }
        estimator.backOff()
        retries += 1
        deadline = min(now + estimator.timeout, lastHeard + giveUpAfter)
        return .retry
    }
}
