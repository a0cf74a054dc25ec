/// Model-based congestion control for one receiver, in the spirit of BBR
/// (draft-cardwell-iccrg-bbr-congestion-control): it estimates the path's bottleneck rate
/// (the largest delivery rate of the last 10 round trips) and its propagation delay (the
/// smallest RTT of the last 10 s), paces at that rate and keeps about two bandwidth-delay
/// products in flight. Phases: STARTUP doubles the rate each round trip until it stops
/// growing, DRAIN empties the queue that made, PROBE_BW cycles the pacing gain (1.25 for
/// one round trip, 0.5 for one, 1 for six) so a flow finds freed capacity and gives up
/// its share to newcomers (and goes back to STARTUP when a probe finds a quarter more),
/// and PROBE_RTT briefly halves what is in flight when the minimum RTT is 10 s old, so it
/// can be measured again.
///
/// A random loss does not slow it down: losses change neither estimate. They count only
/// when a queue stood at the bottleneck all round trip long (its smallest RTT above the
/// minimum by a quarter of it, at least 1 ms): a full buffer, not a lossy link, as TCP Veno
/// reads it. Then more than 2 % lost ends STARTUP (an overflow, as BBRv2 stops there), and
/// more than 20 % caps what may be in flight at 0.7 of the flight; the cap grows back by a
/// segment per round trip, as Reno's window does.
struct ModelBasedController: Sendable {
    enum State: Equatable, Sendable {
        case startup, drain, probeBandwidth, probeRTT
    }

    /// What one acknowledgement told the sender.
    struct Acknowledgement: Sendable {
        var newlyDelivered: Int
        var newlyLost: Int
        var sample: DeliveryRateSampler.Sample?
        var roundTrip: Duration?
        /// Segments delivered since the start, this acknowledgement included.
        var delivered: UInt64
        var inFlight: Int
    }

    /// 4 ln 2: the pacing gain that doubles the delivery rate every round trip (BBRv2).
    static let startupGain = 2.77
    static let windowGain = 2.0
    /// The draining phase runs at 0.5, not BBRv1's 0.75: where several flows keep a queue
    /// standing, the flows that drain give their room to the others, and with 0.75 a flow
    /// starting late stayed below a third of the link in the simulation for 8 s. A lone
    /// flow drains only until its own queue is gone, so it loses nothing.
    static let probeGains: [Double] = [1.25, 0.5, 1, 1, 1, 1, 1, 1]
    /// Pacing runs 1 % below the estimate so the flow itself never builds a queue (BBRv3).
    static let pacingMargin = 0.99
    static let bandwidthRounds: UInt64 = 10
    /// On loopback and LANs ten round trips last a few milliseconds, less than a receiver
    /// takes to come back to its socket on a busy machine: the filters keep their samples
    /// at least this long, and the bandwidth-delay product counts at least `shortestPipe`
    /// of delay, so scheduling jitter does not starve the window. On a WAN both are below
    /// what the RTT gives anyway.
    static let shortestFilter: Duration = .milliseconds(100)
    static let shortestPipe: Duration = .milliseconds(1)
    static let minimumRTTLifetime: Duration = .seconds(10)
    static let probeRTTDuration: Duration = .milliseconds(200)
    static let minimumWindow = 4.0
    static let initialWindow = 10.0
    static let startupLossRate = 0.02
    static let congestionLossRate = 0.2
    static let congestionBackoff = 0.7

    let maximum: Double
    private(set) var state = State.startup
    private var bandwidthFilter = WindowedMaximum(rounds: bandwidthRounds, lifetime: shortestFilter)
    private var extraAckedFilter = WindowedMaximum(rounds: bandwidthRounds, lifetime: shortestFilter)
    /// The propagation delay estimate and when it was last confirmed.
    private(set) var minimumRTT: Duration?
    private var minimumRTTStamp = Instant.zero
    /// The window the model asks for, before the congestion cap and the maximum.
    private var modelWindow = initialWindow
    private var pacingRate: Double?
    /// After a retransmission timeout, one segment until something is delivered again.
    private var timedOut = false

    private var round: UInt64 = 0
    private var nextRoundDelivered: UInt64 = 0
    private var roundStarted = false

    private var filledPipe = false
    private var fullBandwidth = 0.0
    private var roundsWithoutGrowth = 0
    private var lastSampleApplicationLimited = false

    private var cycleIndex: Int
    private var cycleStart = Instant.zero
    /// The estimate when the last probe up began.
    private var bandwidthAtProbe = Double.infinity

    private var probeRTTDoneAt: Instant?
    private var probeRTTRoundDone = false
    private var windowBeforeProbeRTT: Double?

    private var aggregationStart = Instant.zero
    private var aggregationDelivered = 0.0

    private var roundLost = 0
    private var roundDelivered = 0
    private var roundMinimumRTT: Duration?
    private var roundPeakInFlight = 0
    /// What congestion left may be in flight, when it is below the model's window.
    private(set) var congestionCap: Double?

    /// `maximum` is the configured window; `phase` spreads receivers over the probing cycle.
    init(maximum: Int, phase: Int) {
        self.maximum = Double(max(1, maximum))
        cycleIndex = 2 + abs(phase % 6)
    }

    /// The estimated bottleneck rate, segments per second; 0 before the first sample.
    var bandwidth: Double { bandwidthFilter.maximum }

    /// Segments that may be in flight.
    var window: Double {
        if timedOut { return 1 }
        var window = modelWindow
        if let congestionCap { window = min(window, congestionCap) }
        if state == .probeRTT { window = min(window, probeRTTWindow) }
        return min(max(window, Self.minimumWindow), maximum)
    }

    /// The nanoseconds between two segments (at most a second), or nil to send unpaced (no
    /// RTT known yet).
    var pacingInterval: Int64? {
        guard let pacingRate, pacingRate > 0 else { return nil }
        return Int64(min(1e9 / pacingRate, 1e9))
    }

    mutating func onAcknowledgement(_ ack: Acknowledgement, smoothedRTT: Duration?, now: Instant) {
        if ack.newlyDelivered > 0 { timedOut = false }
        updateRound(ack)
        updateBandwidth(ack.sample, now: now)
        updateAckAggregation(delivered: ack.newlyDelivered, now: now)
        updateCongestion(ack)
        checkFullPipe()
        checkDrain(inFlight: ack.inFlight, now: now)
        updateProbeCycle(ack, now: now)
        updateMinimumRTT(ack, now: now)
        updateWindow(delivered: ack.newlyDelivered, total: ack.delivered)
        updatePacingRate(smoothedRTT: smoothedRTT)
    }

    /// A retransmission timeout: send one segment until the path answers, then resume with
    /// the model as it was (BBR keeps its estimates across a timeout).
    mutating func onTimeout() {
        timedOut = true
    }

    // MARK: - Model

    private var bandwidthDelayProduct: Double? {
        guard let minimumRTT, bandwidth > 0 else { return nil }
        return bandwidth * max(minimumRTT, Self.shortestPipe).seconds
    }

    private var probeRTTWindow: Double {
        max(Self.minimumWindow, (bandwidthDelayProduct ?? Self.initialWindow) / 2)
    }

    private var pacingGain: Double {
        switch state {
        case .startup: Self.startupGain
        case .drain: 1 / Self.startupGain
        case .probeBandwidth: Self.probeGains[cycleIndex]
        case .probeRTT: 1
        }
    }

    /// A round trip ends when the segments in flight at its start have been delivered.
    private mutating func updateRound(_ ack: Acknowledgement) {
        roundStarted = false
        guard ack.newlyDelivered > 0, ack.delivered >= nextRoundDelivered else { return }
        round += 1
        roundStarted = true
        nextRoundDelivered = ack.delivered + UInt64(max(1, ack.inFlight))
    }

    private mutating func updateBandwidth(_ sample: DeliveryRateSampler.Sample?, now: Instant) {
        guard let sample else { return }
        lastSampleApplicationLimited = sample.isApplicationLimited
        // An application-limited sample only counts when it shows more than the estimate.
        guard !sample.isApplicationLimited || sample.rate >= bandwidth else { return }
        bandwidthFilter.update(sample.rate, round: round, now: now)
    }

    /// How far acknowledgements run ahead of the estimated rate (receivers that answer a
    /// batch at once): that much more may be in flight, or the sender stalls between batches.
    private mutating func updateAckAggregation(delivered: Int, now: Instant) {
        guard bandwidth > 0, delivered > 0 else { return }
        var expected = bandwidth * now.duration(since: aggregationStart).seconds
        if aggregationDelivered <= expected {
            aggregationDelivered = 0
            aggregationStart = now
            expected = 0
        }
        aggregationDelivered += Double(delivered)
        extraAckedFilter.update(min(aggregationDelivered - expected, modelWindow), round: round, now: now)
    }

    /// At the end of each round trip: was it congested (losses above the threshold while a
    /// queue stood throughout), or may the cap grow back?
    private mutating func updateCongestion(_ ack: Acknowledgement) {
        if roundStarted {
            let lossRate = Double(roundLost) / Double(max(1, roundLost + roundDelivered))
            // STARTUP stops at the first round trip that overflowed a queue (BBRv2 and v3 stop
            // at 2 % loss; the queue tells an overflow from random loss).
            if state == .startup, lossRate > Self.startupLossRate, queueStood { filledPipe = true }
            if lossRate > Self.congestionLossRate, queueStood {
                let capped = Self.congestionBackoff * min(congestionCap ?? .infinity, Double(roundPeakInFlight))
                congestionCap = max(Self.minimumWindow, capped)
            } else if let cap = congestionCap {
                congestionCap = cap + 1 < modelWindow ? cap + 1 : nil
            }
            roundLost = 0
            roundDelivered = 0
            roundMinimumRTT = nil
            roundPeakInFlight = 0
        }
        roundLost += ack.newlyLost
        roundDelivered += ack.newlyDelivered
        roundPeakInFlight = max(roundPeakInFlight, ack.inFlight + ack.newlyDelivered)
        if let rtt = ack.roundTrip { roundMinimumRTT = min(roundMinimumRTT ?? rtt, rtt) }
    }

    /// Every RTT of the round trip was above the minimum by more than a quarter of it (at
    /// least 1 ms): a standing queue, which random loss does not make.
    private var queueStood: Bool {
        guard let minimumRTT, let roundMinimumRTT else { return false }
        let threshold = max(minimumRTT / 4, .milliseconds(1))
        return roundMinimumRTT > minimumRTT + threshold
    }

    /// STARTUP ends when three round trips in a row raised the estimate by less than 25 %.
    private mutating func checkFullPipe() {
        guard !filledPipe, roundStarted, !lastSampleApplicationLimited else { return }
        if bandwidth >= fullBandwidth * 1.25 {
            fullBandwidth = bandwidth
            roundsWithoutGrowth = 0
            return
        }
        roundsWithoutGrowth += 1
        if roundsWithoutGrowth >= 3 { filledPipe = true }
    }

    private mutating func checkDrain(inFlight: Int, now: Instant) {
        if state == .startup, filledPipe { state = .drain }
        if state == .drain, Double(inFlight) <= bandwidthDelayProduct ?? 0 { enterProbeBandwidth(now: now) }
    }

    private mutating func restartStartup() {
        state = .startup
        filledPipe = false
        fullBandwidth = bandwidth
        roundsWithoutGrowth = 0
        bandwidthAtProbe = .infinity
    }

    private mutating func enterProbeBandwidth(now: Instant) {
        state = .probeBandwidth
        cycleStart = now
    }

    /// Each phase lasts a minimum RTT; probing up also waits until the extra is in flight
    /// (or losses show it is too much), and draining ends early once the queue is gone.
    private mutating func updateProbeCycle(_ ack: Acknowledgement, now: Instant) {
        guard state == .probeBandwidth, let minimumRTT, let bdp = bandwidthDelayProduct else { return }
        let fullLength = now.duration(since: cycleStart) > minimumRTT
        let gain = Self.probeGains[cycleIndex]
        let inFlight = Double(ack.inFlight)
        let advance: Bool
        if gain > 1 {
            // A flow held by its window (or the congestion cap) cannot put more in flight.
            advance = fullLength && (ack.newlyLost > 0 || inFlight >= min(gain * bdp, window - 1))
        } else if gain < 1 {
            advance = fullLength || inFlight <= bdp
        } else {
            advance = fullLength
        }
        // What probing up found shows a round trip or two later. A quarter more means room
        // (a flow that shared the link has finished): ramp up as at the start rather than a
        // quarter per cycle.
        if bandwidth >= 1.25 * bandwidthAtProbe {
            restartStartup()
            return
        }
        guard advance else { return }
        cycleStart = now
        cycleIndex = (cycleIndex + 1) % Self.probeGains.count
        if Self.probeGains[cycleIndex] > 1 { bandwidthAtProbe = bandwidth }
    }

    /// Keeps the smallest RTT of the last 10 s; when it is older, PROBE_RTT sends at most half
    /// a bandwidth-delay product for 200 ms and a round trip, so the queue drains and the
    /// propagation delay shows again.
    private mutating func updateMinimumRTT(_ ack: Acknowledgement, now: Instant) {
        let expired = minimumRTT != nil && now.duration(since: minimumRTTStamp) > Self.minimumRTTLifetime
        if let rtt = ack.roundTrip, minimumRTT.map({ rtt <= $0 }) ?? true || expired {
            minimumRTT = rtt
            minimumRTTStamp = now
        }
        if expired, state != .probeRTT {
            state = .probeRTT
            windowBeforeProbeRTT = modelWindow
            probeRTTDoneAt = nil
        }
        guard state == .probeRTT else { return }
        if probeRTTDoneAt == nil, Double(ack.inFlight) <= probeRTTWindow {
            probeRTTDoneAt = now + Self.probeRTTDuration
            probeRTTRoundDone = false
            nextRoundDelivered = ack.delivered
        } else if let doneAt = probeRTTDoneAt {
            if roundStarted { probeRTTRoundDone = true }
            guard probeRTTRoundDone, now >= doneAt else { return }
            minimumRTTStamp = now
            modelWindow = max(modelWindow, windowBeforeProbeRTT ?? modelWindow)
            windowBeforeProbeRTT = nil
            probeRTTDoneAt = nil
            if filledPipe { enterProbeBandwidth(now: now) } else { state = .startup }
        }
    }

    /// Two bandwidth-delay products plus what acknowledgements arrive in bursts; until the
    /// pipe is full the window grows by what is delivered, like slow start.
    private mutating func updateWindow(delivered: Int, total: UInt64) {
        guard let bdp = bandwidthDelayProduct else {
            modelWindow += Double(delivered)
            return
        }
        let target = Self.windowGain * bdp + extraAckedFilter.maximum
        if filledPipe {
            modelWindow = min(modelWindow + Double(delivered), target)
        } else if modelWindow < target || Double(total) < Self.initialWindow {
            modelWindow += Double(delivered)
        }
        modelWindow = min(max(modelWindow, Self.minimumWindow), maximum)
    }

    /// The gain times the estimate; before the first estimate, the window over the RTT.
    /// STARTUP never lowers the rate, so one slow sample does not stall the ramp.
    private mutating func updatePacingRate(smoothedRTT: Duration?) {
        var rate = pacingGain * bandwidth * Self.pacingMargin
        if bandwidth == 0 {
            guard let smoothedRTT, smoothedRTT > .zero else { return }
            rate = Self.startupGain * modelWindow / smoothedRTT.seconds
        }
        if filledPipe || rate > (pacingRate ?? 0) { pacingRate = rate }
    }
}
