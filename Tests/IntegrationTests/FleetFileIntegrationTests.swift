import Foundation
import Testing

/// `--fleet FILE` with real daemons, and its errors with their lines.
@Suite("Fleet files")
struct FleetFileIntegrationTests {
    @Test("push --fleet and ls --fleet reach every target listed")
    func pushToAFleet() async throws {
        let directory = try Harness.makeDirectory()
        let first = try await Daemon(address: "127.0.3.11", in: directory)
        let second = try await Daemon(address: "127.0.3.12", in: directory)
        let fleet = directory.appendingPathComponent("fleet.txt")
        try "# build hosts\n\n\(first.target)   # rack 1\n\(second.target)\n".write(to: fleet, atomically: true, encoding: .utf8)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 50_000)
        let push = try await ChildProcess.run("p2mpsend", ["push", "f.bin", "--fleet", fleet.path], in: directory)
        #expect(push.status == 0, "\(push.stderr)")
        for daemon in [first, second] {
            #expect(try Data(contentsOf: daemon.file("f.bin")) == Data(contentsOf: directory.appendingPathComponent("f.bin")))
        }
        let listing = try await ChildProcess.run("p2mpsend", ["ls", "--fleet", fleet.path], in: directory)
        #expect(listing.status == 0)
        #expect(listing.stdout.contains { $0.hasPrefix("f.bin") && $0.hasSuffix("all 2") })
        #expect(await first.stop() == 0)
        #expect(await second.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a malformed fleet file exits 2 naming each bad line")
    func malformedFleet() async throws {
        let directory = try Harness.makeDirectory()
        try Data("x".utf8).write(to: directory.appendingPathComponent("f.bin"))
        let fleet = directory.appendingPathComponent("fleet.txt")
        try "127.0.0.1\nweb-01:99999\n127.0.0.1\n".write(to: fleet, atomically: true, encoding: .utf8)
        let push = try await ChildProcess.run("p2mpsend", ["push", "f.bin", "--fleet", fleet.path], in: directory)
        #expect(push.status == 2)
        #expect(push.stderr.contains { $0.contains("\(fleet.path):2:") && $0.contains("web-01:99999") }, "\(push.stderr)")
        #expect(push.stderr.contains { $0.contains("\(fleet.path):3:") && $0.contains("listed twice") }, "\(push.stderr)")
        let empty = directory.appendingPathComponent("empty.txt")
        try "# nothing\n".write(to: empty, atomically: true, encoding: .utf8)
        let none = try await ChildProcess.run("p2mpsend", ["push", "f.bin", "--fleet", empty.path], in: directory)
        #expect(none.status == 2)
        #expect(none.stderr.contains { $0.contains("no targets") })
        try? FileManager.default.removeItem(at: directory)
    }
}
