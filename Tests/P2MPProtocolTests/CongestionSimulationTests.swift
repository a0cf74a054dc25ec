import P2MPProtocol
import P2MPSimulation
import P2MPWire
import Testing

/// The model-based controller against a bottleneck in virtual time: the sender's link with
/// a rate and a drop-tail buffer, a round trip beyond it, random loss and route changes
/// (`NativeScenario.congestion`). Every number is virtual, so the assertions are exact
/// reproductions, not timings; each failure prints the scenario.
@Suite("Congestion control in the simulation")
struct CongestionSimulationTests {
    /// File bytes a link of `rate` carries per second, after the native and IP/UDP headers.
    static func payloadRate(_ scenario: NativeScenario, _ rate: Double) -> Double {
        let segment = Double(scenario.segmentSize)
        return rate * segment / Double(NativeDatagram.dataDatagramSize(payload: scenario.segmentSize) + 28)
    }

    /// Runs `scenario`, checks it delivered every file intact, and returns the result with
    /// progress sampled every 100 ms.
    static func run(_ scenario: NativeScenario) -> NativeSimulation.Result {
        var scenario = scenario
        scenario.progressInterval = .milliseconds(100)
        let result = NativeSimulation.run(scenario)
        #expect(result.violations.isEmpty, "\(scenario)\n  \(result.violations)")
        return result
    }

    /// The throughput of every receiver together from 1 s on (after STARTUP) until the first
    /// one finished (after it the others share a link they did not probe yet).
    static func steadyThroughput(_ result: NativeSimulation.Result) -> Double {
        let end = result.firstFinish?.duration(since: .zero) ?? result.elapsed
        return result.throughput(from: .seconds(1), to: end) ?? 0
    }

    static func describe(_ result: NativeSimulation.Result, rate: Double) -> String {
        let steady = steadyThroughput(result) / payloadRate(result.scenario, rate)
        let estimates = result.receivers.map { Int(($0.statistics.estimatedBandwidth ?? 0) / 1_000) }
        return "\(result.scenario)\n  steady \(Int(steady * 100)) % of the link, finished at "
            + "\(result.receivers.map { $0.finishedAt.map(\.description) ?? "-" }), queueing median "
            + "\(result.queueing(quantile: 0.5, after: .seconds(1)) ?? .zero), overflow "
            + "\(result.overflowRate(after: .seconds(1))), estimates kB/s \(estimates)"
    }

    @Test(
        "one flow converges to within 20 % of the bottleneck rate, its estimate too, with a small queue",
        arguments: [(2_000_000.0, 40), (10_000_000.0, 20), (1_000_000.0, 100)])
    func oneFlowConverges(rate: Double, rttMilliseconds: Int64) {
        let rtt = Duration.milliseconds(rttMilliseconds)
        let scenario = NativeScenario.congestion(
            seed: 11, receivers: 1, bytesPerSecond: rate, rtt: rtt, buffer: rtt, seconds: 4)
        let result = Self.run(scenario)
        let context = Self.describe(result, rate: rate)
        #expect(Self.steadyThroughput(result) >= 0.8 * Self.payloadRate(scenario, rate), "\(context)")
        let estimate = result.receivers[0].statistics.estimatedBandwidth ?? 0
        #expect(abs(estimate / rate - 1) <= 0.2, "\(context)")
        // Paced at its estimate, a lone flow keeps the queue below a quarter of the RTT.
        #expect((result.queueing(quantile: 0.5, after: .seconds(1)) ?? .zero) <= rtt / 4, "\(context)")
        #expect(result.overflowRate(after: .seconds(1)) <= 0.01, "\(context)")
    }

    @Test("four flows share a bottleneck: together within 20 % of its rate, the queue bounded by their windows")
    func fourFlowsShare() {
        let rate = 4_000_000.0
        let rtt = Duration.milliseconds(30)
        let scenario = NativeScenario.congestion(
            seed: 12, receivers: 4, bytesPerSecond: rate, rtt: rtt, buffer: rtt * 5, seconds: 5)
        let result = Self.run(scenario)
        let context = Self.describe(result, rate: rate)
        #expect(Self.steadyThroughput(result) >= 0.8 * Self.payloadRate(scenario, rate), "\(context)")
        let total = result.receivers.reduce(0) { $0 + ($1.statistics.estimatedBandwidth ?? 0) }
        #expect(total >= 0.8 * rate, "\(context)")
        // Each keeps at most two BDPs of its share in flight, so however deep the buffer (five
        // BDPs here), the queue stays below the one BDP the window gain allows plus what the
        // flows' estimates overshoot their shares (BBR's maximum filter).
        #expect((result.queueing(quantile: 0.5, after: .seconds(1)) ?? .zero) <= rtt * 2, "\(context)")
        #expect(result.overflowRate(after: .seconds(1)) == 0, "\(context)")
    }

    @Test(
        "random loss of 1 % and 5 % does not slow it down: within 20 % of what the link carries",
        arguments: [(1, 0.01), (1, 0.05), (4, 0.01), (4, 0.05)])
    func randomLoss(receivers: Int, loss: Double) {
        let rate = 4_000_000.0
        let scenario = NativeScenario.congestion(
            seed: 13, receivers: receivers, bytesPerSecond: rate, rtt: .milliseconds(30), buffer: .milliseconds(40),
            loss: loss, seconds: 5)
        let result = Self.run(scenario)
        let context = Self.describe(result, rate: rate)
        // Lost datagrams have passed the link, so at most (1 - loss) of it is new data.
        #expect(Self.steadyThroughput(result) >= 0.8 * (1 - loss) * Self.payloadRate(scenario, rate), "\(context)")
    }

    @Test("loss-based AIMD in the same 5 % loss collapses; the model-based controller is many times faster")
    func comparedWithAIMD() {
        var scenario = NativeScenario.congestion(
            seed: 14, receivers: 1, bytesPerSecond: 4_000_000, rtt: .milliseconds(30), buffer: .milliseconds(40),
            loss: 0.05, seconds: 2)
        let model = Self.run(scenario)
        scenario.congestionControl = .aimd
        let aimd = Self.run(scenario)
        #expect(aimd.elapsed > model.elapsed * 3, "model-based \(model.elapsed), AIMD \(aimd.elapsed)")
    }

    @Test("a deep buffer stays nearly empty: the model-based queue is bounded by its window, AIMD's only by the buffer")
    func deepBuffer() {
        let rtt = Duration.milliseconds(20)
        var scenario = NativeScenario.congestion(
            seed: 15, receivers: 1, bytesPerSecond: 4_000_000, rtt: rtt, buffer: rtt * 10, seconds: 4)
        let model = Self.run(scenario)
        scenario.congestionControl = .aimd
        let aimd = Self.run(scenario)
        let modelQueue = model.queueing(quantile: 0.5, after: .seconds(1)) ?? .zero
        let aimdQueue = aimd.queueing(quantile: 0.5, after: .seconds(1)) ?? .zero
        #expect(modelQueue <= rtt, "model-based median queueing \(modelQueue)")
        #expect(aimdQueue > rtt * 3, "AIMD median queueing \(aimdQueue)")
    }

    @Test("route changes: the RTT goes from 20 to 34 ms and down to 10 ms; the flow keeps the link busy")
    func routeChanges() {
        let rate = 4_000_000.0
        var scenario = NativeScenario.congestion(
            seed: 16, receivers: 1, bytesPerSecond: rate, rtt: .milliseconds(20), buffer: .milliseconds(60), seconds: 6)
        scenario.delayChanges = [(at: .seconds(2), delay: .milliseconds(17)), (at: .seconds(4), delay: .milliseconds(5))]
        let result = Self.run(scenario)
        let context = Self.describe(result, rate: rate)
        for (start, end): (Double, Double) in [(1, 2), (2.5, 4), (4.5, 5.5)] {
            let measured = result.throughput(from: .seconds(start), to: .seconds(end)) ?? 0
            #expect(measured >= 0.8 * Self.payloadRate(scenario, rate), "\(start)-\(end) s: \(measured) B/s\n\(context)")
        }
        #expect(result.receivers[0].statistics.minimumRTT ?? .zero < .milliseconds(12), "\(context)")
    }

    @Test("a path three times longer is learned when the minimum RTT expires (10 s, PROBE_RTT)")
    func longerPathLearned() {
        let rate = 2_000_000.0
        var scenario = NativeScenario.congestion(
            seed: 17, receivers: 1, bytesPerSecond: rate, rtt: .milliseconds(20), buffer: .milliseconds(60), seconds: 14)
        scenario.delayChanges = [(at: .seconds(1), delay: .milliseconds(30))]
        let result = Self.run(scenario)
        let context = Self.describe(result, rate: rate)
        // Two BDPs of the old path fill two thirds of the new one until the estimate expires.
        let before = result.throughput(from: .seconds(2), to: .seconds(9)) ?? 0
        let after = result.throughput(from: .seconds(12), to: .seconds(13.5)) ?? 0
        #expect(before < 0.8 * Self.payloadRate(scenario, rate), "\(before) B/s\n\(context)")
        #expect(after >= 0.8 * Self.payloadRate(scenario, rate), "\(after) B/s\n\(context)")
        #expect(result.receivers[0].statistics.minimumRTT ?? .zero >= .milliseconds(60), "\(context)")
    }

    @Test("seeded paths (rate, RTT, buffer, loss, 1-4 receivers): within 20 % of what the link carries", arguments: 0..<12)
    func seededPaths(seed: UInt64) {
        var random = SeededRandom(seed: seed &* 0x9E37_79B9_7F4A_7C15)
        let rate = Double.random(in: 1_000_000...6_000_000, using: &random)
        let rtt = Duration.milliseconds(Int64.random(in: 5...80, using: &random))
        let buffer = rtt * Double.random(in: 1...3, using: &random)
        let loss = [0, 0.01, 0.03, 0.05].randomElement(using: &random)!
        let receivers = Int.random(in: 1...4, using: &random)
        let scenario = NativeScenario.congestion(
            seed: seed, receivers: receivers, bytesPerSecond: rate, rtt: rtt, buffer: buffer, loss: loss, seconds: 4)
        let result = Self.run(scenario)
        let context = Self.describe(result, rate: rate)
        #expect(Self.steadyThroughput(result) >= 0.8 * (1 - loss) * Self.payloadRate(scenario, rate), "\(context)")
    }
}

/// Sharing a 100 Mbit/s bottleneck (20 ms, a buffer of 1.25 BDP) with another flow that
/// starts 2 s later or earlier: loss-based AIMD, which backs off as CUBIC does, or a second
/// model-based flow, as TCP BBR is one. Shares are of what both delivered together.
@Suite("Congestion control sharing a bottleneck, in the simulation")
struct CompetingFlowsTests {
    static let rate = 12_500_000.0

    static func run(first: CongestionControl, second: CongestionControl) -> CompetingFlows.Result {
        let segments = UInt64(rate * 16 / 1_456)
        return CompetingFlows.run(
            .init(
                flows: [.init(first, segments: segments), .init(second, start: .seconds(2), segments: segments)],
                bytesPerSecond: rate, buffer: .milliseconds(25), rtt: .milliseconds(20)))
    }

    @Test(
        "with a loss-based flow, either one first, each gets at least a third",
        arguments: [(CongestionControl.aimd, CongestionControl.modelBased), (.modelBased, .aimd)])
    func lossBased(first: CongestionControl, second: CongestionControl) {
        let result = Self.run(first: first, second: second)
        let shares = result.shares(from: .seconds(4), to: .seconds(16))
        #expect(shares.count == 2 && shares.allSatisfy { $0 >= 1.0 / 3 }, "shares \(shares)")
    }

    @Test("a second model-based flow starting 2 s later gets at least a third, converging toward half")
    func latecomer() {
        let result = Self.run(first: .modelBased, second: .modelBased)
        let early = result.shares(from: .seconds(6), to: .seconds(10))
        let late = result.shares(from: .seconds(14), to: .seconds(18))
        #expect(early.count == 2 && early[1] >= 1.0 / 3, "shares from 6 to 10 s \(early)")
        #expect(late.count == 2 && late[1] > early[1], "shares from 14 to 18 s \(late), from 6 to 10 s \(early)")
    }
}

