import Foundation
import Testing

/// `p2mpsend shell` and the documented `--json` document.
@Suite("Shell and JSON")
struct ShellAndJSONTests {
    @Test("the shell runs put, list, get, rename and exit, and says what is wrong with a bad line")
    func scriptedShell() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.3.31", in: directory, configuration: "manage_allow = [\"127.0.0.0/8\"]")
        try Harness.randomFile(at: directory.appendingPathComponent("a.bin"), bytes: 40_000)
        let script = directory.appendingPathComponent("commands.txt")
        try """
            put a.bin
            put missing.bin
            list
            get a.bin copy.bin
            get nothere.bin
            rename a.bin b.bin
            frobnicate
            get
            exit
            list
            """.write(to: script, atomically: true, encoding: .utf8)
        let shell = try await ChildProcess.run("p2mpsend", ["shell", daemon.target], in: directory, timeout: 60, input: script)
        #expect(shell.status == 0, "\(shell.stderr)")
        #expect(shell.stdout.contains("a.bin -> a.bin (40000 bytes)"))
        #expect(shell.stdout.contains { $0.hasPrefix("a.bin") && $0.contains("40000") })
        #expect(shell.stdout.contains("a.bin -> copy.bin (40000 bytes, SHA-256 verified)"))
        #expect(shell.stdout.contains("renamed a.bin to b.bin"))
        #expect(shell.stdout.filter { $0.hasPrefix("NAME") }.count == 1, "nothing runs after exit")
        #expect(shell.stderr.contains { $0.hasPrefix("no such file: missing.bin") })
        #expect(shell.stderr.contains("nothere.bin: notFound: no such file"))
        #expect(shell.stderr.contains("unknown command 'frobnicate' (expected get, put, rename, rm, list, help or exit)"))
        #expect(shell.stderr.contains("usage: get NAME [PATH]"))
        #expect(try Data(contentsOf: directory.appendingPathComponent("copy.bin")) == Data(contentsOf: directory.appendingPathComponent("a.bin")))
        #expect(FileManager.default.fileExists(atPath: daemon.file("b.bin").path))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test(
        "Ctrl-C at the shell's prompt on a terminal leaves cleanly (needs tmux)",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux"), "tmux is not installed (make prerequisites installs it)"))
    func interruptedShell() async throws {
        let directory = try Harness.makeDirectory()
        let status = directory.appendingPathComponent("status")
        let binary = Harness.binDirectory.appendingPathComponent("p2mpsend").path
        let server = "p2mp-shell-\(UUID().uuidString.prefix(8))"
        // One bounded script: the shell in a tmux pane, Ctrl-C typed once its prompt shows,
        // then up to 10 s for the status the pane writes when the shell has left.
        let script = """
            tmux -L \(server) new-session -d -x 100 -y 20 '\(binary) shell 127.0.0.1:9; echo $? > \(status.path)' </dev/null
            for i in $(seq 200); do tmux -L \(server) capture-pane -p | grep -q 'p2mp 127.0.0.1:9> ' && break; sleep 0.05; done
            timeout 5 tmux -L \(server) send-keys C-c
            for i in $(seq 200); do [ -s \(status.path) ] && break; sleep 0.05; done
            timeout 5 tmux -L \(server) kill-server 2>/dev/null
            exit 0
            """
        let run = try await ChildProcess.run("/bin/sh", ["-c", script], in: directory, timeout: 30)
        #expect(run.status == 0)
        let code = (try? String(contentsOf: status, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(code == "130", "the shell did not leave on Ctrl-C")
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("push --json validates against docs/push-report.schema.json (needs python3 jsonschema)")
    func jsonSchema() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.3.32", in: directory, configuration: "max_file_size = \"1K\"")
        let good = try await Daemon(address: "127.0.3.33", in: directory, extra: ["--loss", "0.3", "--loss-seed", "7"])
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 300_000)
        let push = try await ChildProcess.run("p2mpsend", ["push", "f.bin", good.target, daemon.target, "--json"], in: directory)
        #expect(push.status == 1, "one receiver refuses: exit 1")
        let document = push.stdout.joined(separator: "\n")
        let parsed = try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any]
        #expect(parsed?["ok"] as? Bool == false)
        let receivers = parsed?["receivers"] as? [[String: Any]] ?? []
        #expect(receivers.map { $0["status"] as? String } == ["committed", "failed"])
        #expect((receivers.last?["reason"] as? String)?.contains("tooLarge") == true)
        // The receiver that took the file reported what it saw: its simulated loss among it.
        let loss = receivers.first?["loss"] as? [String: Any]
        let simulated = (loss?["causes"] as? [String: Any])?["simulated"] as? [String: Any]
        let discarded = simulated?["lost_segments"] as? Int ?? 0
        #expect(discarded > 0 && (loss?["lost_segments"] as? Int ?? 0) >= discarded, "\(String(describing: loss))")
        #expect(simulated?["repaired_segments"] as? Int ?? 0 > 0)
        #expect(receivers.last?["loss"] == nil, "a receiver that refused sent no report")
        let file = directory.appendingPathComponent("report.json")
        try document.write(to: file, atomically: true, encoding: .utf8)
        let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/push-report.schema.json")
        let check = Process()
        // Debian's python3, for which `make prerequisites` installs python3-jsonschema.
        check.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        check.arguments = [
            "-c",
            "import json,sys,jsonschema\n"
                + "jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
            schema.path, file.path,
        ]
        try check.run()
        check.waitUntilExit()
        // make prerequisites installs jsonschema; without it python3 fails and so does this.
        #expect(check.terminationStatus == 0, "the --json document does not match its schema (or jsonschema is missing)")
        #expect(await daemon.stop() == 0)
        #expect(await good.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
