import Foundation
import Testing

/// Crashes, restarts, full disks and hooks: the spool's promises with real processes.
@Suite("Spool recovery and hooks")
struct SpoolRecoveryTests {
    /// Names under the spool other than the internal `.p2mp` directory.
    static func visibleNames(in spool: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: spool.path)) ?? []).filter { $0 != ".p2mp" }.sorted()
    }

    @Test("kill -9 of the daemon at 20 points of a 256 MiB push: it resumes each time, ends byte-identical, no stray file")
    func daemonKilledRepeatedly() async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("image.bin")
        try Harness.randomFile(at: input, bytes: 256 << 20)
        var daemon = try await Daemon(address: "127.0.2.1", in: directory)
        let port = daemon.port
        let spool = daemon.spool
        let push = try ChildProcess(
            "p2mpsend", ["push", "image.bin", daemon.target, "--rate", "160M", "--give-up", "60"], in: directory, label: "push")
        var kills = 0
        while kills < 20, push.process.isRunning {
            try await Task.sleep(for: .milliseconds(Int64.random(in: 200...500)))
            guard push.process.isRunning else { break }
            await daemon.crash()
            kills += 1
            #expect(Self.visibleNames(in: spool).isEmpty, "a file appeared under a final name before the push completed")
            daemon = try await Daemon(address: "127.0.2.1", in: directory, port: port, spool: spool)
        }
        #expect(kills == 20, "the push ended after \(kills) kills; it should outlast 20")
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
        let first = try ChildProcess("p2mpsend", ["push", "a.bin", daemon.target, "--rate", "80M"], in: directory, label: "first")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !daemon.child.stderrLines.contains(where: { $0.contains("receiving 'a.bin'") }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        try await Task.sleep(for: .seconds(2))  // about 20 MB in, past two progress records
        kill(first.process.processIdentifier, SIGKILL)
        _ = await first.wait(timeout: 10)
        #expect(Self.visibleNames(in: daemon.spool).isEmpty)
        let second = try await ChildProcess.run("p2mpsend", ["push", "a.bin", daemon.target], in: directory, timeout: 60)
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stdout.contains { $0.contains("resumed after") }, "\(second.stdout)")
        #expect(try Data(contentsOf: daemon.file("a.bin")) == Data(contentsOf: directory.appendingPathComponent("a.bin")))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("the post-receive hook gets the file in its environment, is logged, and a slow one blocks nothing")
    func postReceiveHook() async throws {
        let directory = try Harness.makeDirectory()
        let configuration = """
            post_receive = "if [ \\"$P2MP_FILE\\" = slow.bin ]; then sleep 30; fi; echo \\"$P2MP_FILE $P2MP_BYTES $P2MP_SHA256\\" > \\"$P2MP_PATH.hook\\"; echo done with $P2MP_FILE"
            post_receive_timeout = 8
            """
        let daemon = try await Daemon(address: "127.0.2.3", in: directory, configuration: configuration)
        try Harness.randomFile(at: directory.appendingPathComponent("slow.bin"), bytes: 1_000)
        try Harness.randomFile(at: directory.appendingPathComponent("fast.bin"), bytes: 2_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "slow.bin", daemon.target], in: directory).status == 0)
        let started = Date()
        #expect(try await ChildProcess.run("p2mpsend", ["push", "fast.bin", daemon.target], in: directory).status == 0)
        // Had the slow hook blocked the daemon, this push would have waited for its 8 s timeout.
        #expect(Date().timeIntervalSince(started) < 5, "the second push waited for the first file's hook")
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline, !daemon.child.stderrLines.contains(where: { $0.contains("hook for slow.bin killed") }) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let log = daemon.child.stderrLines
        #expect(log.contains { $0.contains("post-receive hook for fast.bin succeeded") && $0.contains("done with fast.bin") }, "\(log)")
        #expect(log.contains { $0.contains("post-receive hook for slow.bin killed after") })
        let written = try String(contentsOf: daemon.file("fast.bin.hook"), encoding: .utf8)
        #expect(written.hasPrefix("fast.bin 2000 "))
        #expect(!FileManager.default.fileExists(atPath: daemon.file("slow.bin.hook").path))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a full file system refuses a second push at ACCEPT while the first completes (needs root for a tmpfs)")
    func fullFileSystem() async throws {
        guard getuid() == 0 else {
            print("skipped: mounting a small tmpfs needs root")
            return
        }
        let directory = try Harness.makeDirectory()
        let mount = directory.appendingPathComponent("small")
        try FileManager.default.createDirectory(at: mount, withIntermediateDirectories: true)
        let mounter = Process()
        mounter.executableURL = URL(fileURLWithPath: "/bin/mount")
        mounter.arguments = ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mount.path]
        try mounter.run()
        mounter.waitUntilExit()
        guard mounter.terminationStatus == 0 else {
            print("skipped: cannot mount a tmpfs (mount exited \(mounter.terminationStatus))")
            return
        }
        defer { _ = umount2(mount.path, 2) }
        let daemon = try await Daemon(
            address: "127.0.2.4", in: directory, configuration: "min_free_space = \"0\"",
            spool: mount.appendingPathComponent("spool"))
        try Harness.randomFile(at: directory.appendingPathComponent("a.bin"), bytes: 5 << 20)
        try Harness.randomFile(at: directory.appendingPathComponent("b.bin"), bytes: 5 << 20)
        let first = try ChildProcess("p2mpsend", ["push", "a.bin", daemon.target, "--rate", "10M"], in: directory, label: "first")
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !daemon.child.stderrLines.contains(where: { $0.contains("receiving 'a.bin'") }) {
            try await Task.sleep(for: .milliseconds(20))
        }
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
