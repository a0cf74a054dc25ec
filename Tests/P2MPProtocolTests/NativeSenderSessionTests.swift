import P2MPProtocol
import P2MPWire
import Testing

/// What the native sender does when the authenticated session under a receiver is replaced.
@Suite("Native sender: replaced sessions")
struct NativeSenderSessionTests {
    static let configuration = NativeSender.Configuration(
        transferID: 7, name: "f", sha256: .zero, segmentSize: 10, window: 4, giveUpAfter: .seconds(30))

    /// Every datagram due now, decoded.
    static func transmits(_ sender: inout NativeSender, now: Instant) -> [NativeDatagram] {
        var datagrams: [NativeDatagram] = []
        var buffer = [UInt8](repeating: 0, count: NativeDatagram.maximumSize)
        while true {
            while let event = sender.pollEvent() {
                guard case .payloadNeeded(let block) = event else { continue }
                sender.supplyPayload(block, now: now) { $0.initializeMemory(as: UInt8.self, repeating: 1) }
            }
            guard let transmit = buffer.withUnsafeMutableBytes({ sender.pollTransmit(into: $0, now: now) }) else {
                if sender.hasEvents { continue }
                return datagrams
            }
            datagrams.append(try! buffer.withUnsafeBytes { try NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: $0[..<transmit.size])) })
        }
    }

    static func accept(_ sender: inout NativeSender, transferID: UInt64, now: Instant) {
        var accept: [UInt8] = []
        NativeDatagram(transferID: transferID, packet: .accept(NativeAccept(resumeFrom: 0, window: 4))).encode(into: &accept)
        accept.withUnsafeBytes { sender.handle($0, from: 0, now: now) }
    }

    @Test("a receiver whose session was replaced mid-transfer is offered the file again under a new transfer id")
    func reofferedUnderANewID() throws {
        var sender = NativeSender(fileSize: 100, receiverCount: 2, configuration: Self.configuration)
        sender.start(receiver: 0, now: .zero)
        let offer = try #require(Self.transmits(&sender, now: .zero).first)
        Self.accept(&sender, transferID: offer.transferID, now: .zero + .milliseconds(1))
        let data = Self.transmits(&sender, now: .zero + .milliseconds(1))
        #expect(data.count == 4 && data.allSatisfy { $0.transferID == offer.transferID })
        sender.sessionReplaced(receiver: 0, now: .zero + .milliseconds(2))
        let again = Self.transmits(&sender, now: .zero + .milliseconds(2))
        guard case .offer? = again.first?.packet, again.count == 1 else {
            Issue.record("expected one OFFER, got \(again.map(\.packet))")
            return
        }
        #expect(again[0].transferID != offer.transferID && sender.transferIDs[0] == again[0].transferID)
        // Receiver 1 has no session yet: nothing to replace, nothing sent.
        sender.sessionReplaced(receiver: 1, now: .zero + .milliseconds(3))
        #expect(Self.transmits(&sender, now: .zero + .milliseconds(3)).isEmpty)
        #expect(sender.outcome(of: 1) == nil)
    }

    @Test("a receiver whose session is replaced more often than maximumReoffers is aborted")
    func boundedReoffers() {
        var configuration = Self.configuration
        configuration.maximumReoffers = 2
        var sender = NativeSender(fileSize: 100, receiverCount: 1, configuration: configuration)
        sender.start(receiver: 0, now: .zero)
        for step in 1...3 { sender.sessionReplaced(receiver: 0, now: .zero + .milliseconds(Int64(step))) }
        guard case .aborted? = sender.outcome(of: 0) else {
            Issue.record("not aborted: \(String(describing: sender.outcome(of: 0)))")
            return
        }
    }
}
