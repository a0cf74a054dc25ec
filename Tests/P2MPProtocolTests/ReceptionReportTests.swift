import P2MPProtocol
import P2MPWire
import Testing

/// The receiver endpoint's loss counting and its reception report in COMPLETE, which a
/// sender asks for with OFFER flag bit 1 and reads into `NativeSender.receptions`.
@Suite("Reception reports")
struct ReceptionReportTests {
    typealias Endpoint = NativeReceiverEndpoint<Int>

    static let transfer: UInt64 = 7
    static let sender = 1

    /// An endpoint that admitted an offer of 10 segments of 10 bytes from `sender`.
    func admitted(flags: NativeOfferFlags = .receptionReport, loss: SimulatedLoss = .none) -> Endpoint {
        var endpoint = Endpoint(configuration: .init(), loss: loss)
        handle(&endpoint, .offer(NativeOffer(segmentSize: 10, fileSize: 100, sha256: .zero, window: 64, flags: flags, name: "a")))
        _ = drainEvents(&endpoint)
        endpoint.admit(Self.transfer, resumeFrom: 0, alreadyComplete: false, now: .zero)
        _ = transmits(&endpoint)
        return endpoint
    }

    func datagram(_ packet: NativePacket, id: UInt64 = Self.transfer) -> [UInt8] {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: id, packet: packet).encode(
            into: &bytes, payloadSource: UnsafeRawBufferPointer(start: nil, count: 0))
        return bytes
    }

    func data(_ segment: UInt64, id: UInt64 = Self.transfer) -> [UInt8] {
        var bytes: [UInt8] = []
        [UInt8](repeating: 0xAB, count: 10).withUnsafeBytes {
            NativeDatagram.encodeData(transferID: id, segment: segment, timestamp: 0, payload: $0, into: &bytes)
        }
        return bytes
    }

    func handle(_ endpoint: inout Endpoint, _ packet: NativePacket, from peer: Int = Self.sender, at now: Instant = .zero) {
        datagram(packet).withUnsafeBytes { endpoint.handle($0, from: peer, now: now) }
    }

    func deliver(_ endpoint: inout Endpoint, _ segments: UInt64...) {
        for segment in segments {
            data(segment).withUnsafeBytes { endpoint.handle($0, from: Self.sender, now: .zero) }
        }
    }

    func drainEvents(_ endpoint: inout Endpoint) -> [Endpoint.Event] {
        var events: [Endpoint.Event] = []
        while let event = endpoint.pollEvent() { events.append(event) }
        return events
    }

    /// Every datagram the endpoint wants to send, decoded.
    func transmits(_ endpoint: inout Endpoint) -> [NativePacket] {
        var buffer = [UInt8](repeating: 0, count: Endpoint.maximumTransmitSize)
        var packets: [NativePacket] = []
        while let transmit = buffer.withUnsafeMutableBytes({ endpoint.pollTransmit(into: $0) }) {
            let decoded = buffer.withUnsafeBytes { try? NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: $0[0..<transmit.size])) }
            if let decoded { packets.append(decoded.packet) }
        }
        return packets
    }

    func completions(_ packets: [NativePacket]) -> [NativeCompletion] {
        packets.compactMap { if case .complete(let completion) = $0 { completion } else { nil } }
    }

    @Test("COMPLETE reports what the session counted when the OFFER asked, and its repeats too")
    func reportedWhenAsked() {
        var endpoint = admitted()
        deliver(&endpoint, 0, 1, 3, 4, 5, 6, 7, 8, 9, 9, 2)
        let counted = NativeReception(segments: 11, duplicates: 1, network: .init(lost: 1, repaired: 1))
        #expect(endpoint.reception(of: Self.transfer) == counted)
        #expect(drainEvents(&endpoint).contains(.allReceived(transferID: Self.transfer)))
        endpoint.finalized(Self.transfer, NativeCompletion(status: .committed, sha256: .zero), now: .zero)
        #expect(completions(transmits(&endpoint)) == [NativeCompletion(status: .committed, sha256: .zero, reception: counted)])
        handle(&endpoint, .probe)
        #expect(completions(transmits(&endpoint)).map(\.reception) == [counted])
    }

    @Test("no report for a sender that did not ask: an older one could not decode it")
    func notReportedUnasked() {
        var endpoint = admitted(flags: [])
        deliver(&endpoint, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
        _ = drainEvents(&endpoint)
        endpoint.finalized(Self.transfer, NativeCompletion(status: .committed, sha256: .zero), now: .zero)
        #expect(completions(transmits(&endpoint)).map(\.reception) == [nil])
    }

    @Test("a file held already is reported as nothing received")
    func alreadyHeld() {
        var endpoint = Endpoint(configuration: .init())
        handle(&endpoint, .offer(NativeOffer(segmentSize: 10, fileSize: 100, sha256: .zero, window: 64, flags: .receptionReport, name: "a")))
        _ = drainEvents(&endpoint)
        endpoint.admit(Self.transfer, resumeFrom: 0, alreadyComplete: true, now: .zero)
        #expect(completions(transmits(&endpoint)).map(\.reception) == [NativeReception()])
    }

    @Test("a write failure reports what arrived until then")
    func failedStorage() {
        var endpoint = admitted()
        deliver(&endpoint, 0, 2)
        endpoint.failStorage(Self.transfer, reason: "EIO", now: .zero)
        #expect(
            completions(transmits(&endpoint)).map(\.reception) == [NativeReception(segments: 2, network: .init(lost: 1))])
    }

    @Test("simulated loss is counted by the session's window, with no event per segment")
    func simulatedLoss() {
        var endpoint = admitted(loss: SimulatedLoss(probability: 1, seed: 1))
        deliver(&endpoint, 0, 1, 2)
        #expect(drainEvents(&endpoint).isEmpty)
        #expect(endpoint.reception(of: Self.transfer) == NativeReception(segments: 3, simulated: .init(lost: 3)))
    }

    @Test("discardData counts DATA of a receiving session as storage loss, and nothing else")
    func storageDiscards() {
        var endpoint = admitted()
        deliver(&endpoint, 0)
        data(1).withUnsafeBytes { endpoint.discardData($0, from: Self.sender) }
        data(2).withUnsafeBytes { endpoint.discardData($0, from: 99) }  // not the session's peer
        data(2, id: 8).withUnsafeBytes { endpoint.discardData($0, from: Self.sender) }  // no such session
        datagram(.probe).withUnsafeBytes { endpoint.discardData($0, from: Self.sender) }  // not DATA
        var corrupt = data(3)
        corrupt[20] ^= 1
        corrupt.withUnsafeBytes { endpoint.discardData($0, from: Self.sender) }  // fails its CRC
        deliver(&endpoint, 2, 1)
        #expect(
            endpoint.reception(of: Self.transfer)
                == NativeReception(segments: 4, storage: .init(lost: 1, repaired: 1)))
        #expect(!drainEvents(&endpoint).contains { if case .ended = $0 { true } else { false } })
    }

    @Test("a session that ends without a commit hands over what it counted")
    func endedSession() {
        var endpoint = admitted()
        deliver(&endpoint, 0, 3)
        _ = drainEvents(&endpoint)
        endpoint.handleTimeout(now: .zero + .seconds(31))
        #expect(
            drainEvents(&endpoint)
                == [.ended(transferID: Self.transfer, reason: .idle, reception: NativeReception(segments: 2, network: .init(lost: 2)))])
    }

    @Test("the sender asks for reports and keeps each receiver's")
    func senderKeepsReports() throws {
        var sender = NativeSender(
            fileSize: 100, receiverCount: 2,
            configuration: .init(transferID: 5, name: "a", sha256: .zero, segmentSize: 10, replaceExisting: true))
        sender.start(now: .zero)
        var buffer = [UInt8](repeating: 0, count: NativeDatagram.maximumSize)
        let offer = try #require(buffer.withUnsafeMutableBytes { sender.pollTransmit(into: $0, now: .zero) })
        let decoded = try buffer.withUnsafeBytes { try NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: $0[0..<offer.size])) }
        guard case .offer(let sent) = decoded.packet else {
            Issue.record("not an OFFER: \(decoded)")
            return
        }
        #expect(sent.flags == [.replaceExisting, .receptionReport])
        let reception = NativeReception(segments: 12, duplicates: 1, network: .init(lost: 2, repaired: 2))
        let complete = datagram(
            .complete(NativeCompletion(status: .committed, sha256: .zero, reception: reception)), id: sender.transferIDs[0])
        complete.withUnsafeBytes { sender.handle($0, from: 0, now: .zero) }
        #expect(sender.outcome(of: 0) == .committed(alreadyHeld: false))
        #expect(sender.receptions == [reception, nil])
    }
}
