import Foundation
import Testing

/// Crashes, restarts, full disks and hooks: the spool's promises with real processes.
@Suite("Spool recovery and hooks")
struct SpoolRecoveryTests {
    /// Names under the spool other than the internal `.p2mp` directory.
    static func visibleNames(in spool: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? []).filter { $0 != ".p2mp" }.sorted()
    }

    /// A setup that did not produce the situation the test needs (the push was too quick):
    /// a failure of the test's arrangement, not of the claim under test.
    struct SetupFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// Bytes between two progress records of a partial (the daemon records every 8 MiB hashed).
    static let recordInterval: UInt64 = 8 << 20

    @Test("kill -9 of the daemon at 20 points of a 256 MiB push: it resumes each time, ends byte-identical, no stray file")
    func daemonKilledRepeatedly() async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("image.bin")
        try Harness.randomFile(at: input, bytes: 256 << 20)
        // 20 distinct kill points among the first 28 of the 32 progress records, so the
        // last kill comes at least 32 MiB (about 2.5 s at the rate cap) before the end.
        var random = TestRandom("daemon killed repeatedly")
        let killPoints = Array(1...28).shuffled(using: &random).prefix(20).sorted().map { UInt64($0) * Self.recordInterval }
        print("kill points (bytes recorded): \(killPoints)")
        var daemon = try await Daemon(address: "127.0.2.1", in: directory)
        let port = daemon.port
        let spool = daemon.spool
        let push = try ChildProcess(
            "p2mpsend", ["push", "image.bin", daemon.target, "--rate", "100M", "--give-up", "60"], in: directory, label: "push")
        for (index, point) in killPoints.enumerated() {
            let current = daemon
            try await Condition.wait(for: "kill \(index + 1) of 20: the partial to record \(point) bytes", timeout: 120) {
                guard push.process.isRunning else {
                    throw SetupFailure(description: "setup: the push ended before kill \(index + 1) of 20: \(push.stderrLines)")
                }
                return current.recordedPrefix() >= point
            }
            await daemon.crash()
            #expect(Self.visibleNames(in: spool).isEmpty, "a file appeared under a final name before the push completed")
            daemon = try await Daemon(address: "127.0.2.1", in: directory, port: port, spool: spool)
        }
        #expect(await push.wait(timeout: 240) == 0, "\(push.stderrLines)")
        #expect(push.stdoutLines.contains { $0.contains("resumed after") }, "\(push.stdoutLines)")
        #expect(try Data(contentsOf: spool.appendingPathComponent("image.bin")) == Data(contentsOf: input))
        #expect(Self.visibleNames(in: spool) == ["image.bin"])
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a sender killed mid-push and run again resumes where it stopped")
    func senderKilledAndRerun() async throws {
        let directory = try Harness.makeDirectory()
        try Harness.randomFile(at: directory.appendingPathComponent("a.bin"), bytes: 32 << 20)
        let daemon = try await Daemon(address: "127.0.2.2", in: directory)
        // 5 MB/s: the first progress record comes after about 1.7 s, the end after 6.7 s.
        let first = try ChildProcess("p2mpsend", ["push", "a.bin", daemon.target, "--rate", "40M"], in: directory, label: "first")
        try await Condition.wait(for: "the partial to record its first 8 MiB") {
            guard first.process.isRunning else {
                throw SetupFailure(description: "setup: the first push ended before it could be killed: \(first.stdoutLines)")
            }
            return daemon.recordedPrefix() >= Self.recordInterval
        }
        kill(first.process.processIdentifier, SIGKILL)
        _ = await first.wait(timeout: 10)
        guard Self.visibleNames(in: daemon.spool).isEmpty else {
            throw SetupFailure(description: "setup: the first push committed the file before it was killed")
        }
        let recorded = daemon.recordedPrefix()
        let second = try await ChildProcess.run("p2mpsend", ["push", "a.bin", daemon.target], in: directory, timeout: 60)
        #expect(second.status == 0, "\(second.stderr)")
        let resumed = second.stdout.lazy.compactMap { line -> UInt64? in
            guard let range = line.range(of: "resumed after ") else { return nil }
            return UInt64(line[range.upperBound...].prefix { $0.isNumber })
        }.first
        #expect(resumed.map { $0 >= recorded } == true, "resumed after \(resumed.map(String.init) ?? "nothing"), recorded \(recorded): \(second.stdout)")
        #expect(try Data(contentsOf: daemon.file("a.bin")) == Data(contentsOf: directory.appendingPathComponent("a.bin")))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("the post-receive hook gets the file in its environment, is logged, and a slow one blocks nothing")
    func postReceiveHook() async throws {
        let directory = try Harness.makeDirectory()
        let marker = directory.appendingPathComponent("slow-hook-started")
        // The slow hook announces itself, then waits for a file that never appears, so it
        // is still running whatever the machine's load, until its timeout kills it.
        let configuration = """
            post_receive = "if [ \\"$P2MP_FILE\\" = slow.bin ]; then touch \(marker.path); while [ ! -e \(marker.path).never ]; do sleep 0.05; done; fi; echo \\"$P2MP_FILE $P2MP_BYTES $P2MP_SHA256\\" > \\"$P2MP_PATH.hook\\"; echo done with $P2MP_FILE"
            post_receive_timeout = 8
            """
        let daemon = try await Daemon(address: "127.0.2.3", in: directory, configuration: configuration)
        try Harness.randomFile(at: directory.appendingPathComponent("slow.bin"), bytes: 1_000)
        try Harness.randomFile(at: directory.appendingPathComponent("fast.bin"), bytes: 2_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "slow.bin", daemon.target], in: directory).status == 0)
        try await Condition.wait(for: "the slow hook to start") { FileManager.default.fileExists(atPath: marker.path) }
        #expect(try await ChildProcess.run("p2mpsend", ["push", "fast.bin", daemon.target], in: directory).status == 0)
        try await daemon.waitForLog("post-receive hook for fast.bin succeeded")
        // The second file was received and its hook ran while the first hook still ran.
        #expect(!daemon.child.stderrLines.contains { $0.contains("post-receive hook for slow.bin") }, "the slow hook ended too early")
        try await daemon.waitForLog("post-receive hook for slow.bin killed after")
        let log = daemon.child.stderrLines
        #expect(log.contains { $0.contains("post-receive hook for fast.bin succeeded") && $0.contains("done with fast.bin") }, "\(log)")
        let written = try String(contentsOf: daemon.file("fast.bin.hook"), encoding: .utf8)
        #expect(written.hasPrefix("fast.bin 2000 "))
        #expect(!FileManager.default.fileExists(atPath: daemon.file("slow.bin.hook").path))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test(
        "a full file system refuses a second push at ACCEPT while the first completes (needs root for a tmpfs)",
        .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func fullFileSystem() async throws {
        let directory = try Harness.makeDirectory()
        let mount = directory.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let mounter = Process()
        mounter.executableURL = URL(fileURLWithPath: "/bin/mount")
        mounter.arguments = ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mount.path]
        try mounter.run()
        mounter.waitUntilExit()
        try #require(mounter.terminationStatus == 0, "mount -t tmpfs exited \(mounter.terminationStatus)")
        defer { _ = umount2(mount.path, 2) }
        let daemon = try await Daemon(
            address: "127.0.2.4", in: directory, configuration: "min_free_space = \"0\"",
            spool: mount.appendingPathComponent("spool"))
        try Harness.randomFile(at: directory.appendingPathComponent("a.bin"), bytes: 5 << 20)
        try Harness.randomFile(at: directory.appendingPathComponent("b.bin"), bytes: 5 << 20)
        let first = try ChildProcess("p2mpsend", ["push", "a.bin", daemon.target, "--rate", "10M"], in: directory, label: "first")
        try await daemon.waitForLog("receiving 'a.bin'")
        let second = try await ChildProcess.run("p2mpsend", ["push", "b.bin", daemon.target], in: directory)
        #expect(second.status == 1)
        #expect(second.stderr.contains { $0.contains("rejected (noSpace)") }, "\(second.stderr)")
        #expect(await first.wait(timeout: 60) == 0, "\(first.stderrLines)")
        #expect(try Data(contentsOf: daemon.file("a.bin")) == Data(contentsOf: directory.appendingPathComponent("a.bin")))
        #expect(Self.visibleNames(in: daemon.spool) == ["a.bin"])
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
