@testable import P2MPClient
import Testing

@Suite("Progress state: totals, rates over a sliding window, ETA")
struct ProgressStateTests {
    @Test("no rate until half a second has passed")
    func noEarlyRate() {
        var state = ProgressState(names: ["a"], fileSize: 1_000, startTime: 100)
        #expect(state.rate == nil)
        #expect(state.eta == nil)
        state.receivers[0].phase = .sending
        state.receivers[0].bytesAcknowledged = 400
        state.advance(to: 100.4)
        #expect(state.rate == nil)
        #expect(state.rate(of: 0) == nil)
        state.advance(to: 100.5)
        #expect(state.rate == 800)
        #expect(state.rate(of: 0) == 800)
    }

    @Test("the rate covers the last two seconds, not the whole push")
    func slidingWindow() {
        var state = ProgressState(names: ["a"], fileSize: 200_000_000, startTime: 100)
        state.receivers[0].phase = .sending
        func at(_ time: Double, _ bytes: UInt64) {
            state.receivers[0].bytesAcknowledged = bytes
            state.advance(to: time)
        }
        // 20 MB/s for three seconds, sampled every half second.
        for step in 1...6 { at(100 + Double(step) * 0.5, UInt64(step) * 10_000_000) }
        #expect(state.rate == 20_000_000)
        // Then 40 MB/s: the window holds one second of each, then only the new speed.
        at(103.5, 80_000_000)
        at(104, 100_000_000)
        #expect(state.rate == 30_000_000)
        at(104.5, 120_000_000)
        at(105, 140_000_000)
        #expect(state.rate == 40_000_000)
        #expect(state.eta == 1.5)
        // A stall: the rate falls to zero once the window holds no progress, and the ETA is unknown.
        at(106, 140_000_000)
        #expect(state.rate == 20_000_000)
        at(107, 140_000_000)
        #expect(state.rate == 0)
        #expect(state.eta == nil)
    }

    @Test("in the first two seconds the rate is the average since the start")
    func firstSeconds() {
        var state = ProgressState(names: ["a", "b"], fileSize: 100_000_000, startTime: 0)
        state.receivers[0].bytesAcknowledged = 6_000_000
        state.receivers[1].bytesAcknowledged = 2_000_000
        state.advance(to: 1)
        #expect(state.rate == 8_000_000)
        #expect(state.rate(of: 0) == 6_000_000)
        #expect(state.rate(of: 1) == 2_000_000)
    }

    @Test("resumed bytes count as done but not in the rate")
    func resumed() {
        var state = ProgressState(names: ["a"], fileSize: 100_000_000, startTime: 0)
        state.receivers[0].resumedBytes = 50_000_000
        state.receivers[0].bytesAcknowledged = 50_000_000
        state.advance(to: 0.25)
        state.receivers[0].bytesAcknowledged = 60_000_000
        state.advance(to: 1)
        #expect(state.fraction == 0.6)
        #expect(state.bytesTransferred == 10_000_000)
        #expect(state.rate == 10_000_000)
        #expect(state.eta == 4)
    }

    @Test("a failed receiver counts only what it got, so the total still reaches 100 %")
    func failedReceivers() {
        var state = ProgressState(names: ["a", "b"], fileSize: 100, startTime: 0)
        state.receivers[0].bytesAcknowledged = 30
        state.fail(0, reason: "gave up")
        state.receivers[1].phase = .verifying
        state.receivers[1].bytesAcknowledged = 100
        #expect(state.bytesTotal == 130)
        #expect(state.bytesDone == 130)
        #expect(state.eta == 0)
        #expect(!state.isFinished)
        state.receivers[1].phase = .committed
        state.advance(to: 2)
        #expect(state.isFinished)
        #expect(state.fraction == 1)
        #expect(state.rate == 65)  // the average over the whole push once finished
        #expect(state.receivers[0].failureReason == "gave up")
        #expect((state.committedCount, state.activeCount, state.failedCount) == (1, 0, 1))
    }

    @Test("the ring keeps a few seconds of samples however often it is fed")
    func ring() {
        var window = RateWindow(window: 2)
        window.record(bytes: 0, at: 0)
        window.record(bytes: 1, at: 0.1)  // too close to the last sample: skipped
        #expect(window.samples.map(\.time) == [0])
        for step in 1...10_000 { window.record(bytes: UInt64(step) * 1_000, at: Double(step) * 0.01) }
        #expect(window.samples.count == RateWindow.capacity)
        #expect(window.samples.map(\.time) == window.samples.map(\.time).sorted())
        #expect(window.samples.first!.time <= 100 - 2)
        // 1,000 bytes every 10 ms.
        let rate = window.rate(bytes: 10_000_000, at: 100)!
        #expect(abs(rate - 100_000) < 1)
    }

    @Test("advance never moves the clock back")
    func monotonic() {
        var state = ProgressState(names: ["a"], fileSize: 1, startTime: 5)
        state.advance(to: 7)
        state.advance(to: 6)
        #expect(state.now == 7)
        #expect(state.elapsed == 2)
    }
}
