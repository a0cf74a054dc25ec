import Crypto
import Foundation
import NIOCore
import P2MPConfiguration
import P2MPDaemonSimulation
import P2MPProtocol
import P2MPSpool
import P2MPWire
import Testing

@testable import P2MPDaemon

/// Loss events: the ledger that turns a transfer's running counts into reports, and the
/// daemon's receiving half that logs them at most once per `loss_event_interval`, on a
/// clock the test sets.
@Suite("Loss events")
struct LossEventTests {
    // MARK: - The ledger

    @Test("a periodic check reports each cause that lost segments since its last report, and nothing else")
    func periodicReports() {
        var ledger = LossLedger()
        #expect(ledger.periodicReports(NativeReception(segments: 50, duplicates: 1)) == [])
        var reception = NativeReception(segments: 100, duplicates: 2, network: .init(lost: 3, repaired: 1))
        #expect(
            ledger.periodicReports(reception)
                == [LossReport(cause: .network, lost: 3, repaired: 1, duplicates: 2, segments: 100)])
        reception.segments = 180
        reception.network.repaired = 3
        #expect(ledger.periodicReports(reception) == [], "repairs alone are no loss")
        reception.segments = 200
        reception.network.lost = 4
        reception.simulated.lost = 2
        #expect(
            ledger.periodicReports(reception) == [
                LossReport(cause: .network, lost: 1, repaired: 2, duplicates: 0, segments: 100),
                LossReport(cause: .simulated, lost: 2, repaired: 0, duplicates: 2, segments: 200),
            ])
    }

    @Test("the end reports what each cause that lost anything saw since its last report; a clean transfer reports nothing")
    func finalReports() {
        var ledger = LossLedger()
        var reception = NativeReception(segments: 100, network: .init(lost: 3))
        _ = ledger.periodicReports(reception)
        reception.segments = 130
        reception.duplicates = 1
        reception.network.repaired = 3
        #expect(ledger.finalReports(reception) == [LossReport(cause: .network, lost: 0, repaired: 3, duplicates: 1, segments: 30)])
        #expect(ledger.finalReports(reception) == [], "nothing arrived since")
        var clean = LossLedger()
        #expect(clean.finalReports(NativeReception(segments: 1_000, duplicates: 5)) == [])
    }

    @Test("the totals take each change once")
    func unaccounted() {
        var ledger = LossLedger()
        #expect(ledger.unaccounted(NativeReception(segments: 10, network: .init(lost: 1))) == NativeReception(segments: 10, network: .init(lost: 1)))
        #expect(
            ledger.unaccounted(NativeReception(segments: 15, network: .init(lost: 1, repaired: 1)))
                == NativeReception(segments: 5, network: .init(repaired: 1)))
    }

    @Test("loss rate and fields as the journal shows them")
    func fields() {
        let report = LossReport(cause: .network, lost: 20, repaired: 19, duplicates: 2, segments: 1_000)
        #expect(
            LossText.fields(report) == [
                "p2mp_loss_cause": "network", "p2mp_lost_segments": "20", "p2mp_repaired_segments": "19",
                "p2mp_duplicate_segments": "2", "p2mp_segments": "1000", "p2mp_loss_rate": "0.020000",
            ])
        #expect(LossText.rate(1.0 / 3) == "0.333333")
        #expect(
            LossText.message(report, file: "a.bin", peer: "192.0.2.7:5000", final: true)
                == "network lost 20 of 1000 segments (2.00%) of a.bin from 192.0.2.7:5000; 19 repaired, 2 duplicates (end of transfer)")
    }

    // MARK: - The daemon's receiving half, on a clock

    static let segments: UInt64 = 200
    static let segmentSize = 100
    /// The file of transfer `id`: each transfer its own content (the same content from the
    /// same host would supersede the earlier transfer).
    static func file(_ id: UInt64) -> [UInt8] {
        (0..<Int(segments) * segmentSize).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(id)) }
    }
    static let peer = DaemonPeer(address: try! SocketAddress(ipAddress: "127.0.0.1", port: 40_000))

    /// A daemon receiving half on a real spool in a temporary directory, its events in `audit`.
    final class Receiver {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-loss-\(UUID().uuidString)")
        let audit = LossEventAudit()
        let incoming: IncomingTransfers
        var now = Instant.zero

        init(interval: Duration = .seconds(5)) throws {
            var configuration = DaemonConfiguration.defaults
            configuration.minFreeSpace = ByteSize(bytes: 0)
            configuration.lossEventInterval = interval
            incoming = IncomingTransfers(
                configuration: configuration, storage: SpoolStorage(spool: try Spool(root: root.path)), hooks: NoHooks(),
                logger: audit.logger(label: "p2mpd"), lossSeed: 1, wallClock: { 0 })
        }

        deinit { try? FileManager.default.removeItem(at: root) }

        func at(_ seconds: Double) -> Self {
            now = .zero + .milliseconds(Int64(seconds * 1_000))
            audit.setTime(now)
            return self
        }

        func send(_ packet: NativePacket, id: UInt64 = 1) {
            var bytes: [UInt8] = []
            NativeDatagram(transferID: id, packet: packet).encode(into: &bytes)
            bytes.withUnsafeBytes { incoming.handle($0, from: LossEventTests.peer, now: now) }
        }

        func offer(id: UInt64 = 1) {
            let file = LossEventTests.file(id)
            let digest = ContentDigest(Array(SHA256.hash(data: file)))!
            send(
                .offer(
                    NativeOffer(
                        segmentSize: UInt32(LossEventTests.segmentSize), fileSize: UInt64(file.count),
                        sha256: digest, window: 256, flags: .receptionReport, name: "file-\(id).bin")), id: id)
        }

        func data(_ segments: some Sequence<UInt64>, id: UInt64 = 1) {
            let file = LossEventTests.file(id)
            for segment in segments {
                let start = Int(segment) * LossEventTests.segmentSize
                var bytes: [UInt8] = []
                file[start..<start + LossEventTests.segmentSize].withUnsafeBytes {
                    NativeDatagram.encodeData(transferID: id, segment: segment, timestamp: 0, payload: $0, into: &bytes)
                }
                bytes.withUnsafeBytes { incoming.handle($0, from: LossEventTests.peer, now: now) }
            }
        }

        /// Runs the timers due by now, as the daemon's loop does.
        func tick() {
            if let due = incoming.nextTimeout, due <= now { incoming.handleTimeout(now: now) }
        }

        var lossEvents: [LossEventAudit.Record] { audit.records.filter { $0.event == "loss" } }
    }

    struct NoHooks: PostReceiveHooks {
        func run(command: String, timeout: Duration, _ invocation: PostReceiveHook.Invocation) {}
    }

    @Test("loss is logged at most once per interval, never for an interval without loss, and once more at the end")
    func rateLimited() throws {
        let receiver = try Receiver()
        receiver.at(0).offer()
        #expect(receiver.incoming.nextTimeout.map { $0 <= .zero + .seconds(5) } == true, "a check is scheduled")
        receiver.at(1).data(0..<40)
        receiver.at(1.5).data(41..<60)  // 40 is lost
        receiver.at(2).data([70, 80])  // 60..<70 and 71..<80 are lost
        receiver.at(4.9).tick()
        #expect(receiver.lossEvents.isEmpty, "nothing before the interval ends")
        receiver.at(5).tick()
        #expect(receiver.lossEvents.map(\.fields["p2mp_lost_segments"]) == ["20"])
        #expect(receiver.lossEvents.first?.fields["p2mp_loss_cause"] == "network")
        #expect(receiver.lossEvents.first?.fields["p2mp_segments"] == "61")
        receiver.at(6).data([40])  // a repair, no new loss
        receiver.at(7).data(60..<70)
        receiver.at(9.9).tick()
        receiver.at(10).tick()
        #expect(receiver.lossEvents.count == 1, "an interval with repairs but no loss logs nothing")
        receiver.at(11).data(81..<100)
        receiver.at(11.5).data(101..<200)  // 100 is lost
        receiver.at(12).tick()
        #expect(receiver.lossEvents.count == 1, "not before a full interval since the last check")
        receiver.at(15).tick()
        #expect(receiver.lossEvents.map(\.fields["p2mp_lost_segments"]) == ["20", "1"])
        receiver.at(16).data(71..<80)
        receiver.at(16.5).data([100])  // every segment held: verified, committed
        let complete = try #require(receiver.audit.records.first { $0.event == "complete" })
        #expect(complete.fields["p2mp_lost_segments"] == "21" && complete.fields["p2mp_repaired_segments"] == "21")
        let final = try #require(receiver.lossEvents.last)
        #expect(receiver.lossEvents.count == 3 && final.at == complete.at, "one more at the end")
        #expect(final.fields["p2mp_lost_segments"] == "0" && final.fields["p2mp_repaired_segments"] == "10")
        #expect(receiver.audit.violations(interval: .seconds(5)) == [])
        #expect(receiver.incoming.statistics.reception.network == .init(lost: 21, repaired: 21))
    }

    @Test("a transfer that loses nothing logs no loss event, and its completion says so")
    func noLossNoEvent() throws {
        let receiver = try Receiver()
        receiver.at(0).offer()
        receiver.at(1).data(0..<100)
        receiver.at(5).tick()
        receiver.at(6).data(100..<200)
        #expect(receiver.lossEvents.isEmpty)
        let complete = try #require(receiver.audit.records.first { $0.event == "complete" })
        #expect(complete.fields["p2mp_lost_segments"] == "0" && complete.fields["p2mp_segments"] == "200")
        #expect(complete.fields["p2mp_loss_rate"] == "0.000000")
    }

    @Test("each transfer has its own events; a transfer that ends early closes its loss story in its fail event")
    func perTransfer() throws {
        let receiver = try Receiver(interval: .seconds(1))
        receiver.at(0).offer(id: 1)
        receiver.at(0).offer(id: 2)
        receiver.at(0.5).data([0, 2], id: 1)
        receiver.at(0.5).data([0, 1, 2, 5], id: 2)
        receiver.at(1).tick()
        let first = receiver.lossEvents.map { $0.fields["p2mp_transfer_id"] ?? "" }
        #expect(Set(first) == ["0000000000000001", "0000000000000002"] && first.count == 2)
        receiver.at(1.2).data([3], id: 2)
        receiver.at(1.5).send(.abort(NativeRejection(reason: .busy, text: "stop")), id: 2)
        let fail = try #require(receiver.audit.records.first { $0.event == "fail" })
        #expect(fail.fields["p2mp_transfer_id"] == "0000000000000002" && fail.fields["p2mp_lost_segments"] == "2")
        receiver.at(2).tick()
        #expect(receiver.lossEvents.count == 3, "the aborted transfer's last event (its repair); nothing new for the other")
        #expect(receiver.audit.violations(interval: .seconds(1)) == [])
    }
}
