import Foundation
import P2MPWire
import Testing

@testable import P2MPClient

/// The loss each receiver reported, as `p2mpsend push` shows it: in the summary and under
/// `loss` in the `--json` document (docs/push-report.schema.json).
@Suite("Push report")
struct PushReportTests {
    static let reception = NativeReception(
        segments: 1_000, duplicates: 3, network: .init(lost: 20, repaired: 20), simulated: .init(lost: 5, repaired: 5))

    static func report(reception: NativeReception?) -> PushReport {
        var receiver = ReceiverReport(
            target: "a", address: "192.0.2.1:7735", status: .completed, elapsed: .seconds(2), transmissions: 1_025,
            retransmissions: 25, timeouts: 0, smoothedRTT: nil)
        receiver.reception = reception
        return PushReport(bytes: 1_400_000, elapsed: .seconds(2), receivers: [receiver])
    }

    @Test("the JSON document carries each receiver's report, by cause")
    func json() throws {
        let document = Self.report(reception: Self.reception).jsonDocument(file: "f", name: "f")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])
        let receiver = try #require((parsed["receivers"] as? [[String: Any]])?.first)
        let loss = try #require(receiver["loss"] as? [String: Any])
        #expect(loss["segments"] as? Int == 1_000)
        #expect(loss["lost_segments"] as? Int == 25)
        #expect(loss["repaired_segments"] as? Int == 25)
        #expect(loss["duplicate_segments"] as? Int == 3)
        #expect(loss["loss_rate"] as? Double == 0.025)
        let causes = try #require(loss["causes"] as? [String: [String: Int]])
        #expect(causes["network"] == ["lost_segments": 20, "repaired_segments": 20])
        #expect(causes["simulated"] == ["lost_segments": 5, "repaired_segments": 5])
        #expect(causes["storage"] == ["lost_segments": 0, "repaired_segments": 0])
    }

    @Test("no report, no loss key: an older receiver, or one that never took the file")
    func noReport() throws {
        let document = Self.report(reception: nil).jsonDocument(file: "f", name: "f")
        #expect(!document.contains("\"loss\""))
        #expect(!Self.report(reception: nil).summary.contains("receiver lost"))
    }

    @Test("the summary line says what the receiver lost")
    func summary() {
        #expect(Self.report(reception: Self.reception).summary.contains(", receiver lost 25 of 1000 segments (2.50%)"))
    }
}
