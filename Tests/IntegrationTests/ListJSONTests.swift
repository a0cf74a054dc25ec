import Foundation
import Testing

/// `p2mpsend ls --json` and `--long`, checked against the files in the daemons' spools.
@Suite("ls for automation")
struct ListJSONTests {
    /// Whether Debian's python3 can validate JSON schemas (`make prerequisites` installs
    /// python3-jsonschema for it, whatever other python3 comes first on PATH).
    static let hasJSONSchema: Bool = {
        let check = Process()
        check.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        check.arguments = ["-c", "import jsonschema"]
        check.standardError = FileHandle.nullDevice
        guard (try? check.run()) != nil else { return false }
        check.waitUntilExit()
        return check.terminationStatus == 0
    }()

    static let schema = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/ls-report.schema.json")

    /// SHA-256 of a file, in lowercase hex, by sha256sum(1): a digest computed apart from p2mp.
    /// Its output files go to `directory`.
    static func sha256(of file: URL, in directory: URL) async throws -> String {
        let run = try await ChildProcess.run("/usr/bin/sha256sum", [file.path], in: directory)
        return try #require(run.stdout.first?.split(separator: " ").first.map(String.init))
    }

    /// What the spool holds under each name: size, SHA-256 and modification time, from the disk.
    static func spoolFiles(
        _ daemon: Daemon, names: [String], in directory: URL
    ) async throws -> [String: (size: Int, sha256: String, mtime: Int)] {
        var files: [String: (size: Int, sha256: String, mtime: Int)] = [:]
        for name in names {
            let attributes = try FileManager.default.attributesOfItem(atPath: daemon.file(name).path)
            let size = try #require(attributes[.size] as? Int)
            let mtime = try #require(attributes[.modificationDate] as? Date).timeIntervalSince1970
            files[name] = (size, try await sha256(of: daemon.file(name), in: directory), Int(mtime.rounded(.down)))
        }
        return files
    }

    @Test(
        "ls --json: per host its files with size, full SHA-256 and time as on disk; down and refused hosts with a reason",
        .enabled(if: hasJSONSchema, "python3 jsonschema is not installed (make prerequisites installs it)"))
    func json() async throws {
        let directory = try Harness.makeDirectory()
        let v6 = try await Daemon(address: "[::1]", in: directory)
        let v4 = try await Daemon(address: "127.0.3.51", in: directory)
        let closed = try await Daemon(address: "127.0.3.52", in: directory, configuration: "allow = [\"10.0.0.0/8\"]")
        let silent = "127.0.3.59:\(Harness.port())"
        try Harness.randomFile(at: directory.appendingPathComponent("a.bin"), bytes: 70_000)
        try Harness.randomFile(at: directory.appendingPathComponent("b.bin"), bytes: 1_234)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "a.bin", v6.target, v4.target], in: directory).status == 0)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "b.bin", v4.target, "--name", "dir/b.bin"], in: directory).status == 0)

        let targets = [v6.target, v4.target, closed.target, silent]
        let list = try await ChildProcess.run("p2mpsend", ["ls", "--json", "--timeout", "1"] + targets, in: directory)
        #expect(list.status == 1, "a down host makes ls exit 1, with --json too")
        #expect(list.stderr.isEmpty, "\(list.stderr)")
        let text = list.stdout.joined(separator: "\n")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(document["ok"] as? Bool == false)
        let hosts = try #require(document["hosts"] as? [[String: Any]])
        #expect(hosts.map { $0["target"] as? String } == targets)
        #expect(hosts.map { $0["status"] as? String } == ["up", "up", "refused", "down"])
        #expect(hosts[2]["reason"] as? String == "listing is not allowed from 127.0.0.1 (see allow)")
        #expect(hosts[3]["reason"] as? String == "no answer in 1.0 s")
        #expect(hosts[0]["address"] as? String == v6.target)

        for (host, (daemon, names)) in zip(hosts, [(v6, ["a.bin"]), (v4, ["a.bin", "dir/b.bin"])]) {
            let onDisk = try await Self.spoolFiles(daemon, names: names, in: directory)
            let files = try #require(host["files"] as? [[String: Any]])
            #expect(Set(files.compactMap { $0["name"] as? String }) == Set(names))
            for file in files {
                let name = try #require(file["name"] as? String)
                let expected = try #require(onDisk[name])
                #expect(file["size"] as? Int == expected.size, "\(daemon.target) \(name)")
                #expect(file["sha256"] as? String == expected.sha256, "\(daemon.target) \(name)")
                #expect(file["modified_unix"] as? Int == expected.mtime, "\(daemon.target) \(name)")
                let modified = try #require(file["modified"] as? String)
                #expect(ISO8601DateFormatter().date(from: modified)?.timeIntervalSince1970 == Double(expected.mtime), "\(modified)")
            }
        }

        let report = directory.appendingPathComponent("ls.json")
        try text.write(to: report, atomically: true, encoding: .utf8)
        let validate = try await ChildProcess.run(
            "/usr/bin/python3",
            ["-c", "import json,sys,jsonschema\njsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))",
             Self.schema.path, report.path],
            in: directory)
        #expect(validate.status == 0, "the ls --json document does not match docs/ls-report.schema.json: \(validate.stderr)")

        let nobody = try await ChildProcess.run("p2mpsend", ["ls", "--json", silent, "--timeout", "0.5"], in: directory)
        #expect(nobody.status == 3)
        let empty = try #require(try JSONSerialization.jsonObject(with: Data(nobody.stdout.joined().utf8)) as? [String: Any])
        #expect((empty["hosts"] as? [[String: Any]])?.map { $0["status"] as? String } == ["down"])
        for daemon in [v6, v4, closed] { #expect(await daemon.stop() == 0) }
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("ls --long prints every SHA-256 in full, for one host and in the merged table; not with --json")
    func long() async throws {
        let directory = try Harness.makeDirectory()
        let first = try await Daemon(address: "127.0.3.53", in: directory)
        let second = try await Daemon(address: "[::1]", in: directory)
        let file = directory.appendingPathComponent("c.bin")
        try Harness.randomFile(at: file, bytes: 30_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "c.bin", first.target, second.target], in: directory).status == 0)
        let digest = try await Self.sha256(of: file, in: directory)

        let one = try await ChildProcess.run("p2mpsend", ["ls", "--long", first.target], in: directory)
        #expect(one.status == 0)
        #expect(one.stdout.contains { $0.hasPrefix("c.bin") && $0.contains(" \(digest) ") }, "\(one.stdout)")
        let short = try await ChildProcess.run("p2mpsend", ["ls", first.target], in: directory)
        #expect(short.stdout.contains { $0.hasPrefix("c.bin") && $0.contains(" \(digest.prefix(16)) ") && !$0.contains(digest) })
        let merged = try await ChildProcess.run("p2mpsend", ["ls", "--long", first.target, second.target], in: directory)
        #expect(merged.status == 0)
        #expect(merged.stdout.contains { $0.hasPrefix("c.bin") && $0.contains(" \(digest) ") && $0.hasSuffix("all 2") }, "\(merged.stdout)")

        let both = try await ChildProcess.run("p2mpsend", ["ls", "--long", "--json", first.target], in: directory)
        #expect(both.status == 2)
        #expect(both.stderr == ["p2mpsend: --long is for the table; --json always carries full digests"])
        #expect(await first.stop() == 0)
        #expect(await second.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
