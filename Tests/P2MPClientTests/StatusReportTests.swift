import P2MPClient
import P2MPProtocol
import P2MPWire
import Testing

/// The lines `p2mpsend status` prints for each daemon.
@Suite("status lines")
struct StatusReportTests {
    @Test("an up daemon: a summary, then its transfers with progress, rate, sender and age")
    func up() {
        let report = NativeStatusReport(
            summary: .init(
                version: "0.1.0", uptimeSeconds: 7_500, time: 1_000, spoolUsedBytes: 1_200_000_000, spoolFreeBytes: 40_100_000_000,
                spoolFiles: 12, partials: 1, completed: 14, failed: 1, bytesReceived: 3_400_000_000),
            total: 3, cursor: 0,
            transfers: [
                .init(
                    state: .active, name: "app.tar.gz", sender: "10.0.0.1:5000 key SHA256:k (ci)", size: 1_000_000_000,
                    bytes: 456_000_000, rate: 110_000_000, time: 995),
                .init(state: .completed, name: "x.bin", sender: "10.0.0.1:5001", size: 2_000, bytes: 2_000, rate: 1, time: 880),
                .init(
                    state: .failed, name: "y.bin", sender: "10.0.0.2:5002", size: 9, bytes: 3, rate: 1, time: 400,
                    text: "sender silent for 30 s (partial kept for a resume)"),
            ])
        #expect(
            StatusReport.lines(target: "web-01", answer: .status(report), timeout: 5) == [
                "web-01  up  p2mpd 0.1.0, up 2h05m; spool 1.2 GB in 12 files, 40.1 GB free, 1 partial; 14 completed, 1 failed, 3.4 GB received",
                "  receiving  app.tar.gz  45% of 1.0 GB at 110 MB/s  from 10.0.0.1:5000 key SHA256:k (ci), started 5s ago",
                "  completed  x.bin  2.0 kB  from 10.0.0.1:5001, 2m00s ago",
                "  failed     y.bin  from 10.0.0.2:5002, 10m00s ago: sender silent for 30 s (partial kept for a resume)",
            ])
    }

    @Test("down, refused and unauthenticated daemons get one line saying why")
    func notUp() {
        #expect(StatusReport.lines(target: "a", answer: .noAnswer(after: .seconds(5)), timeout: 5) == ["a  down: no answer in 5.0 s"])
        let refusal = NativeResult(status: .refused, text: "status is not allowed from 10.0.0.9 (see allow)")
        #expect(StatusReport.lines(target: "b", answer: .result(refusal), timeout: 5) == ["b  refused: \(refusal.text)"])
        #expect(StatusReport.lines(target: "c", answer: .unauthenticated("refused our key"), timeout: 5) == ["c  unauthenticated: refused our key"])
    }
}
