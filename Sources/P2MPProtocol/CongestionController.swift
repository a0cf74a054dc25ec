import P2MPWire

/// How a sender limits what it has in flight to one receiver.
public enum CongestionControl: Sendable, Equatable {
    /// Always the configured window: the seed's Stop-and-Wait, and tests.
    case fixedWindow
    /// Loss-based AIMD (`AIMDWindow`): every loss is taken for congestion.
    case aimd
    /// BBR-style (`ModelBasedController`): paced at the estimated bottleneck rate with about
    /// two bandwidth-delay products in flight; random loss does not slow it down.
    case modelBased
}

/// The congestion state of one receiver: the window and pacing the engine obeys, whichever
/// `CongestionControl` computes them.
struct CongestionController: Sendable {
    let mode: CongestionControl
    private var lossBased: AIMDWindow
    private var model: ModelBasedController
    private var sampler = DeliveryRateSampler()

    /// `maximum` is the configured window; `phase` spreads receivers over the model's
    /// probing cycle, so they do not all probe at once.
    init(mode: CongestionControl, maximum: Int, phase: Int) {
        self.mode = mode
        lossBased = AIMDWindow(isAdaptive: mode == .aimd, maximum: maximum)
        model = ModelBasedController(maximum: maximum, phase: phase)
    }

    /// Segments that may be in flight (fractional for AIMD's additive increase).
    var window: Double {
        mode == .modelBased ? model.window : lossBased.window
    }

    /// The nanoseconds between two segments, or nil to send unpaced.
    func pacingInterval(smoothedRTT: Duration?) -> Int64? {
        mode == .modelBased ? model.pacingInterval : lossBased.pacingInterval(smoothedRTT: smoothedRTT)
    }

    /// How far behind its pace a sender may catch up at once. The model-based controller's
    /// pace is a rate it means to hold: at 20 MB/s a segment is due every 70 µs, more often
    /// than an event loop on a loaded machine wakes, so it may catch up 2 ms (BBR sends such
    /// quanta too); the others keep a burst of 10 segments.
    var pacingCatchUp: Duration {
        mode == .modelBased ? .milliseconds(2) : .zero
    }

    /// The model's bottleneck rate in segments per second and its minimum RTT (model-based only).
    var estimates: (bandwidth: Double, minimumRTT: Duration?)? {
        mode == .modelBased ? (model.bandwidth, model.minimumRTT) : nil
    }

    /// A segment leaves; `inFlight` counts the segments in flight before it.
    mutating func onTransmit(segment: UInt64, isRetransmission: Bool, inFlight: Int, now: Instant) {
        guard mode == .modelBased else { return }
        sampler.onTransmit(segment: segment, isRetransmission: isRetransmission, inFlight: inFlight, now: now)
    }

    /// The window had room but there was nothing to send (the end of the file, lockstep).
    mutating func onApplicationLimited(inFlight: Int) {
        guard mode == .modelBased else { return }
        sampler.onApplicationLimited(inFlight: inFlight)
    }

    /// What one acknowledgement changed: `newlyDelivered` segments acknowledged (SACK
    /// included), `newlyLost` found lost, the RTT `sample` it gave, the segment it echoes
    /// sent at `echoSentAt`, and the scoreboard after it.
    mutating func onAcknowledgement(
        _ acknowledgement: Acknowledgement, newlyDelivered: Int, newlyLost: Int, sample: Duration?,
        echoSentAt: Instant?, inFlight: Int, highWater: UInt64, smoothedRTT: Duration?, now: Instant
    ) {
        guard mode == .modelBased else {
            if newlyLost > 0 { lossBased.onLoss(highWater: highWater, acknowledged: acknowledgement.cumulative) }
            lossBased.onAcknowledged(newlyDelivered)
            return
        }
        let rateSample = sampler.onAcknowledgement(
            newlyDelivered: newlyDelivered, cumulative: acknowledgement.cumulative, selective: acknowledgement.selective,
            echoSentAt: echoSentAt, minimumInterval: model.minimumRTT ?? .zero, now: now)
        model.onAcknowledgement(
            .init(
                newlyDelivered: newlyDelivered, newlyLost: newlyLost, sample: rateSample, roundTrip: sample,
                delivered: sampler.delivered, inFlight: inFlight),
            smoothedRTT: smoothedRTT, now: now)
    }

    /// The retransmission timer expired with segments up to `highWater` out.
    mutating func onTimeout(highWater: UInt64) {
        guard mode == .modelBased else {
            lossBased.onTimeout(highWater: highWater)
            return
        }
        sampler.onTimeout()
        model.onTimeout()
    }
}
