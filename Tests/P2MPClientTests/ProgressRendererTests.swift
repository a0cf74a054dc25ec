@testable import P2MPClient
import Testing

@Suite("Progress renderer")
struct ProgressRendererTests {
    /// Three receivers of a 1 GB file, four seconds in: one sending, one committed, one failed.
    static func smallFleet() -> ProgressState {
        let names = ["web-01", "web-02.example.com", "[::1]:9000"]
        var state = ProgressState(names: names, fileSize: 1_000_000_000, startTime: 0)
        state.receivers[0].phase = .sending
        state.receivers[0].bytesAcknowledged = 523_000_000
        state.receivers[1].phase = .committed
        state.receivers[1].bytesAcknowledged = 1_000_000_000
        state.receivers[2].bytesAcknowledged = 45_000_000
        state.fail(2, reason: "rejected (space): not enough space")
        state.advance(to: 4)
        return state
    }

    /// Twelve receivers of a 100 MB file, ten seconds in.
    static func largeFleet() -> ProgressState {
        var state = ProgressState(names: (1...12).map { "host-\($0)" }, fileSize: 100_000_000, startTime: 0)
        for index in 0..<5 {
            state.receivers[index].phase = .committed
            state.receivers[index].bytesAcknowledged = 100_000_000
        }
        for index in 5..<7 {
            state.receivers[index].bytesAcknowledged = 10_000_000
            state.fail(index, reason: "gave up")
        }
        for index in 7..<10 {
            state.receivers[index].phase = .sending
            state.receivers[index].bytesAcknowledged = 50_000_000
        }
        state.advance(to: 10)
        return state
    }

    @Test("small fleets: the bar and one line per receiver")
    func smallFleet() {
        #expect(
            ProgressRenderer.render(Self.smallFleet(), width: 200) == [
                "[===============>    ]  76%  1.6 GB/2.0 GB  392 MB/s  ETA 1s",
                "  web-01              sending     52%  131 MB/s",
                "  web-02.example.com  committed  100%",
                "  [::1]:9000          failed       4%  rejected (space): not enough space",
            ])
    }

    @Test("large fleets: the bar and counts")
    func largeFleet() {
        #expect(
            ProgressRenderer.render(Self.largeFleet(), width: 200) == [
                "[=============>      ]  65%  670 MB/1.0 GB  67.0 MB/s  ETA 5s",
                "  12 receivers: 5 done, 5 active, 2 failed",
            ])
    }

    @Test("ten receivers still get their own lines")
    func tenReceivers() {
        let state = ProgressState(names: (1...10).map { "h\($0)" }, fileSize: 10, startTime: 0)
        let lines = ProgressRenderer.render(state, width: 80)
        #expect(lines.count == 11)
        #expect(lines[0] == "[>                   ]   0%  0 B/100 B  -- MB/s  ETA --")
        #expect(lines[1] == "  h1   offering     0%")
        #expect(lines[10] == "  h10  offering     0%")
    }

    @Test("finished: a full bar, the average rate and the time taken")
    func finished() {
        var state = ProgressState(names: ["a", "b"], fileSize: 1_300_000_000, startTime: 0)
        for index in 0..<2 {
            state.receivers[index].phase = .committed
            state.receivers[index].bytesAcknowledged = 1_300_000_000
        }
        state.advance(to: 65)
        #expect(
            ProgressRenderer.render(state, width: 80) == [
                "[====================] 100%  2.6 GB/2.6 GB  40.0 MB/s  done in 1m05s",
                "  a  committed  100%",
                "  b  committed  100%",
            ])
    }

    @Test("every line is cut to the width")
    func truncation() {
        let full = ProgressRenderer.render(Self.smallFleet(), width: 200)
        let cut = ProgressRenderer.render(Self.smallFleet(), width: 30)
        #expect(cut == full.map { String($0.prefix(30)) })
        #expect(cut[0] == "[===============>    ]  76%  1")
        #expect(cut.allSatisfy { $0.count <= 30 })
        #expect(ProgressRenderer.render(Self.smallFleet(), width: 0) == ["", "", "", ""])
    }

    @Test(
        "byte counts in decimal units",
        arguments: [
            (0, "0 B"), (999, "999 B"), (1_000, "1.0 kB"), (1_234, "1.2 kB"), (99_940, "99.9 kB"), (99_960, "100 kB"),
            (999_499, "999 kB"), (999_500, "1.0 MB"), (45_300_000, "45.3 MB"), (312_000_000, "312 MB"),
            (2_600_000_000, "2.6 GB"), (1_234_000_000_000, "1234 GB"),
        ] as [(UInt64, String)])
    func bytes(_ count: UInt64, _ text: String) {
        #expect(ProgressRenderer.bytes(count) == text)
    }

    @Test("rates in MB/s")
    func rates() {
        #expect(ProgressRenderer.rate(nil) == "-- MB/s")
        #expect(ProgressRenderer.rate(0) == "0.0 MB/s")
        #expect(ProgressRenderer.rate(49_000) == "0.0 MB/s")
        #expect(ProgressRenderer.rate(1_250_000) == "1.3 MB/s")
        #expect(ProgressRenderer.rate(312_400_000) == "312 MB/s")
        #expect(ProgressRenderer.rate(2_500_000_000) == "2500 MB/s")
        #expect(ProgressRenderer.rate(.infinity) == "-- MB/s")
    }

    @Test(
        "durations",
        arguments: [(0, "0s"), (4.4, "4s"), (59.4, "59s"), (59.6, "1m00s"), (65, "1m05s"), (3_599, "59m59s"),
                    (3_600, "1h00m"), (7_380, "2h03m"), (360_000, ">99h"), (.infinity, ">99h")] as [(Double, String)])
    func durations(_ seconds: Double, _ text: String) {
        #expect(ProgressRenderer.duration(seconds) == text)
    }

    @Test("the bar fills in twentieths with a '>' at the front", arguments: [
        (0.0, "[>                   ]"), (0.049, "[>                   ]"), (0.05, "[=>                  ]"),
        (0.45, "[=========>          ]"), (0.999, "[===================>]"), (1.0, "[====================]"),
    ])
    func bar(_ fraction: Double, _ text: String) {
        #expect(ProgressRenderer.bar(fraction) == text)
    }
}
