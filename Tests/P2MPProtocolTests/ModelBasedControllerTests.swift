import Testing

@testable import P2MPProtocol

/// The model-based controller fed by hand, in virtual time, by a fluid model of a path
/// whose bottleneck carries 1,000 segments per second with a 50 ms RTT (a bandwidth-delay
/// product of 50 segments): every millisecond the sender has what its window and pacing
/// allow in flight, and the path delivers that over the RTT, at most its rate.
@Suite("Model-based congestion control")
struct ModelBasedControllerTests {
    struct Path {
        var controller = ModelBasedController(maximum: 10_000, phase: 0)
        var now = Instant.zero
        var delivered: UInt64 = 0
        var rate = 1_000.0
        var rtt = Duration.milliseconds(50)
        /// Fractions of a segment delivered but not acknowledged yet.
        var owed = 0.0

        /// One millisecond: the path delivers what is in flight over the RTT (at most its
        /// rate), acknowledged with `lost` losses reported and an RTT of `rtt`.
        mutating func tick(lost: Int = 0, rtt: Duration? = nil) {
            let rtt = rtt ?? self.rtt
            now = now + .milliseconds(1)
            let paced = controller.pacingInterval.map { 1e9 / Double($0) } ?? .infinity
            let inFlight = min(controller.window, paced * rtt.seconds)
            let delivery = min(rate, inFlight / rtt.seconds)
            owed += delivery / 1_000
            let count = Int(owed)
            guard count > 0 || lost > 0 else { return }
            owed -= Double(count)
            delivered += UInt64(count)
            controller.onAcknowledgement(
                .init(
                    newlyDelivered: count, newlyLost: lost,
                    sample: .init(rate: delivery, isApplicationLimited: false), roundTrip: rtt, delivered: delivered,
                    inFlight: Int(inFlight) - count),
                smoothedRTT: rtt, now: now)
        }

        mutating func run(_ milliseconds: Int, lostEvery: Int = 0, rtt: Duration? = nil) {
            for time in 1...milliseconds {
                tick(lost: lostEvery > 0 && time % lostEvery == 0 ? 1 : 0, rtt: rtt)
            }
        }
    }

    @Test("before any RTT sample it sends its initial window unpaced, then grows by what is delivered")
    func startup() {
        var path = Path()
        #expect(path.controller.window == 10)
        #expect(path.controller.pacingInterval == nil)
        path.run(100)
        #expect(path.controller.state == .startup)
        #expect(path.controller.window > 15)
        #expect(path.controller.pacingInterval != nil)
    }

    @Test("a steady path: STARTUP, DRAIN, then PROBE_BW with two BDPs in flight, paced at the rate")
    func steadyState() {
        var path = Path()
        path.run(2_000)
        #expect(path.controller.state == .probeBandwidth)
        #expect(abs(path.controller.bandwidth - 1_000) < 1)
        #expect(path.controller.minimumRTT == .milliseconds(50))
        // 2 × 50 segments, plus at most a few for acknowledgements that came early.
        #expect((100...105).contains(path.controller.window), "window \(path.controller.window)")
        // Every gain of the cycle is 0.5, 1 or 1.25 times the rate, 1 % below.
        let interval = Double(path.controller.pacingInterval ?? 0)
        #expect([0.5, 1, 1.25].contains { abs(interval - 1e9 / ($0 * 990)) < 2 }, "interval \(interval)")
    }

    @Test("random loss, 5 % with no queue, changes neither the estimates nor the window")
    func randomLossIgnored() {
        var lossless = Path()
        var lossy = Path()
        lossless.run(2_000)
        lossy.run(2_000, lostEvery: 20)
        #expect(lossy.controller.state == lossless.controller.state)
        #expect(lossy.controller.bandwidth == lossless.controller.bandwidth)
        #expect(lossy.controller.window == lossless.controller.window)
        #expect(lossy.controller.congestionCap == nil)
    }

    @Test("heavy loss while a queue stands caps the window at 0.7 of the flight; it grows back a segment per round trip")
    func congestionCaps() {
        var path = Path()
        path.run(2_000)
        let window = path.controller.window
        // Three in ten lost while every RTT is 30 ms above the minimum: a full buffer.
        path.run(200, lostEvery: 3, rtt: .milliseconds(80))
        let cap = try! #require(path.controller.congestionCap)
        #expect(cap <= 0.7 * window + 1)
        #expect(path.controller.window == cap)
        // Losses stop: one segment more each round trip (a round is a window's worth here).
        path.run(200, rtt: .milliseconds(50))
        let grown = try! #require(path.controller.congestionCap)
        #expect(grown > cap && grown <= cap + 10, "cap \(cap) → \(grown)")
    }

    @Test("STARTUP ends at 2 % loss with a standing queue, and goes on through random loss")
    func startupExit() {
        var random = Path()
        random.run(300, lostEvery: 20)
        #expect(random.controller.state == .startup)
        var overflow = Path()
        overflow.run(100)
        overflow.run(100, lostEvery: 20, rtt: .milliseconds(70))
        #expect(overflow.controller.state != .startup)
    }

    @Test("a retransmission timeout allows one segment until something is delivered, then the model resumes")
    func timeout() {
        var path = Path()
        path.run(2_000)
        let window = path.controller.window
        path.controller.onTimeout()
        #expect(path.controller.window == 1)
        path.run(100)
        #expect(path.controller.window >= window - 1)
    }

    @Test("PROBE_RTT: a minimum RTT 10 s old halves the flight for 200 ms and a round trip, then PROBE_BW")
    func probeRTT() {
        var path = Path()
        path.run(1_000, rtt: .milliseconds(40))
        path.run(10_050, rtt: .milliseconds(50))
        #expect(path.controller.state == .probeRTT)
        #expect(path.controller.window <= 26)
        path.run(300)
        #expect(path.controller.state == .probeBandwidth)
        // The sample taken on expiry is the new minimum: the path is 50 ms now.
        #expect(path.controller.minimumRTT == .milliseconds(50))
    }

    @Test("the pacer: a burst of 10 after a pause; held back by pacing and woken late, it catches up its allowance")
    func pacerCatchUp() {
        func sends(catchingUp: Bool) -> Int {
            var pacer = Pacer()
            pacer.update(interval: 100_000, catchUp: .milliseconds(2))  // 10,000 segments a second
            var now = Instant.zero + .seconds(1)
            pacer.recordSend(now: now)
            // The next segment was due 100 µs later; the wakeup comes 1 ms late.
            now = now + .microseconds(1_100)
            var count = 0
            while pacer.blockedUntil(now: now) == nil {
                pacer.recordSend(now: now, catchingUp: catchingUp)
                count += 1
            }
            return count
        }
        #expect(sends(catchingUp: false) == 11)
        #expect(sends(catchingUp: true) == 21)
    }
}

