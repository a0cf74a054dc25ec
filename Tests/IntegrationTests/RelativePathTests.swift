import Foundation
import Testing

/// Relative paths on the command lines mean the working directory; in files they are refused.
@Suite("Relative paths")
struct RelativePathTests {
    @Test("p2mpd resolves --spool and --config against its working directory; p2mpsend's FILE, --fleet and -o too")
    func commandLine() async throws {
        let directory = try Harness.makeDirectory()
        // The working directory as the children see it (getcwd: symbolic links resolved).
        let working = directory.resolvingSymlinksInPath().path
        let daemon = try await Daemon(
            address: "127.0.3.41", in: directory, configuration: "max_file_size = \"64K\"", relativePaths: true)
        let spool = "\(working)/spool-127.0.3.41-\(daemon.port)"
        #expect(daemon.child.stderrLines.contains { $0.contains("listening on \(daemon.target), spool \(spool) ") },
            "\(daemon.child.stderrLines)")

        try Harness.randomFile(at: directory.appendingPathComponent("small.bin"), bytes: 20_000)
        try Harness.randomFile(at: directory.appendingPathComponent("big.bin"), bytes: 100_000)
        try "\(daemon.target)\n".write(to: directory.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
        let push = try await ChildProcess.run("p2mpsend", ["push", "small.bin", "--fleet", "hosts"], in: directory)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: "\(spool)/small.bin")) == Data(contentsOf: directory.appendingPathComponent("small.bin")))
        // The relative --config was read: its 64K limit refuses the larger file.
        let refused = try await ChildProcess.run("p2mpsend", ["push", "big.bin", daemon.target], in: directory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains { $0.contains("tooLarge") }, "\(refused.stderr)")

        try FileManager.default.createDirectory(at: directory.appendingPathComponent("out"), withIntermediateDirectories: true)
        let get = try await ChildProcess.run("p2mpsend", ["get", daemon.target, "small.bin", "-o", "out/copy.bin"], in: directory)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("out/copy.bin")) == Data(contentsOf: directory.appendingPathComponent("small.bin")))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a relative spool inside a configuration file is refused, saying paths there must be absolute")
    func insideFile() async throws {
        let directory = try Harness.makeDirectory()
        let working = directory.resolvingSymlinksInPath().path
        try "spool = \"spool\"\n".write(to: directory.appendingPathComponent("p2mpd.toml"), atomically: true, encoding: .utf8)
        let check = try await ChildProcess.run("p2mpd", ["--check-config", "--config", "p2mpd.toml"], in: directory)
        #expect(check.status == 1)
        #expect(check.stderr == [
            #"\#(working)/p2mpd.toml:1: 'spool' is "spool", a relative path: paths in configuration files must be absolute (p2mpd --spool resolves a relative one against the working directory), expected an absolute directory path (a string), such as "/var/lib/p2mp/spool""#
        ])
        try? FileManager.default.removeItem(at: directory)
    }
}
