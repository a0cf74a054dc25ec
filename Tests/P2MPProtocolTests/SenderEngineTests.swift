import P2MPProtocol
import Testing

@Suite("Sender engine")
struct SenderEngineTests {
    typealias Action = SenderEngine.Action
    let fixed = SenderConfiguration(retransmissionTimeout: .fixed(.milliseconds(100)), giveUpAfter: .seconds(1))
    let t0 = Instant.zero

    func at(_ milliseconds: Int64) -> Instant { .zero + .milliseconds(milliseconds) }

    @Test("Stop-and-Wait: segment k+1 goes out only after every receiver acked k")
    func lockstep() {
        var engine = SenderEngine(receiverCount: 3, segmentCount: 3, configuration: fixed)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        #expect(actions == (0..<3).map { .transmit(receiver: $0, segment: 0, isRetransmission: false) })

        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 1), now: at(1), into: &actions)
        engine.handleAcknowledgement(from: 2, Acknowledgement(cumulative: 1), now: at(2), into: &actions)
        #expect(actions.isEmpty, "receiver 1 has not acked segment 0 yet")

        engine.handleAcknowledgement(from: 1, Acknowledgement(cumulative: 1), now: at(3), into: &actions)
        #expect(actions.count == 3)
        #expect(Set((0..<3).map { receiver in actions.contains(.transmit(receiver: receiver, segment: 1, isRetransmission: false)) }) == [true])
    }

    @Test("a timeout resends only to the receivers that have not acked")
    func retransmitsSelectively() {
        var engine = SenderEngine(receiverCount: 3, segmentCount: 2, configuration: fixed)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        engine.handleAcknowledgement(from: 1, Acknowledgement(cumulative: 1), now: at(5), into: &actions)
        actions = []
        #expect(engine.nextTimeout == at(100))
        engine.handleTimeout(now: at(100), into: &actions)
        #expect(
            actions == [
                .timedOut(receiver: 0, segment: 0), .transmit(receiver: 0, segment: 0, isRetransmission: true),
                .timedOut(receiver: 2, segment: 0), .transmit(receiver: 2, segment: 0, isRetransmission: true),
            ])
        #expect(engine.statistics(of: 0).retransmissions == 1)
        #expect(engine.statistics(of: 1).retransmissions == 0)
    }

    @Test("a receiver that reneges on SACKed segments gets them again after a timeout (RFC 2018, section 8)")
    func renegedSelectiveAcknowledgements() {
        let configuration = SenderConfiguration(
            window: 4, groupPolicy: .independent, retransmissionTimeout: .fixed(.milliseconds(100)), giveUpAfter: .seconds(10))
        var engine = SenderEngine(receiverCount: 1, segmentCount: 4, configuration: configuration)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        #expect(actions == (0..<4).map { .transmit(receiver: 0, segment: $0, isRetransmission: false) })
        // Segment 0 is missing, 1-3 are SACKed: three segments above it, so 0 is resent at once.
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 0, selective: [1..<4]), now: at(10), into: &actions)
        #expect(actions == [.lossDetected(receiver: 0, count: 1), .transmit(receiver: 0, segment: 0, isRetransmission: true)])
        // The receiver restarted and forgot 1-3: it holds only 0. Nothing is in flight, yet
        // the timer stays armed, and when it fires the SACK marks are dropped.
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 1), now: at(20), into: &actions)
        #expect(actions.isEmpty)
        #expect(engine.deadline(of: 0) == at(120))
        engine.handleTimeout(now: at(120), into: &actions)
        #expect(
            actions == [.timedOut(receiver: 0, segment: 1)]
                + (1..<4).map { .transmit(receiver: 0, segment: $0, isRetransmission: true) })
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 4), now: at(130), into: &actions)
        #expect(actions == [.completed(receiver: 0)])
    }

    @Test("give-up holds without the retransmission timer: no progress for giveUpAfter fails the receiver")
    func giveUpBeforeTimeout() {
        let configuration = SenderConfiguration(
            window: 2, groupPolicy: .independent, retransmissionTimeout: .fixed(.seconds(5)), giveUpAfter: .seconds(1))
        var engine = SenderEngine(receiverCount: 1, segmentCount: 2, configuration: configuration)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        actions = []
        #expect(engine.deadline(of: 0) == at(1_000), "the give-up time comes before the 5 s timeout")
        engine.handleTimeout(now: at(1_000), into: &actions)
        #expect(actions == [.failed(receiver: 0, reason: .noProgress(.seconds(1)))])
        #expect(engine.deadline(of: 0) == nil)
        #expect(engine.isFinished)
    }

    @Test("a lockstep receiver that waits for the group is not given up on; the one it waits for is")
    func lockstepWaiterIsNotGivenUp() {
        let configuration = SenderConfiguration(retransmissionTimeout: .fixed(.milliseconds(100)), giveUpAfter: .seconds(1))
        var engine = SenderEngine(receiverCount: 2, segmentCount: 2, configuration: configuration)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 1), now: at(1), into: &actions)
        actions = []
        // Receiver 1 never answers; receiver 0 has nothing outstanding and waits for it.
        while engine.state(of: 1) == .active, let next = engine.nextTimeout, next < at(5_000) {
            engine.handleTimeout(now: next, into: &actions)
        }
        #expect(actions.contains(.failed(receiver: 1, reason: .noProgress(.seconds(1)))))
        #expect(engine.state(of: 0) == .active, "receiver 0 owed nothing while it waited")
        #expect(actions.contains(.transmit(receiver: 0, segment: 1, isRetransmission: false)), "the group moved on without 1")
    }

    @Test("duplicate and impossible acknowledgements change nothing")
    func ignoresBogusAcks() {
        var engine = SenderEngine(receiverCount: 1, segmentCount: 5, configuration: fixed)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        actions = []
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 4), now: at(1), into: &actions)
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 0), now: at(1), into: &actions)
        engine.handleAcknowledgement(from: 7, Acknowledgement(cumulative: 1), now: at(1), into: &actions)
        #expect(actions.isEmpty)
        #expect(engine.acknowledgedSegments(of: 0) == 0)
    }

    @Test("a silent receiver is given up on and the rest of the group completes")
    func givesUpOnSilentReceiver() {
        var engine = SenderEngine(receiverCount: 2, segmentCount: 2, configuration: fixed)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        var now = t0
        var completed = false
        var failed = false
        for _ in 0..<1000 where !engine.isFinished {
            guard let deadline = engine.nextTimeout else { break }
            now = deadline
            actions = []
            engine.handleTimeout(now: now, into: &actions)
            for action in actions {
                switch action {
                case .transmit(0, let segment, _):
                    engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: segment + 1), now: now, into: &actions)
                case .failed(1, .noProgress(let stalled)):
                    failed = true
                    #expect(stalled >= .seconds(1))
                default: break
                }
            }
            if case .completed = engine.state(of: 0) { completed = true }
        }
        // Receiver 0 acks only what it is sent after each timer; it must still finish once 1 is dropped.
        while case .active = engine.state(of: 0), let deadline = engine.nextTimeout {
            actions = []
            engine.handleTimeout(now: deadline, into: &actions)
            for case .transmit(0, let segment, _) in actions {
                engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: segment + 1), now: deadline, into: &actions)
            }
        }
        if case .completed = engine.state(of: 0) { completed = true }
        #expect(failed)
        #expect(completed)
        #expect(engine.isFinished)
    }

    @Test("independent receivers: a stalled one does not hold back another")
    func independentReceivers() {
        var configuration = fixed
        configuration.groupPolicy = .independent
        var engine = SenderEngine(receiverCount: 2, segmentCount: 3, configuration: configuration)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        for segment in 1...3 {
            actions = []
            engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: UInt64(segment)), now: at(Int64(segment)), into: &actions)
        }
        #expect(engine.state(of: 0) == .completed(at: at(3)))
        #expect(engine.acknowledgedSegments(of: 1) == 0)
    }

    @Test("an empty transfer completes at once")
    func emptyTransfer() {
        var engine = SenderEngine(receiverCount: 2, segmentCount: 0, configuration: fixed)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        #expect(actions == [.completed(receiver: 0), .completed(receiver: 1)])
        #expect(engine.isFinished)
    }

    @Test("Karn: a retransmitted segment gives no RTT sample")
    func karn() {
        let configuration = SenderConfiguration(retransmissionTimeout: .adaptive(.standard), giveUpAfter: .seconds(10))
        var engine = SenderEngine(receiverCount: 1, segmentCount: 3, configuration: configuration)
        var actions: [Action] = []
        engine.start(now: t0, into: &actions)
        engine.handleTimeout(now: at(1000), into: &actions)
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 1), now: at(1001), into: &actions)
        #expect(engine.statistics(of: 0).smoothedRTT == nil)
        engine.handleAcknowledgement(from: 0, Acknowledgement(cumulative: 2), now: at(1021), into: &actions)
        #expect(engine.statistics(of: 0).smoothedRTT == .milliseconds(20))
    }
}
