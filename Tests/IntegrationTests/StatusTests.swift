import Foundation
import Testing

/// `p2mpsend status` with real processes: what a daemon reports of itself, over an
/// authenticated session or in clear on loopback, checked against what the test did to it.
@Suite("p2mpsend status")
struct StatusTests {
    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/status-report.schema.json")

    @Test(
        "status --json: a running push with its progress, a completed and a failed one, spool usage; down and refused hosts",
        .enabled(if: ListJSONTests.hasJSONSchema, "python3 jsonschema is not installed (make prerequisites installs it)"))
    func json() async throws {
        let directory = try Harness.makeDirectory()
        let reader = try await SenderKey("reader", comment: "ops@status", in: directory)
        let pusher = try await SenderKey("pusher", comment: "ci@status", in: directory)
        let daemon = try await Daemon.trusting(
            [reader.trusted(), pusher.trusted("push")], address: "127.0.4.31", in: directory, configuration: "idle_timeout = 1\n")
        let silent = "127.0.4.39:\(Harness.port())"
        try Harness.randomFile(at: directory.appendingPathComponent("done.bin"), bytes: 200_000)
        try Harness.randomFile(at: directory.appendingPathComponent("cut.bin"), bytes: 3 << 20)
        try Harness.randomFile(at: directory.appendingPathComponent("slow.bin"), bytes: 6 << 20)
        #expect(try await ForgedAttackTests.run(["push", "done.bin", daemon.target], as: reader, in: directory).status == 0)

        // A push killed half way fails once the daemon's idle_timeout (1 s) passes.
        let cut = try ChildProcess(
            "p2mpsend", ["push", "cut.bin", daemon.target, "--rate", "8M", "--accept-new-host-keys"] + reader.identity,
            in: directory, label: "push-cut")
        try await daemon.waitForLog("receiving 'cut.bin'")
        // Killed only once DATA arrived: a partial that received nothing is not kept.
        try await Condition.wait(for: "cut.bin's partial to receive data") {
            guard cut.process.isRunning else {
                throw FixtureError("setup: the push of cut.bin ended before it could be killed: \(cut.stdoutLines)")
            }
            return daemon.partialDataBytes() > 0
        }
        kill(cut.process.processIdentifier, SIGKILL)
        _ = await cut.wait(timeout: 10)
        try await daemon.waitForLog("ended: sender silent")

        // A slow push, asked about while it runs.
        let slow = try ChildProcess(
            "p2mpsend", ["push", "slow.bin", daemon.target, "--rate", "16M", "--accept-new-host-keys"] + reader.identity,
            in: directory, label: "push-slow")
        try await daemon.waitForLog("receiving 'slow.bin'")
        let status = try await ForgedAttackTests.run(["status", "--json", "--timeout", "1", daemon.target, silent], as: reader, in: directory)
        #expect(await slow.wait(timeout: 60) == 0)
        #expect(status.status == 1, "a down host makes status exit 1: \(status.stderr)")

        let text = status.stdout.joined(separator: "\n")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(document["ok"] as? Bool == false)
        let hosts = try #require(document["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["status"] as? String } == ["up", "down"])
        #expect(hosts[1]["reason"] as? String == "no answer in 1.0 s")
        let report = try #require(hosts[0]["daemon"] as? [String: Any])
        #expect((report["version"] as? String)?.isEmpty == false)
        let spool = try #require(report["spool"] as? [String: Any])
        #expect(spool["files"] as? Int == 1 && spool["used_bytes"] as? Int == 200_000, "\(spool)")
        #expect(spool["partials"] as? Int == 2, "cut.bin kept for a resume, slow.bin being received: \(spool)")
        let totals = try #require(report["totals"] as? [String: Any])
        #expect(totals["completed"] as? Int == 1 && totals["failed"] as? Int == 1, "\(totals)")
        let active = try #require(report["active"] as? [[String: Any]])
        #expect(active.count == 1)
        #expect(active.first?["name"] as? String == "slow.bin")
        #expect(active.first?["size"] as? Int == 6 << 20)
        #expect((active.first?["sender"] as? String)?.contains("key \(reader.fingerprint) (ops@status)") == true)
        let percent = try #require(active.first?["percent"] as? Int)
        #expect((0..<100).contains(percent))
        let recent = try #require(report["recent"] as? [[String: Any]])
        #expect(recent.map { $0["name"] as? String } == ["cut.bin", "done.bin"], "newest first")
        #expect(recent.map { $0["outcome"] as? String } == ["failed", "completed"])
        #expect((recent.first?["reason"] as? String)?.contains("sender silent") == true)
        #expect(recent.last?["bytes"] as? Int == 200_000)

        let file = directory.appendingPathComponent("status.json")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let validate = try await ChildProcess.run(
            "/usr/bin/python3",
            ["-c", "import json,sys,jsonschema\njsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
             Self.schema.path, file.path],
            in: directory)
        #expect(validate.status == 0, "the status --json document does not match docs/status-report.schema.json: \(validate.stderr)")

        // A key without 'read' is refused, as for ls; nobody answering is exit status 3.
        let refused = try await ForgedAttackTests.run(["status", daemon.target], as: pusher, in: directory)
        #expect(refused.status == 1)
        #expect(refused.stdout.first?.contains("refused: status is not allowed") == true, "\(refused.stdout)")
        let nobody = try await ChildProcess.run("p2mpsend", ["status", silent, "--timeout", "0.5"], in: directory)
        #expect(nobody.status == 3)
        #expect(nobody.stdout == ["\(silent)  down: no answer in 0.5 s"])
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a report larger than a datagram comes in pages: every recent transfer, each long name whole; in clear on loopback")
    func pages() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.4.32", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("small.bin"), bytes: 1_000)
        // 16 names of 4,000 bytes: about 64 KB of transfers, more than one REPORT holds.
        let names = (0..<16).map { index in
            (0..<19).map { _ in String(repeating: "d", count: 199) }.joined(separator: "/") + "/\(String(format: "%02d", index))"
                + String(repeating: "f", count: 198)
        }
        for name in names {
            #expect(try await ChildProcess.run("p2mpsend", ["push", "small.bin", daemon.target, "--name", name], in: directory).status == 0)
        }
        let status = try await ChildProcess.run("p2mpsend", ["status", "--json", daemon.target], in: directory)
        #expect(status.status == 0, "\(status.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.joined(separator: "\n").utf8)) as? [String: Any])
        let host = try #require((document["hosts"] as? [[String: Any]])?.first)
        let recent = try #require((host["daemon"] as? [String: Any])?["recent"] as? [[String: Any]])
        #expect(recent.compactMap { $0["name"] as? String } == names.reversed())
        #expect(names.allSatisfy { $0.utf8.count == 4_000 })

        let lines = try await ChildProcess.run("p2mpsend", ["status", daemon.target], in: directory)
        #expect(lines.status == 0)
        #expect(lines.stdout.first?.hasPrefix("\(daemon.target)  up  p2mpd ") == true, "\(lines.stdout)")
        #expect(lines.stdout.first?.contains("16 completed, 0 failed") == true, "\(lines.stdout)")
        #expect(lines.stdout.count == 17 && lines.stdout.dropFirst().allSatisfy { $0.hasPrefix("  completed  ") })
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
