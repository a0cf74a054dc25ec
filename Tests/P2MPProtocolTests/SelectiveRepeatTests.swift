import P2MPProtocol
import Testing

@Suite("Selective repeat, congestion control, pacing")
struct SelectiveRepeatTests {
    typealias Action = SenderEngine.Action

    func at(_ milliseconds: Int64) -> Instant { .zero + .milliseconds(milliseconds) }

    func transmitted(_ actions: [Action]) -> [UInt64] {
        actions.compactMap { if case .transmit(_, let segment, _) = $0 { segment } else { nil } }
    }

    func retransmitted(_ actions: [Action]) -> [UInt64] {
        actions.compactMap { if case .transmit(_, let segment, true) = $0 { segment } else { nil } }
    }

    let fixed8 = SenderConfiguration(
        window: 8, groupPolicy: .independent, retransmissionTimeout: .fixed(.milliseconds(100)),
        giveUpAfter: .seconds(10))

    @Test("a fixed window of 8 sends 8 segments, then one more per acknowledged segment")
    func window() {
        var engine = SenderEngine(receiverCount: 1, segmentCount: 100, configuration: fixed8)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        #expect(transmitted(actions) == Array(0..<8))
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 2), now: at(1), into: &actions)
        #expect(transmitted(actions) == [8, 9])
    }

    @Test("SACK: only the segments shown lost are resent, not the whole window")
    func sackRecovery() {
        var engine = SenderEngine(receiverCount: 1, segmentCount: 100, configuration: fixed8)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        actions = []
        // Segment 0 was lost; 1..<8 arrived.
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 0, selective: [1..<8]), now: at(1), into: &actions)
        #expect(actions.contains(.lossDetected(receiver: 0, count: 1)))
        // The window is anchored at the cumulative point: nothing new until 0 arrives.
        #expect(transmitted(actions) == [0])
        #expect(retransmitted(actions) == [0])
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 8), now: at(2), into: &actions)
        #expect(transmitted(actions) == Array(8..<16))
    }

    @Test("a receiver-advertised window limits what is sent")
    func advertisedWindow() {
        var engine = SenderEngine(receiverCount: 1, segmentCount: 100, configuration: fixed8)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 8, window: 2), now: at(1), into: &actions)
        #expect(transmitted(actions) == [8, 9])
    }

    @Test("a timeout resends everything in flight, oldest first (go-back-N without SACK)")
    func timeoutResendsWindow() {
        var engine = SenderEngine(receiverCount: 1, segmentCount: 100, configuration: fixed8)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        actions = []
        engine.handleTimeout(now: at(100), into: &actions)
        #expect(actions.first == .timedOut(receiver: 0, segment: 0))
        #expect(retransmitted(actions) == Array(0..<8))
    }

    @Test("AIMD: slow start doubles per round trip, a loss cuts the window to 70 %, a timeout to 1")
    func aimd() {
        var configuration = fixed8
        configuration.window = 1024
        configuration.congestionControl = .aimd
        var engine = SenderEngine(receiverCount: 1, segmentCount: 100_000, configuration: configuration)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        #expect(transmitted(actions).count == 10)
        #expect(engine.statistics(of: 0).congestionWindow == 10)
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 10), now: at(1), into: &actions)
        #expect(engine.statistics(of: 0).congestionWindow == 20)
        // Paced: a burst of 10 at once, the rest spread over the next round trip.
        #expect(transmitted(actions).count == 11)
        while let deadline = engine.nextTimeout, deadline < at(2) {
            engine.handleTimeout(now: deadline, into: &actions)
        }
        #expect(transmitted(actions).count == 20)

        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 10, selective: [11..<30]), now: at(2), into: &actions)
        // Cut to 70 % of 20, then additive growth for the 19 segments the same ACK SACKed.
        #expect(abs(engine.statistics(of: 0).congestionWindow - (14 + 19.0 / 14)) < 1e-9)
        #expect(retransmitted(actions) == [10])

        actions = []
        engine.handleTimeout(now: at(200), into: &actions)
        #expect(engine.statistics(of: 0).congestionWindow == 1)
        #expect(transmitted(actions).count == 1)
    }

    @Test("a lost retransmission is found from the timestamps of later segments (RACK), not by the timer")
    func lostRetransmission() {
        var configuration = fixed8
        configuration.retransmissionTimeout = .fixed(.seconds(1))
        var engine = SenderEngine(receiverCount: 1, segmentCount: 100, configuration: configuration)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        actions = []
        // Segment 0 lost, 1..<8 held: 0 goes again at 10 ms, with 8, 9.
        engine.handleAcknowledgement(
            from: 0, Acknowledgement(cumulative: 0, selective: [1..<8], roundTripSample: .milliseconds(10)), now: at(10),
            into: &actions)
        #expect(retransmitted(actions) == [0])
        actions = []
        // The retransmission is lost too; segment 9, sent with it, arrives. Within the
        // reordering window (a quarter of the RTT) nothing is concluded...
        engine.handleAcknowledgement(
            from: 0, Acknowledgement(cumulative: 0, selective: [1..<10], roundTripSample: .milliseconds(10)), now: at(20),
            into: &actions)
        #expect(retransmitted(actions).isEmpty)
        // ...but a segment sent later than that shows it lost, long before the 1 s timeout.
        engine.handleAcknowledgement(
            from: 0, Acknowledgement(cumulative: 0, selective: [1..<11], roundTripSample: .milliseconds(10)), now: at(24),
            into: &actions)
        #expect(actions.contains(.lossDetected(receiver: 0, count: 1)))
        #expect(retransmitted(actions) == [0])
        #expect(engine.statistics(of: 0).timeouts == 0)
    }

    @Test("segments SACKed restart the retransmission timer: holes are loss detection's while the path delivers")
    func selectiveProgressRestartsTimer() {
        var engine = SenderEngine(receiverCount: 1, segmentCount: 100, configuration: fixed8)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        actions = []
        // The timeout is 100 ms; at 60 ms segments 1..<4 arrive, 0 still missing.
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 0, selective: [1..<4]), now: at(60), into: &actions)
        engine.handleTimeout(now: at(100), into: &actions)
        #expect(!actions.contains { if case .timedOut = $0 { true } else { false } })
        engine.handleTimeout(now: at(160), into: &actions)
        #expect(actions.contains(.timedOut(receiver: 0, segment: 0)))
    }

    @Test("the rate cap spreads transmissions over time")
    func rateCap() {
        var configuration = fixed8
        configuration.window = 1000
        configuration.segmentBytes = 1000
        configuration.rateLimit = 1_000_000  // 1,000 segments per second
        configuration.giveUpAfter = .seconds(100)
        configuration.retransmissionTimeout = .fixed(.seconds(60))
        var engine = SenderEngine(receiverCount: 1, segmentCount: 10_000, configuration: configuration)
        var actions: [Action] = []
        var now = Instant.zero
        engine.start(now: now, into: &actions)
        while now < at(500), let deadline = engine.nextTimeout {
            now = deadline
            engine.handleTimeout(now: now, into: &actions)
        }
        let sent = transmitted(actions).count
        // 0.5 s at 1,000 segments/s, plus the initial burst of 100 ms (100 segments).
        #expect((500...610).contains(sent), "sent \(sent)")
    }

    @Test("activate resumes a receiver from what it already holds")
    func resume() {
        var engine = SenderEngine(receiverCount: 2, segmentCount: 20, configuration: fixed8)
        var actions: [Action] = []
        engine.activate(1, from: 15, now: .zero, into: &actions)
        #expect(actions == (15..<20).map { .transmit(receiver: 1, segment: $0, isRetransmission: false) })
        #expect(engine.state(of: 0) == .pending)
        actions = []
        engine.activate(0, from: 20, now: .zero, into: &actions)
        #expect(actions == [.completed(receiver: 0)])
    }

    @Test("abandon fails a pending or active receiver once, silently: the caller reports it")
    func abandon() {
        var engine = SenderEngine(receiverCount: 2, segmentCount: 5, configuration: fixed8)
        var actions: [Action] = []
        engine.abandon(0, reason: .noProgress(.seconds(3)), now: .zero, into: &actions)
        engine.abandon(0, reason: .noProgress(.zero), now: .zero, into: &actions)
        #expect(actions.isEmpty)
        #expect(engine.state(of: 0) == .failed(.noProgress(.seconds(3))))
        #expect(!engine.isFinished)
        engine.start(now: .zero, into: &actions)
        #expect(actions.allSatisfy { if case .transmit(receiver: 1, _, _) = $0 { true } else { false } }, "\(actions)")
        actions = []
        engine.abandon(1, reason: .noProgress(.zero), now: .zero, into: &actions)
        #expect(actions.isEmpty)
        #expect(engine.isFinished)
    }

    @Test("an echoed-timestamp sample feeds the estimator even for a retransmission")
    func timestampSamples() {
        var engine = SenderEngine(receiverCount: 1, segmentCount: 5, configuration: fixed8)
        var actions: [Action] = []
        engine.start(now: .zero, into: &actions)
        engine.handleTimeout(now: at(100), into: &actions)
        engine.handleAcknowledgement(
            from: 0, Acknowledgement(cumulative: 1, roundTripSample: .milliseconds(3)), now: at(103), into: &actions)
        #expect(engine.statistics(of: 0).smoothedRTT == .milliseconds(3))
    }
}
