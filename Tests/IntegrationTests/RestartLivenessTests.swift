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
        // A round counts once both restarts landed inside its push. On a loaded machine a push
        // can end before the test restarts the daemon (setup, not the claim): that round is
        // run again with a fresh seed, at most 20 times over, so 20 rounds always test it.
        var counted = 0
        var attempt = 0
        while counted < 20 {
            guard attempt < 40 else {
                Issue.record("setup: only \(counted) of 20 rounds had both restarts inside the push in \(attempt) attempts")
                return
            }
            let lossSeed = random.next()
            if try await pushThroughRestarts(round: attempt, lossSeed: lossSeed, in: directory) { counted += 1 }
            attempt += 1
        }
    }

    /// One push through two daemon restarts; false when the push ended before a restart
    /// (the round tested nothing).
    private func pushThroughRestarts(round: Int, lossSeed: UInt64, in directory: URL) async throws -> Bool {
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
                print("round \(round) (loss seed \(lossSeed)): the push ended before restart \(restart); not counted")
                _ = await push.wait(timeout: Self.giveUp + 20)
                _ = await daemon.stop()
                return false
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
        return true
    }
}
