/// The loss-based window of one receiver, in segments: a fixed window, or AIMD
/// (NewReno-style with SACK recovery): slow start from 10 segments, +1 segment per round
/// trip after, ×0.7 once per round trip with losses (as CUBIC backs off), back to 1 segment
/// after a retransmission timeout.
struct AIMDWindow: Sendable {
    static let initialWindow = 10.0
    static let backoff = 0.7

    let isAdaptive: Bool
    let maximum: Double
    private(set) var window: Double
    private var slowStartThreshold = Double.infinity
    /// Losses below this segment belong to the recovery already under way.
    private var recoveryPoint: UInt64 = 0

    /// A fixed window of `maximum` segments, or (`isAdaptive`) AIMD up to `maximum`.
    init(isAdaptive: Bool, maximum: Int) {
        self.isAdaptive = isAdaptive
        self.maximum = Double(maximum)
        window = isAdaptive ? min(Self.initialWindow, Double(maximum)) : Double(maximum)
    }

    var isSlowStart: Bool { window < slowStartThreshold }

    /// The window spread over the smoothed RTT, with a gain above 1 so pacing never becomes
    /// the bottleneck (2 in slow start, 1.25 after); nil (unpaced) before the first sample.
    func pacingInterval(smoothedRTT: Duration?) -> Int64? {
        guard let smoothedRTT, window > 0 else { return nil }
        let gain = isSlowStart ? 2.0 : 1.25
        return Int64(Double(smoothedRTT.nanoseconds) / (window * gain))
    }

    /// `count` segments were newly acknowledged. The window grows during recovery too;
    /// `recoveryPoint` only keeps one window's losses from cutting it twice.
    mutating func onAcknowledged(_ count: Int) {
        guard isAdaptive, count > 0 else { return }
        if isSlowStart {
            window += Double(count)
        } else {
            window += Double(count) / window
        }
        window = min(window, maximum)
    }

    /// Losses were detected while segments up to `highWater` were out.
    mutating func onLoss(highWater: UInt64, acknowledged: UInt64) {
        guard isAdaptive, acknowledged >= recoveryPoint else { return }
        slowStartThreshold = max(window * Self.backoff, 2)
        window = slowStartThreshold
        recoveryPoint = highWater
    }

    /// The retransmission timer expired.
    mutating func onTimeout(highWater: UInt64) {
        guard isAdaptive else { return }
        slowStartThreshold = max(window * Self.backoff, 2)
        window = 1
        recoveryPoint = highWater
    }
}
