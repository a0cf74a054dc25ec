import P2MPProtocol
import P2MPWire
import Testing

/// `FleetQueryClient` asking for status reports: pages in order, retries, silence.
@Suite("fleet query: status")
struct FleetQueryStatusTests {
    static let summary = NativeStatusReport.Summary(
        version: "1.0", uptimeSeconds: 60, time: 1_795_000_000, spoolUsedBytes: 10, spoolFreeBytes: 20, spoolFiles: 1,
        partials: 0, completed: 3, failed: 0, bytesReceived: 10)

    static func transfer(_ name: String) -> NativeStatusReport.Transfer {
        .init(state: .completed, name: name, sender: "127.0.0.1:1", size: 1, bytes: 1, rate: 1, time: 1)
    }

    /// The request `client` sends next to target 0, decoded.
    static func nextRequest(_ client: inout FleetQueryClient) throws -> NativeDatagram? {
        var buffer = [UInt8](repeating: 0, count: FleetQueryClient.maximumTransmitSize)
        let transmit = buffer.withUnsafeMutableBytes { client.pollTransmit(into: $0) }
        guard let transmit else { return nil }
        return try buffer.withUnsafeBytes { try NativeDatagram.decode(UnsafeRawBufferPointer(rebasing: $0[..<transmit.size])) }
    }

    static func answer(_ client: inout FleetQueryClient, _ packet: NativePacket, id: UInt64, at now: Instant) {
        var bytes: [UInt8] = []
        NativeDatagram(transferID: id, packet: packet).encode(into: &bytes)
        bytes.withUnsafeBytes { client.handle($0, from: 0, now: now) }
    }

    @Test("a report in two pages: each asked for from where the last ended; one answer with every transfer")
    func pages() throws {
        var client = FleetQueryClient(request: .status, requestIDs: [41], giveUpAfter: .seconds(5))
        client.start(now: .zero)
        #expect(try Self.nextRequest(&client) == NativeDatagram(transferID: 41, packet: .status(cursor: 0)))
        let first = NativeStatusReport(summary: Self.summary, total: 3, cursor: 0, transfers: [Self.transfer("a"), Self.transfer("b")])
        // A page from elsewhere in the report, and one under another id, change nothing.
        Self.answer(&client, .report(NativeStatusReport(summary: Self.summary, total: 3, cursor: 2, transfers: [])), id: 41, at: .zero)
        Self.answer(&client, .report(first), id: 42, at: .zero)
        #expect(try Self.nextRequest(&client) == nil)
        Self.answer(&client, .report(first), id: 41, at: Instant(nanoseconds: 1_000_000))
        #expect(try Self.nextRequest(&client) == NativeDatagram(transferID: 41, packet: .status(cursor: 2)))
        #expect(!client.isFinished)
        var later = Self.summary
        later.completed = 99
        Self.answer(&client, .report(NativeStatusReport(summary: later, total: 3, cursor: 2, transfers: [Self.transfer("c")])), id: 41, at: Instant(nanoseconds: 2_000_000))
        #expect(client.isFinished)
        let expected = NativeStatusReport(
            summary: Self.summary, total: 3, cursor: 0, transfers: ["a", "b", "c"].map(Self.transfer))
        #expect(client.answers == [.status(expected)], "the first page's summary, every page's transfers")
        #expect(client.pollEvent() == .answered(target: 0, .status(expected)))
    }

    @Test("an unanswered page is asked for again, then given up after the give-up time; a LISTING is no answer to it")
    func retriesAndSilence() throws {
        var client = FleetQueryClient(request: .status, requestIDs: [7], giveUpAfter: .seconds(2))
        client.start(now: .zero)
        _ = try Self.nextRequest(&client)
        Self.answer(&client, .listing(NativeListing(total: 0, cursor: 0, entries: [])), id: 7, at: .zero)
        #expect(!client.isFinished)
        var now = Instant.zero
        var resent = 0
        while !client.isFinished, let deadline = client.nextTimeout {
            now = deadline
            client.handleTimeout(now: now)
            while let request = try Self.nextRequest(&client) {
                #expect(request == NativeDatagram(transferID: 7, packet: .status(cursor: 0)))
                resent += 1
            }
        }
        #expect(resent >= 1)
        #expect(now == Instant.zero + .seconds(2))
        guard case .noAnswer? = client.answers.first ?? nil else {
            Issue.record("expected no answer, got \(client.answers)")
            return
        }
    }

    @Test("a refusal ends the query with it")
    func refused() throws {
        var client = FleetQueryClient(request: .status, requestIDs: [9], giveUpAfter: .seconds(2))
        client.start(now: .zero)
        let refusal = NativeResult(status: .refused, text: "status is not allowed from 127.0.0.1 (see allow)")
        Self.answer(&client, .result(refusal), id: 9, at: .zero)
        #expect(client.answers == [.result(refusal)])
    }
}
