import Foundation
import Testing

/// Issue 22's real-process check: however the daemon dies under a push, the push ends.
@Suite("A push through daemon restarts always ends")
struct RestartLivenessTests {
    static let giveUp = 5.0

    @Test("a push to a daemon restarted twice under 10 % simulated loss ends within --give-up plus a bound, 20 loss seeds")
    func restartedTwice() async throws {
        var random = TestRandom("restarted twice")
        let directory = try Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 1 << 20)
        for round in 0..<20 {
            let lossSeed = random.next()
            let spool = directory.appendingPathComponent("spool-\(round)")
            let loss = ["--loss", "0.1", "--loss-seed", "\(lossSeed)"]
            var daemon = try await Daemon(address: "127.0.4.1", in: directory, extra: loss, spool: spool)
            let port = daemon.port
            // 0.5 MB/s: the push lasts about 2 s, so both restarts land in the middle of it.
            let push = try ChildProcess(
                "p2mpsend", ["push", "f.bin", daemon.target, "--rate", "4M", "--give-up", "\(Int(Self.giveUp))"],
                in: directory, label: "push-\(round)")
            for restart in 1...2 {
                try await daemon.waitForLog("receiving 'f.bin'")
                guard push.process.isRunning else {
                    Issue.record("round \(round) (loss seed \(lossSeed)): setup: the push ended before restart \(restart)")
                    break
                }
                await daemon.crash()
                daemon = try await Daemon(address: "127.0.4.1", in: directory, extra: loss, port: port, spool: spool)
            }
            // A push that hangs would run into this bound; one that ends says how.
            let status = await push.wait(timeout: Self.giveUp + 20)
            #expect(status != nil, "round \(round) (loss seed \(lossSeed)): the push did not end")
            if status != 0 {
                #expect(push.stderrLines.contains { $0.contains("failed") }, "round \(round): ended \(String(describing: status)) without a reason: \(push.stderrLines)")
            }
            #expect(status == 0, "round \(round) (loss seed \(lossSeed)): \(push.stderrLines)")
            #expect(await daemon.stop() == 0)
        }
    }
}
