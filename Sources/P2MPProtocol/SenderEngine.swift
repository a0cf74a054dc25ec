import HeapModule

/// The sending half of the ARQ, shared by every wire format: which segment goes to which
/// receiver and when, given cumulative acknowledgements and timer expiries.
///
/// Segments are numbered `0..<segmentCount`; what a segment contains is the codec's
/// business. Receivers are numbered `0..<receiverCount`. Each receiver has its own window,
/// RTT estimator and retransmission timer; the `GroupPolicy` decides whether receivers wait
/// for each other. Retransmission after a timeout is go-back-N from the oldest
/// unacknowledged segment, which is exact for Stop-and-Wait (window 1).
///
/// The engine owns no clock: every call takes `now`, and `nextDeadline()` tells the caller
/// when to call `handleTimer(now:into:)`.
public struct SenderEngine: Sendable {
    /// What the caller must do or report.
    public enum Action: Equatable, Sendable {
        case transmit(receiver: Int, segment: UInt64, isRetransmission: Bool)
        /// The retransmission timer of `receiver` expired waiting for `segment`.
        case timedOut(receiver: Int, segment: UInt64)
        /// `receiver` acknowledged every segment.
        case completed(receiver: Int)
        /// `receiver` was given up on; it gets nothing more.
        case failed(receiver: Int, reason: FailureReason)
    }

    public enum FailureReason: Equatable, Sendable {
        /// No acknowledgement advanced for this long while data was outstanding.
        case noProgress(Duration)
    }

    public enum ReceiverState: Equatable, Sendable {
        case active
        case completed(at: Instant)
        case failed(FailureReason)
    }

    /// What happened with one receiver, for summaries.
    public struct ReceiverStatistics: Sendable, Equatable {
        public var transmissions = 0
        public var retransmissions = 0
        public var timeouts = 0
        public var smoothedRTT: Duration?
    }

    private struct Track: Sendable {
        var state: ReceiverState = .active
        /// Segments `0..<acknowledged` are acknowledged.
        var acknowledged: UInt64 = 0
        /// The next segment to transmit; `acknowledged..<nextToSend` are in flight.
        var nextToSend: UInt64 = 0
        /// One past the highest segment ever transmitted; lower ones are retransmissions.
        var highWater: UInt64 = 0
        var estimator: RTTEstimator
        /// The segment being timed for an RTT sample, and when it was sent.
        var timed: (segment: UInt64, sentAt: Instant)?
        var retransmissionDeadline: Instant?
        /// When the receiver last advanced, or started waiting with nothing outstanding.
        var waitingSince: Instant = .zero
        var statistics = ReceiverStatistics()
    }

    private struct Timer: Comparable, Sendable {
        var deadline: Instant
        var receiver: Int
        static func < (lhs: Timer, rhs: Timer) -> Bool {
            (lhs.deadline, lhs.receiver) < (rhs.deadline, rhs.receiver)
        }
    }

    public let segmentCount: UInt64
    public let configuration: SenderConfiguration
    private var tracks: [Track]
    /// Lazily pruned: an entry counts only while it equals its receiver's current deadline.
    private var timers = Heap<Timer>()
    /// Lockstep: the lowest `acknowledged` among active receivers, and how many sit there.
    private var groupBase: UInt64 = 0
    private var receiversAtGroupBase: Int
    public private(set) var activeReceivers: Int

    public init(receiverCount: Int, segmentCount: UInt64, configuration: SenderConfiguration) {
        self.segmentCount = segmentCount
        self.configuration = configuration
        let bounds: RTTEstimator.Bounds
        switch configuration.retransmissionTimeout {
        case .adaptive(let adaptive): bounds = adaptive
        case .fixed(let fixed): bounds = .init(initial: fixed, minimum: fixed, maximum: fixed)
        }
        self.tracks = Array(repeating: Track(estimator: RTTEstimator(bounds: bounds)), count: receiverCount)
        self.receiversAtGroupBase = receiverCount
        self.activeReceivers = receiverCount
    }

    /// True once every receiver completed or failed.
    public var isFinished: Bool { activeReceivers == 0 }

    public func state(of receiver: Int) -> ReceiverState { tracks[receiver].state }

    public func statistics(of receiver: Int) -> ReceiverStatistics {
        var statistics = tracks[receiver].statistics
        statistics.smoothedRTT = tracks[receiver].estimator.smoothed
        return statistics
    }

    /// Segments `receiver` has acknowledged.
    public func acknowledgedSegments(of receiver: Int) -> UInt64 { tracks[receiver].acknowledged }

    /// Sends the first window to every receiver.
    public mutating func start(now: Instant, into actions: inout [Action]) {
        for receiver in tracks.indices {
            tracks[receiver].waitingSince = now
            if segmentCount == 0 {
                complete(receiver, now: now, into: &actions)
            } else {
                fillWindow(of: receiver, now: now, into: &actions)
            }
        }
    }

    /// Handles a cumulative acknowledgement: `receiver` holds segments `0..<cumulative`.
    /// Duplicates and acknowledgements of segments never sent are ignored.
    public mutating func handleAcknowledgement(
        from receiver: Int, cumulative: UInt64, now: Instant, into actions: inout [Action]
    ) {
        guard tracks.indices.contains(receiver), tracks[receiver].state == .active else { return }
        let previous = tracks[receiver].acknowledged
        guard cumulative > previous, cumulative <= tracks[receiver].nextToSend else { return }

        if let timed = tracks[receiver].timed, timed.segment < cumulative {
            tracks[receiver].estimator.addSample(now.duration(since: timed.sentAt))
            tracks[receiver].timed = nil
        }
        tracks[receiver].acknowledged = cumulative
        tracks[receiver].waitingSince = now
        if cumulative == segmentCount {
            complete(receiver, now: now, into: &actions)
        } else if cumulative < tracks[receiver].nextToSend {
            armTimer(of: receiver, now: now)  // RFC 6298 (5.3): new data acked, restart.
        } else {
            tracks[receiver].retransmissionDeadline = nil
        }
        if !leaveGroupBase(previous: previous, now: now, into: &actions), tracks[receiver].state == .active {
            fillWindow(of: receiver, now: now, into: &actions)
        }
    }

    /// The earliest instant at which `handleTimer` has work, if any.
    public mutating func nextDeadline() -> Instant? {
        while let top = timers.min {
            if tracks[top.receiver].retransmissionDeadline == top.deadline { return top.deadline }
            _ = timers.popMin()
        }
        return nil
    }

    /// Handles every retransmission timer due at `now`.
    public mutating func handleTimer(now: Instant, into actions: inout [Action]) {
        while let top = timers.min, top.deadline <= now {
            _ = timers.popMin()
            let receiver = top.receiver
            guard tracks[receiver].retransmissionDeadline == top.deadline else { continue }
            tracks[receiver].retransmissionDeadline = nil
            retransmissionTimerFired(for: receiver, now: now, into: &actions)
        }
    }

    // MARK: - Internals

    private mutating func retransmissionTimerFired(for receiver: Int, now: Instant, into actions: inout [Action]) {
        let oldest = tracks[receiver].acknowledged
        tracks[receiver].statistics.timeouts += 1
        actions.append(.timedOut(receiver: receiver, segment: oldest))
        let stalled = now.duration(since: tracks[receiver].waitingSince)
        if stalled >= configuration.giveUpAfter {
            fail(receiver, reason: .noProgress(stalled), now: now, into: &actions)
            return
        }
        if case .adaptive = configuration.retransmissionTimeout {
            tracks[receiver].estimator.backOff()
        }
        tracks[receiver].timed = nil  // Karn: no samples from retransmitted segments.
        tracks[receiver].nextToSend = oldest
        fillWindow(of: receiver, now: now, into: &actions)
    }

    /// Transmits what the window and the group policy allow.
    private mutating func fillWindow(of receiver: Int, now: Instant, into actions: inout [Action]) {
        let window = UInt64(configuration.window)
        var limit = min(segmentCount, tracks[receiver].acknowledged + window)
        if configuration.groupPolicy == .lockstep {
            limit = min(limit, groupBase + window)
        }
        while tracks[receiver].nextToSend < limit {
            let segment = tracks[receiver].nextToSend
            let isRetransmission = segment < tracks[receiver].highWater
            if tracks[receiver].retransmissionDeadline == nil {
                // Fresh data after an idle spell (lockstep waits for the group) restarts the
                // give-up clock; a retransmission does not.
                if !isRetransmission, tracks[receiver].acknowledged == segment {
                    tracks[receiver].waitingSince = now
                }
                armTimer(of: receiver, now: now)
            }
            if !isRetransmission, tracks[receiver].timed == nil {
                tracks[receiver].timed = (segment, now)
            }
            tracks[receiver].nextToSend = segment + 1
            tracks[receiver].highWater = max(tracks[receiver].highWater, segment + 1)
            tracks[receiver].statistics.transmissions += 1
            if isRetransmission { tracks[receiver].statistics.retransmissions += 1 }
            actions.append(.transmit(receiver: receiver, segment: segment, isRetransmission: isRetransmission))
        }
    }

    private mutating func armTimer(of receiver: Int, now: Instant) {
        let deadline = now + tracks[receiver].estimator.timeout
        tracks[receiver].retransmissionDeadline = deadline
        timers.insert(Timer(deadline: deadline, receiver: receiver))
        if timers.count > 4 * tracks.count + 64 { compactTimers() }
    }

    private mutating func compactTimers() {
        timers = Heap(tracks.indices.compactMap { receiver in
            tracks[receiver].retransmissionDeadline.map { Timer(deadline: $0, receiver: receiver) }
        })
    }

    private mutating func complete(_ receiver: Int, now: Instant, into actions: inout [Action]) {
        tracks[receiver].state = .completed(at: now)
        tracks[receiver].retransmissionDeadline = nil
        activeReceivers -= 1
        actions.append(.completed(receiver: receiver))
    }

    private mutating func fail(_ receiver: Int, reason: FailureReason, now: Instant, into actions: inout [Action]) {
        tracks[receiver].state = .failed(reason)
        tracks[receiver].retransmissionDeadline = nil
        activeReceivers -= 1
        actions.append(.failed(receiver: receiver, reason: reason))
        _ = leaveGroupBase(previous: tracks[receiver].acknowledged, now: now, into: &actions)
    }

    /// Lockstep bookkeeping after a receiver moved off `previous` (advanced or left).
    /// Returns true when the group base advanced and every window was refilled.
    private mutating func leaveGroupBase(previous: UInt64, now: Instant, into actions: inout [Action]) -> Bool {
        guard configuration.groupPolicy == .lockstep, previous == groupBase else { return false }
        receiversAtGroupBase -= 1
        guard receiversAtGroupBase == 0 else { return false }
        var lowest = UInt64.max
        var count = 0
        for track in tracks where track.state == .active {
            if track.acknowledged < lowest {
                lowest = track.acknowledged
                count = 1
            } else if track.acknowledged == lowest {
                count += 1
            }
        }
        guard count > 0 else { return true }
        groupBase = lowest
        receiversAtGroupBase = count
        for receiver in tracks.indices where tracks[receiver].state == .active {
            fillWindow(of: receiver, now: now, into: &actions)
        }
        return true
    }
}
