/// How a sender limits what it has in flight to one receiver.
public enum CongestionControl: Sendable, Equatable {
    /// Always the configured window: the seed's Stop-and-Wait, and tests.
    case fixedWindow
    /// Loss-based AIMD (NewReno-style with SACK recovery): slow start from 10 segments,
    /// +1 segment per round trip after, ×0.7 once per round trip with losses (as CUBIC
    /// backs off), back to 1 segment after a retransmission timeout.
    case aimd
}

/// The congestion window of one receiver, in segments.
struct CongestionController: Sendable {
    static let initialWindow = 10.0
    static let backoff = 0.7

    let mode: CongestionControl
    let maximum: Double
    private(set) var window: Double
    private var slowStartThreshold = Double.infinity
    /// Losses below this segment belong to the recovery already under way.
    private var recoveryPoint: UInt64 = 0

    init(mode: CongestionControl, maximum: Int) {
        self.mode = mode
        self.maximum = Double(maximum)
        window = mode == .fixedWindow ? Double(maximum) : min(Self.initialWindow, Double(maximum))
    }

    var isSlowStart: Bool { window < slowStartThreshold }

    /// `count` segments were newly acknowledged. The window grows during recovery too;
    /// `recoveryPoint` only keeps one window's losses from cutting it twice.
    mutating func onAcknowledged(_ count: Int) {
        guard mode == .aimd, count > 0 else { return }
        if isSlowStart {
            window += Double(count)
        } else {
            window += Double(count) / window
        }
        window = min(window, maximum)
    }

    /// Losses were detected while segments up to `highWater` were out.
    mutating func onLoss(highWater: UInt64, acknowledged: UInt64) {
        guard mode == .aimd, acknowledged >= recoveryPoint else { return }
        slowStartThreshold = max(window * Self.backoff, 2)
        window = slowStartThreshold
        recoveryPoint = highWater
    }

    /// The retransmission timer expired.
    mutating func onTimeout(highWater: UInt64) {
        guard mode == .aimd else { return }
        slowStartThreshold = max(window * Self.backoff, 2)
        window = 1
        recoveryPoint = highWater
    }
}
