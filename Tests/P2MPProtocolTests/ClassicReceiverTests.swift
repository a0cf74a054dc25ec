import P2MPProtocol
import P2MPSimulation
import P2MPWire
import Testing

@Suite("Classic receiver")
struct ClassicReceiverTests {
    typealias Receiver = ClassicReceiver<String>

    func receiver(loss: Double = 0) -> Receiver {
        Receiver(loss: SimulatedLoss(probability: loss, seed: 1))
    }

    func data(_ sequence: UInt32, _ payload: [UInt8]) -> [UInt8] {
        var packet: [UInt8] = []
        payload.withUnsafeBytes { ClassicPacket.encodeData(sequence: sequence, payload: $0, into: &packet) }
        return packet
    }

    /// Hands `packet` in and returns the one event it produced.
    func feed(_ receiver: inout Receiver, _ packet: [UInt8], from peer: String = "sender") -> Receiver.Event? {
        packet.withUnsafeBytes { receiver.handle($0, from: peer, now: .zero) }
        let event = receiver.pollEvent()
        #expect(receiver.pollEvent() == nil, "one datagram, one event")
        return event
    }

    /// The sequence number of the ACK the receiver would send now, if any.
    func pendingAck(_ receiver: inout Receiver) -> UInt32? {
        var buffer = [UInt8](repeating: 0, count: 8)
        guard let transmit = buffer.withUnsafeMutableBytes({ receiver.pollTransmit(into: $0) }) else { return nil }
        #expect(transmit.size == 8 && transmit.peer == "sender")
        guard case .ack(let sequence)? = try? buffer.withUnsafeBytes({ try ClassicPacket.decode($0) }) else { return nil }
        return sequence
    }

    @Test("in-sequence data is accepted and acked; the empty marker completes the file")
    func inSequence() {
        var receiver = receiver()
        #expect(feed(&receiver, data(0, [1, 2, 3])) == .accepted(payload: 8..<11, sequence: 0, completesFile: false))
        #expect(feed(&receiver, data(1, [4])) == .accepted(payload: 8..<9, sequence: 1, completesFile: false))
        #expect(feed(&receiver, data(2, [])) == .accepted(payload: 8..<8, sequence: 2, completesFile: true))
        #expect(receiver.isComplete)
        #expect(receiver.bytesAccepted == 4)
        #expect(feed(&receiver, data(2, [])) == .reacknowledged(2))
        #expect(pendingAck(&receiver) == 2)
        #expect(pendingAck(&receiver) == nil, "one ACK, then nothing")
    }

    @Test("ACKs of one batch collapse into the latest: they are cumulative")
    func coalescedAcks() {
        var receiver = receiver()
        _ = feed(&receiver, data(0, [1]))
        _ = feed(&receiver, data(1, [2]))
        _ = feed(&receiver, data(1, [2]))
        #expect(pendingAck(&receiver) == 1)
        #expect(pendingAck(&receiver) == nil)
        #expect(feed(&receiver, data(7, [1])) == .reacknowledged(1))
        #expect(pendingAck(&receiver) == 1)
    }

    @Test("duplicates and gaps re-ack the last in-sequence segment; nothing is acked before segment 0")
    func outOfSequence() {
        var receiver = receiver()
        #expect(feed(&receiver, data(1, [9])) == .ignored(.beforeFirstSegment))
        #expect(pendingAck(&receiver) == nil, "nothing is acked before segment 0")
        _ = feed(&receiver, data(0, [1]))
        #expect(feed(&receiver, data(0, [1])) == .reacknowledged(0))
        #expect(feed(&receiver, data(5, [1])) == .reacknowledged(0))
    }

    @Test("a bad checksum is dropped silently")
    func badChecksum() {
        var receiver = receiver()
        var packet = data(0, [1, 2, 3])
        packet[9] ^= 0x40
        #expect(feed(&receiver, packet) == .ignored(.malformed(.badChecksum(sequence: 0))))
        #expect(receiver.expected == 0)
    }

    @Test("after segment 0, other senders are ignored")
    func peerLock() {
        var receiver = receiver()
        _ = feed(&receiver, data(0, [1]))
        #expect(feed(&receiver, data(1, [2]), from: "intruder") == .ignored(.foreignPeer))
    }

    @Test("segment 0 fixes the segment size; nothing may follow a short segment but the end")
    func segmentSizeRules() {
        var receiver = receiver()
        _ = feed(&receiver, data(0, [1, 2]))
        #expect(feed(&receiver, data(1, [1, 2, 3])) == .ignored(.oversizedSegment(length: 3)))
        _ = feed(&receiver, data(1, [1]))
        #expect(feed(&receiver, data(2, [1])) == .ignored(.dataAfterShortSegment))
        #expect(feed(&receiver, data(2, [])) == .accepted(payload: 8..<8, sequence: 2, completesFile: true))
    }

    @Test("simulated loss discards about p of the data packets and names their sequence numbers")
    func simulatedLoss() {
        var receiver = receiver(loss: 0.3)
        var discarded = 0
        for _ in 0..<10_000 {
            if case .discarded(let sequence) = feed(&receiver, data(0, [7])) {
                #expect(sequence == 0)
                discarded += 1
            }
        }
        #expect((2_700...3_300).contains(discarded))
        var lossless = self.receiver(loss: 0)
        var certain = self.receiver(loss: 1)
        for _ in 0..<1000 {
            if case .discarded = feed(&lossless, data(0, [7])) { Issue.record("p = 0 discarded a packet") }
            if case .accepted = feed(&certain, data(0, [7])) { Issue.record("p = 1 accepted a packet") }
        }
    }

    @Test("ACKs, junk and truncated datagrams are ignored")
    func junk() {
        var receiver = receiver()
        #expect(feed(&receiver, ClassicPacket.encodeAck(sequence: 0)) == .ignored(.notData))
        #expect(feed(&receiver, [1, 2, 3]) == .ignored(.malformed(.truncated(length: 3))))
        #expect(feed(&receiver, [0, 0, 0, 0, 0, 0, 1, 2]) == .ignored(.malformed(.unknownType(0x0102))))
    }
}
