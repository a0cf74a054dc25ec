import NIOCore
import P2MPProtocol
import P2MPWire
import Testing

@testable import P2MPDaemon

/// `StatusResponder`: pages within a datagram, cut from one report per client.
@Suite("status responder")
struct StatusResponderTests {
    static let summary = NativeStatusReport.Summary(
        version: "1.0", uptimeSeconds: 1, time: 2, spoolUsedBytes: 3, spoolFreeBytes: 4, spoolFiles: 5, partials: 6,
        completed: 7, failed: 8, bytesReceived: 9)

    /// A report of `count` transfers, each with a 4,000-byte name ending in its number.
    static func report(_ count: Int) -> StatusResponder.Report {
        StatusResponder.Report(
            summary: summary,
            transfers: (0..<count).map { index in
                .init(
                    state: .completed, name: String(repeating: "n", count: 3_990) + "\(1_000_000_000 + index)",
                    sender: "127.0.0.1:1", size: 1, bytes: 1, rate: 1, time: 1)
            })
    }

    static func peer(_ port: Int) throws -> DaemonPeer {
        DaemonPeer(address: try SocketAddress(ipAddress: "127.0.0.1", port: port))
    }

    @Test("pages stay within the budget and follow each other; the report is taken once, at cursor 0")
    func pages() throws {
        var responder = StatusResponder()
        var taken = 0
        let take = { () -> StatusResponder.Report in
            taken += 1
            return Self.report(40)
        }
        var cursor: UInt32 = 0
        var names: [String] = []
        let peer = try Self.peer(1)
        repeat {
            let page = responder.page(from: cursor, for: peer, now: .zero, take: take)
            #expect(page.total == 40 && page.cursor == cursor && page.summary == Self.summary)
            #expect(!page.transfers.isEmpty)
            #expect(page.transfers.map(\.encodedSize).reduce(0, +) <= NativeStatusReport.transferBudget)
            var bytes: [UInt8] = []
            NativeDatagram(transferID: 1, packet: .report(page)).encode(into: &bytes)
            #expect(bytes.count < 60_000)
            names += page.transfers.map(\.name)
            cursor += UInt32(page.transfers.count)
        } while cursor < 40
        #expect(names == Self.report(40).transfers.map(\.name))
        #expect(taken == 1)
    }

    @Test("another client, cursor 0 again, or a kept report older than 10 s: a fresh report")
    func freshReports() throws {
        var responder = StatusResponder()
        var taken = 0
        let take = { () -> StatusResponder.Report in
            taken += 1
            return Self.report(taken)
        }
        _ = responder.page(from: 0, for: try Self.peer(1), now: .zero, take: take)
        _ = responder.page(from: 0, for: try Self.peer(2), now: .zero, take: take)
        #expect(taken == 2)
        #expect(responder.page(from: 1, for: try Self.peer(2), now: .zero + .seconds(9), take: take).total == 2)
        #expect(taken == 2)
        _ = responder.page(from: 0, for: try Self.peer(1), now: .zero + .seconds(9), take: take)
        #expect(taken == 3)
        #expect(responder.page(from: 1, for: try Self.peer(2), now: .zero + .seconds(11), take: take).total == 4)
        #expect(taken == 4)
    }

    @Test("at most 64 reports are kept: the oldest goes first")
    func bounded() throws {
        var responder = StatusResponder()
        var taken = 0
        let take = { () -> StatusResponder.Report in
            taken += 1
            return Self.report(2)
        }
        for client in 1...65 {
            _ = responder.page(from: 0, for: try Self.peer(client), now: .zero + .milliseconds(client), take: take)
        }
        #expect(taken == 65)
        _ = responder.page(from: 1, for: try Self.peer(65), now: .zero + .milliseconds(66), take: take)
        #expect(taken == 65, "the newest is kept")
        _ = responder.page(from: 1, for: try Self.peer(1), now: .zero + .milliseconds(67), take: take)
        #expect(taken == 66, "the oldest was given up")
    }
}
