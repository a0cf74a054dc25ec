/// The sending half of the ARQ, shared by every wire format: which segment goes to which
/// receiver and when, given acknowledgements and time.
///
/// Segments are numbered `0..<segmentCount`; what a segment contains is the codec's
/// business. Each receiver has its own scoreboard (selective repeat with SACK), RTT
/// estimator, retransmission timer, congestion window and pacer; the `GroupPolicy`
/// decides whether receivers wait for each other. Losses are detected from SACK
/// (RFC 6675 style) and by timeout (RFC 6298); a timeout declares everything in flight
/// lost, which without SACK is go-back-N and with a window of 1 is Stop-and-Wait.
///
/// The engine owns no clock: every call takes `now`, and `nextTimeout` tells the caller
/// when to call `handleTimeout(now:into:)`. It is the machines' shared part, not a machine
/// of its own: they hand it an action array and translate what it appended into their
/// transmissions and events once the call returns.
public struct SenderEngine: Sendable {
    /// What the caller must do or report.
    public enum Action: Equatable, Sendable {
        case transmit(receiver: Int, segment: UInt64, isRetransmission: Bool)
        /// The retransmission timer of `receiver` expired waiting for `segment`.
        case timedOut(receiver: Int, segment: UInt64)
        /// SACKs showed `count` segments of `receiver` lost.
        case lossDetected(receiver: Int, count: Int)
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
        /// Not yet started (a handshake is under way); gets nothing.
        case pending
        case active
        case completed(at: Instant)
        case failed(FailureReason)
    }

    /// What happened with one receiver, for summaries.
    public struct ReceiverStatistics: Sendable, Equatable {
        public var transmissions = 0
        public var retransmissions = 0
        public var timeouts = 0
        /// Segments SACK showed lost.
        public var detectedLosses = 0
        public var smoothedRTT: Duration?
        public var congestionWindow = 0.0
        /// The model-based controller's bottleneck estimate, bytes per second on the wire
        /// (nil for the other controllers).
        public var estimatedBandwidth: Double?
        /// The model-based controller's propagation delay estimate (its minimum RTT).
        public var minimumRTT: Duration?
    }

    private struct Track: Sendable {
        var state: ReceiverState = .pending
        var scoreboard: Scoreboard
        var congestion: CongestionController
        var pacer = Pacer()
        var estimator: RTTEstimator
        /// Receiver-advertised window, in segments beyond the cumulative point.
        var advertisedWindow: Int
        /// The segment being timed for an RTT sample when the format has no timestamps.
        var timed: (segment: UInt64, sentAt: Instant)?
        var retransmissionDeadline: Instant?
        /// Set when pacing or the rate cap held back a transmission.
        var blockedUntil: Instant?
        /// When the receiver last advanced, or started waiting with nothing outstanding.
        var waitingSince: Instant = .zero
        var statistics = ReceiverStatistics()
    }

    public let segmentCount: UInt64
    public let configuration: SenderConfiguration
    private var tracks: [Track]
    private var deadlines: DeadlineQueue
    private var rateLimiter: RateLimiter?
    /// Lockstep: the lowest acknowledged point among active receivers, and how many sit there.
    private var groupBase: UInt64 = 0
    private var receiversAtGroupBase = 0
    /// Rotates which receiver fills first, so a rate cap is shared fairly.
    private var fillRotation = 0
    public private(set) var unfinishedReceivers: Int

    public init(receiverCount: Int, segmentCount: UInt64, configuration: SenderConfiguration) {
        self.segmentCount = segmentCount
        self.configuration = configuration
        let bounds: RTTEstimator.Bounds
        switch configuration.retransmissionTimeout {
        case .adaptive(let adaptive): bounds = adaptive
        case .fixed(let fixed): bounds = .init(initial: fixed, minimum: fixed, maximum: fixed)
        }
        let track = Track(
            scoreboard: Scoreboard(capacity: configuration.window),
            congestion: CongestionController(mode: configuration.congestionControl, maximum: configuration.window, phase: 0),
            estimator: RTTEstimator(bounds: bounds), advertisedWindow: configuration.window)
        self.tracks = Array(repeating: track, count: receiverCount)
        self.deadlines = DeadlineQueue(keys: receiverCount)
        self.rateLimiter = configuration.rateLimit.map {
            RateLimiter(bytesPerSecond: $0, segmentBytes: configuration.segmentBytes)
        }
        self.unfinishedReceivers = receiverCount
    }

    /// True once every receiver completed or failed.
    public var isFinished: Bool { unfinishedReceivers == 0 }

    public func state(of receiver: Int) -> ReceiverState { tracks[receiver].state }

    public func statistics(of receiver: Int) -> ReceiverStatistics {
        var statistics = tracks[receiver].statistics
        statistics.smoothedRTT = tracks[receiver].estimator.smoothed
        statistics.congestionWindow = tracks[receiver].congestion.window
        if let estimates = tracks[receiver].congestion.estimates {
            statistics.estimatedBandwidth = estimates.bandwidth * Double(configuration.segmentBytes)
            statistics.minimumRTT = estimates.minimumRTT
        }
        return statistics
    }

    /// Segments `receiver` has acknowledged cumulatively.
    public func acknowledgedSegments(of receiver: Int) -> UInt64 { tracks[receiver].scoreboard.acknowledged }

    /// Starts every receiver from segment 0 (formats without a handshake).
    public mutating func start(now: Instant, into actions: inout [Action]) {
        for receiver in tracks.indices {
            activate(receiver, from: 0, now: now, into: &actions)
        }
    }

    /// Starts one pending receiver, which already holds segments `0..<segment`.
    public mutating func activate(_ receiver: Int, from segment: UInt64, now: Instant, into actions: inout [Action]) {
        guard tracks.indices.contains(receiver), tracks[receiver].state == .pending else { return }
        let start = min(segment, segmentCount)
        tracks[receiver].state = .active
        tracks[receiver].scoreboard.reset(at: start)
        // A (re)started session begins a fresh congestion epoch; the RTT estimate stays.
        tracks[receiver].congestion = CongestionController(
            mode: configuration.congestionControl, maximum: configuration.window, phase: receiver)
        tracks[receiver].pacer = Pacer()
        tracks[receiver].waitingSince = now
        if start == segmentCount {
            complete(receiver, now: now, into: &actions)
            return
        }
        if configuration.groupPolicy == .lockstep {
            if receiversAtGroupBase == 0 || start < groupBase {
                groupBase = start
                receiversAtGroupBase = 1
            } else if start == groupBase {
                receiversAtGroupBase += 1
            }
        }
        fillWindow(of: receiver, now: now, into: &actions)
    }

    /// Sends an active receiver back to pending, keeping nothing of its scoreboard, so it
    /// can be activated again from a new resume point (its session restarted). Only for
    /// the independent group policy; lockstep receivers cannot leave and rejoin.
    public mutating func suspend(_ receiver: Int) {
        guard configuration.groupPolicy == .independent, tracks.indices.contains(receiver),
            tracks[receiver].state == .active
        else { return }
        tracks[receiver].state = .pending
        tracks[receiver].retransmissionDeadline = nil
        tracks[receiver].blockedUntil = nil
        tracks[receiver].timed = nil
        deadlines.set(receiver, to: nil)
    }

    /// Gives up on `receiver` for a reason outside the engine (it refused or aborted). The
    /// caller reports it, so no `.failed` action is added; in lockstep the group may move on,
    /// which adds transmissions to the others.
    public mutating func abandon(_ receiver: Int, reason: FailureReason, now: Instant, into actions: inout [Action]) {
        guard tracks.indices.contains(receiver) else { return }
        switch tracks[receiver].state {
        case .pending, .active: fail(receiver, reason: reason, reported: false, now: now, into: &actions)
        case .completed, .failed: return
        }
    }

    /// Handles an acknowledgement from `receiver`. Stale ones (a cumulative point below the
    /// known one) and impossible ones (acknowledging segments never sent) are ignored.
    public mutating func handleAcknowledgement(
        from receiver: Int, _ acknowledgement: Acknowledgement, now: Instant, into actions: inout [Action]
    ) {
        guard tracks.indices.contains(receiver), tracks[receiver].state == .active else { return }
        let previous = tracks[receiver].scoreboard.acknowledged
        let cumulative = acknowledgement.cumulative
        guard cumulative >= previous, cumulative <= tracks[receiver].scoreboard.highWater else { return }

        var roundTrip = acknowledgement.roundTripSample
        if roundTrip == nil, let timed = tracks[receiver].timed, timed.segment < cumulative {
            roundTrip = now.duration(since: timed.sentAt)
            tracks[receiver].timed = nil
        }
        if let roundTrip { tracks[receiver].estimator.addSample(roundTrip) }
        if let window = acknowledgement.window {
            tracks[receiver].advertisedWindow = max(1, window)
        }
        var newly = tracks[receiver].scoreboard.acknowledge(through: cumulative)
        for range in acknowledgement.selective {
            newly += tracks[receiver].scoreboard.selectivelyAcknowledge(range)
        }
        var lost = tracks[receiver].scoreboard.detectLosses(threshold: 3)
        // An echoed timestamp says when the segment that prompted this ACK was sent.
        let echoSentAt = acknowledgement.roundTripSample.map { now - $0 }
        if let echoSentAt, let smoothed = tracks[receiver].estimator.smoothed {
            lost += tracks[receiver].scoreboard.detectLostRetransmissions(
                deliveredSentAt: echoSentAt, reorderWindow: smoothed / 4)
        }
        if lost > 0 {
            tracks[receiver].statistics.detectedLosses += lost
            actions.append(.lossDetected(receiver: receiver, count: lost))
        }
        tracks[receiver].congestion.onAcknowledgement(
            acknowledgement, newlyDelivered: newly, newlyLost: lost, sample: roundTrip, echoSentAt: echoSentAt,
            inFlight: tracks[receiver].scoreboard.inFlight, highWater: tracks[receiver].scoreboard.highWater,
            smoothedRTT: tracks[receiver].estimator.smoothed, now: now)

        if cumulative > previous {
            tracks[receiver].waitingSince = now
            if cumulative == segmentCount {
                complete(receiver, now: now, into: &actions)
                _ = leaveGroupBase(previous: previous, now: now, into: &actions)
                return
            }
        }
        if newly > 0 {
            // RFC 6298 (5.3): new data acknowledged, restart the timer. SACKed segments count:
            // while the path delivers, holes are loss detection's to repair (a repair takes
            // two round trips, longer than the timeout of a steady path), and the timer is
            // left for a path that went quiet.
            tracks[receiver].retransmissionDeadline = nil
            if hasOutstanding(receiver) { armRetransmissionTimer(of: receiver, now: now) }
        }
        let refilledEveryone = cumulative > previous && leaveGroupBase(previous: previous, now: now, into: &actions)
        if !refilledEveryone { fillWindow(of: receiver, now: now, into: &actions) }
        updateDeadline(of: receiver)
    }

    /// The earliest instant at which `handleTimeout` has work, if any.
    public var nextTimeout: Instant? { deadlines.earliest }

    /// When `handleTimeout` next has work for `receiver`. Every active receiver has one (at
    /// the latest its give-up time), so none can be left waiting for nothing.
    public func deadline(of receiver: Int) -> Instant? {
        tracks.indices.contains(receiver) ? deadlines.deadline(of: receiver) : nil
    }

    /// Handles every retransmission, pacing, rate and give-up deadline due at `now`.
    public mutating func handleTimeout(now: Instant, into actions: inout [Action]) {
        while let receiver = deadlines.popDue(now: now) {
            guard tracks[receiver].state == .active else { continue }
            let stalled = now.duration(since: tracks[receiver].waitingSince)
            if stalled >= configuration.giveUpAfter {
                // Give-up needs no timer of the machine's and no word from the peer.
                if tracks[receiver].scoreboard.hasUnacknowledged {
                    fail(receiver, reason: .noProgress(stalled), now: now, into: &actions)
                    continue
                }
                // It owes nothing: the sender holds it back (lockstep, pacing, rate cap).
                tracks[receiver].waitingSince = now
            }
            if let deadline = tracks[receiver].retransmissionDeadline, deadline <= now {
                tracks[receiver].retransmissionDeadline = nil
                retransmissionTimerFired(for: receiver, now: now, into: &actions)
            } else {
                tracks[receiver].blockedUntil = nil
                fillWindow(of: receiver, now: now, into: &actions)
            }
            updateDeadline(of: receiver)
        }
    }

    // MARK: - Internals

    /// True while `receiver` holds segments it has not cumulatively acknowledged, SACKed
    /// ones included: the retransmission timer stays armed for those (a receiver may renege).
    private func hasOutstanding(_ receiver: Int) -> Bool {
        tracks[receiver].scoreboard.hasUnacknowledged
    }

    private mutating func retransmissionTimerFired(for receiver: Int, now: Instant, into actions: inout [Action]) {
        let oldest = tracks[receiver].scoreboard.acknowledged
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
        _ = tracks[receiver].scoreboard.markAllLost()
        tracks[receiver].congestion.onTimeout(highWater: tracks[receiver].scoreboard.highWater)
        tracks[receiver].blockedUntil = nil
        fillWindow(of: receiver, now: now, into: &actions)
        if tracks[receiver].retransmissionDeadline == nil, hasOutstanding(receiver) {
            armRetransmissionTimer(of: receiver, now: now)
        }
    }

    /// Transmits what the congestion window, the receiver's window, the group policy,
    /// pacing and the rate cap allow: lost segments first, then new ones.
    private mutating func fillWindow(of receiver: Int, now: Instant, into actions: inout [Action]) {
        guard tracks[receiver].state == .active else { return }
        if let blocked = tracks[receiver].blockedUntil, blocked > now { return }
        // Held back by pacing (or the rate cap) until now: a late wakeup may catch up.
        let resumedAfterPacing = tracks[receiver].blockedUntil != nil
        tracks[receiver].blockedUntil = nil
        tracks[receiver].pacer.update(
            interval: tracks[receiver].congestion.pacingInterval(smoothedRTT: tracks[receiver].estimator.smoothed),
            catchUp: tracks[receiver].congestion.pacingCatchUp)
        let window = UInt64(configuration.window)
        let limit = max(1, min(Int(tracks[receiver].congestion.window), tracks[receiver].advertisedWindow))
        while tracks[receiver].scoreboard.inFlight < limit {
            let lost = tracks[receiver].scoreboard.nextLost()
            if lost == nil {
                let acknowledged = tracks[receiver].scoreboard.acknowledged
                let receiverWindow = UInt64(tracks[receiver].advertisedWindow)
                let windowLimit = acknowledged + min(window, receiverWindow)
                var newLimit = min(segmentCount, windowLimit)
                if configuration.groupPolicy == .lockstep { newLimit = min(newLimit, groupBase + window) }
                guard tracks[receiver].scoreboard.highWater < newLimit else {
                    // Held back by the end of the file or the group, not by a window.
                    if tracks[receiver].scoreboard.highWater < windowLimit {
                        tracks[receiver].congestion.onApplicationLimited(inFlight: tracks[receiver].scoreboard.inFlight)
                    }
                    break
                }
            }
            if let blocked = transmissionBlocked(receiver, now: now) {
                tracks[receiver].blockedUntil = blocked
                break
            }
            let segment: UInt64
            let inFlightBefore = tracks[receiver].scoreboard.inFlight
            if let lost {
                tracks[receiver].scoreboard.retransmit(lost, now: now)
                segment = lost
                tracks[receiver].statistics.retransmissions += 1
            } else {
                if !hasOutstanding(receiver) { tracks[receiver].waitingSince = now }
                segment = tracks[receiver].scoreboard.sendNew()
                if tracks[receiver].timed == nil { tracks[receiver].timed = (segment, now) }
            }
            tracks[receiver].congestion.onTransmit(
                segment: segment, isRetransmission: lost != nil, inFlight: inFlightBefore, now: now)
            tracks[receiver].statistics.transmissions += 1
            tracks[receiver].pacer.recordSend(now: now, catchingUp: resumedAfterPacing)
            rateLimiter?.consume(configuration.segmentBytes, now: now)
            if tracks[receiver].retransmissionDeadline == nil { armRetransmissionTimer(of: receiver, now: now) }
            actions.append(.transmit(receiver: receiver, segment: segment, isRetransmission: lost != nil))
        }
        updateDeadline(of: receiver)
    }

    private mutating func transmissionBlocked(_ receiver: Int, now: Instant) -> Instant? {
        if let paced = tracks[receiver].pacer.blockedUntil(now: now) { return paced }
        return rateLimiter?.blockedUntil(bytes: configuration.segmentBytes, now: now)
    }

    private mutating func armRetransmissionTimer(of receiver: Int, now: Instant) {
        tracks[receiver].retransmissionDeadline = now + tracks[receiver].estimator.timeout
        updateDeadline(of: receiver)
    }

    private mutating func updateDeadline(of receiver: Int) {
        let track = tracks[receiver]
        guard track.state == .active else {
            deadlines.set(receiver, to: nil)
            return
        }
        var earliest = track.waitingSince + configuration.giveUpAfter
        if let retransmission = track.retransmissionDeadline { earliest = min(earliest, retransmission) }
        if let blocked = track.blockedUntil { earliest = min(earliest, blocked) }
        deadlines.set(receiver, to: earliest)
    }

    private mutating func complete(_ receiver: Int, now: Instant, into actions: inout [Action]) {
        tracks[receiver].state = .completed(at: now)
        tracks[receiver].retransmissionDeadline = nil
        tracks[receiver].blockedUntil = nil
        deadlines.set(receiver, to: nil)
        unfinishedReceivers -= 1
        actions.append(.completed(receiver: receiver))
    }

    private mutating func fail(
        _ receiver: Int, reason: FailureReason, reported: Bool = true, now: Instant, into actions: inout [Action]
    ) {
        let wasActive = tracks[receiver].state == .active
        tracks[receiver].state = .failed(reason)
        tracks[receiver].retransmissionDeadline = nil
        tracks[receiver].blockedUntil = nil
        deadlines.set(receiver, to: nil)
        unfinishedReceivers -= 1
        if reported { actions.append(.failed(receiver: receiver, reason: reason)) }
        if wasActive {
            _ = leaveGroupBase(previous: tracks[receiver].scoreboard.acknowledged, now: now, into: &actions)
        }
    }

    /// Lockstep bookkeeping after an active receiver moved off `previous` (advanced or
    /// left). Returns true when the group base advanced and every window was refilled.
    private mutating func leaveGroupBase(previous: UInt64, now: Instant, into actions: inout [Action]) -> Bool {
        guard configuration.groupPolicy == .lockstep, previous == groupBase else { return false }
        receiversAtGroupBase -= 1
        guard receiversAtGroupBase == 0 else { return false }
        var lowest = UInt64.max
        var count = 0
        for track in tracks where track.state == .active {
            if track.scoreboard.acknowledged < lowest {
                lowest = track.scoreboard.acknowledged
                count = 1
            } else if track.scoreboard.acknowledged == lowest {
                count += 1
            }
        }
        guard count > 0 else { return true }
        groupBase = lowest
        receiversAtGroupBase = count
        fillRotation = (fillRotation + 1) % tracks.count
        for offset in tracks.indices {
            let index = (fillRotation + offset) % tracks.count
            guard tracks[index].state == .active else { continue }
            fillWindow(of: index, now: now, into: &actions)
            updateDeadline(of: index)
        }
        return true
    }
}
