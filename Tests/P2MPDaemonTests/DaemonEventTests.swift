import Foundation
import Testing

@testable import P2MPDaemon
import P2MPWire

@Suite("Daemon events")
struct DaemonEventTests {
    @Test("every event kind has the MESSAGE_ID listed in systemd/message-ids.txt, which the catalog explains")
    func messageIDsMatchTheCatalog() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let listed = try String(contentsOf: root.appendingPathComponent("systemd/message-ids.txt"), encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && !$0.isEmpty }
            .map { $0.split(separator: " ").map(String.init) }
        let table = Dictionary(uniqueKeysWithValues: listed.map { ($0[0], $0[1]) })
        #expect(table == DaemonEvent.messageIDs)
        #expect(Set(DaemonEvent.allCases.map(\.rawValue)) == Set(table.keys))
        let catalog = try String(contentsOf: root.appendingPathComponent("systemd/p2mp.catalog"), encoding: .utf8)
        for (event, id) in table {
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(event)")
            #expect(catalog.contains("-- \(id)"), "the catalog has no entry for \(event)")
        }
    }

    @Test("the STATUS line reads as a sentence")
    func statusLine() {
        var statistics = DaemonStatistics()
        statistics.completed = 14
        statistics.failed = 1
        statistics.bytesReceived = 1_300_000_000
        statistics.datagramsReceived = 1_100
        statistics.reception = NativeReception(segments: 1_000, network: .init(lost: 3), simulated: .init(lost: 1))
        #expect(statistics.statusLine(active: 2) == "2 active transfers, 14 completed, 1 failed, 1.3 GB received, 0.4% loss")
        #expect(DaemonStatistics().statusLine(active: 1) == "1 active transfer, 0 completed, 0 failed, 0 B received, 0.0% loss")
    }

    @Test("drops are counted by cause and summed; the log names the causes with a count")
    func drops() {
        var drops = DaemonStatistics.Drops()
        #expect(drops.summary == "none" && drops.total == 0)
        drops.malformed = 12
        drops.replayed = 3
        drops.storageBusy = 2
        #expect(drops.total == 17)
        #expect(drops.summary == "2 storage busy, 12 malformed, 3 replayed")
    }
}
