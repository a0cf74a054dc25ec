import Foundation
import Testing

/// The sender's side of trust: host keys seen for the first time, recorded, pinned by
/// known_hosts or a fleet file, and a man in the middle that swaps in another daemon.
@Suite("Host keys: first contact, pinning, a man in the middle")
struct HostKeyTests {
    @Test("an unknown host key fails that receiver with its fingerprint and the hint; --accept-new-host-keys records it")
    func unknownHostKey() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let first = try await Daemon.trusting([alice.trusted()], address: "127.0.14.13", in: directory)
        let second = try await Daemon.trusting([alice.trusted()], address: "127.0.14.14", in: directory)
        let knownHosts = directory.appendingPathComponent("known_hosts")
        let trust = alice.identity + ["--known-hosts", knownHosts.path]
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 100_000)

        let unknown = try await ChildProcess.run("p2mpsend", ["push", "f.bin", first.target, second.target] + trust, in: directory)
        #expect(unknown.status == 1)
        for daemon in [first, second] {
            let fingerprint = try #require(daemon.hostKeyFingerprint)
            #expect(
                unknown.stderr.contains {
                    $0.contains("unknown host key \(fingerprint) for \(daemon.target); if it is right, run again with --accept-new-host-keys")
                }, "\(unknown.stderr)")
            #expect(daemon.spoolNames().isEmpty)
            #expect(daemon.logLines(containing: "authenticated session").isEmpty, "the sender stopped before it showed its key")
        }
        #expect(!FileManager.default.fileExists(atPath: knownHosts.path), "nothing is recorded without --accept-new-host-keys")

        let accepted = try await ChildProcess.run(
            "p2mpsend", ["push", "f.bin", first.target, second.target, "--accept-new-host-keys"] + trust, in: directory)
        #expect(accepted.status == 0, "\(accepted.stderr)")
        let recorded = try String(contentsOf: knownHosts, encoding: .utf8).split(separator: "\n")
        #expect(recorded.map { $0.split(separator: " ").first } == ["[127.0.14.13]:\(first.port)", "[127.0.14.14]:\(second.port)"])
        let pinned = try await ChildProcess.run("p2mpsend", ["push", "f.bin", first.target, second.target, "--name", "g.bin"] + trust, in: directory)
        #expect(pinned.status == 0, "\(pinned.stderr)")
        #expect(first.spoolNames() == ["f.bin", "g.bin"] && second.spoolNames() == ["f.bin", "g.bin"])
        #expect(await first.stop() == 0)
        #expect(await second.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a relay that swaps in another daemon is detected as a changed host key (known_hosts or fleet file), and nothing is written")
    func manInTheMiddle() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        // Both daemons trust alice: the impostor would take anything it is given.
        let genuine = try await Daemon.trusting(
            [alice.trusted()], address: "127.0.14.10", in: directory, extra: ["--host-key", directory.appendingPathComponent("genuine_key").path])
        let impostor = try await Daemon.trusting(
            [alice.trusted()], address: "127.0.14.11", in: directory, extra: ["--host-key", directory.appendingPathComponent("impostor_key").path])
        let genuineKey = try #require(genuine.hostKeyFingerprint)
        let impostorKey = try #require(impostor.hostKeyFingerprint)
        #expect(genuineKey != impostorKey)
        let relay = try UDPRelay(address: "127.0.14.12", to: genuine)
        defer { relay.stop() }
        let knownHosts = directory.appendingPathComponent("known_hosts")
        let trust = alice.identity + ["--known-hosts", knownHosts.path]
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 100_000)

        let honest = try await ChildProcess.run("p2mpsend", ["push", "f.bin", relay.target, "--accept-new-host-keys"] + trust, in: directory)
        #expect(honest.status == 0, "\(honest.stderr)")
        #expect(genuine.spoolNames() == ["f.bin"])
        let recorded = try String(contentsOf: knownHosts, encoding: .utf8)

        relay.redirect(to: impostor)
        let swapped = try await ChildProcess.run(
            "p2mpsend", ["push", "f.bin", relay.target, "--name", "g.bin", "--accept-new-host-keys"] + trust, in: directory)
        #expect(swapped.status == 1)
        #expect(
            swapped.stderr.contains {
                $0.contains("HOST KEY CHANGED for \(relay.target): known_hosts has \(genuineKey), the daemon proved \(impostorKey)")
            }, "\(swapped.stderr)")
        #expect(try String(contentsOf: knownHosts, encoding: .utf8) == recorded, "a changed key is never recorded")

        // A fleet file pins the key on the target's line, without known_hosts.
        let pinnedGenuine = directory.appendingPathComponent("fleet-genuine")
        let genuineLine = try await Self.publicLine(hostKey: directory.appendingPathComponent("genuine_key"), in: directory)
        try "# the genuine host key\n\(relay.target) \(genuineLine)\n".write(to: pinnedGenuine, atomically: true, encoding: .utf8)
        let fleet = try await ChildProcess.run(
            "p2mpsend", ["push", "f.bin", "--fleet", pinnedGenuine.path, "--name", "h.bin", "--known-hosts", directory.appendingPathComponent("none").path]
                + alice.identity, in: directory)
        #expect(fleet.status == 1)
        #expect(fleet.stderr.contains { $0.contains("HOST KEY CHANGED for \(relay.target)") && $0.contains(impostorKey) }, "\(fleet.stderr)")

        // Neither the impostor nor the genuine daemon got anything, nor did the sender
        // show its key to the impostor.
        #expect(impostor.spoolNames().isEmpty && impostor.partials().isEmpty)
        #expect(impostor.logLines(containing: "authenticated session").isEmpty)
        #expect(genuine.spoolNames() == ["f.bin"])

        // The fleet file's pin wins over known_hosts: pinning the other key reaches it.
        let pinnedImpostor = directory.appendingPathComponent("fleet-impostor")
        let impostorLine = try await Self.publicLine(hostKey: directory.appendingPathComponent("impostor_key"), in: directory)
        try "\(relay.target) \(impostorLine)\n".write(to: pinnedImpostor, atomically: true, encoding: .utf8)
        let repinned = try await ChildProcess.run(
            "p2mpsend", ["push", "f.bin", "--fleet", pinnedImpostor.path, "--name", "i.bin"] + trust, in: directory)
        #expect(repinned.status == 0, "\(repinned.stderr)")
        #expect(impostor.spoolNames() == ["i.bin"])
        #expect(await genuine.stop() == 0)
        #expect(await impostor.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    /// `p2mpd --show-host-key --host-key FILE`: "p2mp-ed25519 BASE64" (the comment left out).
    static func publicLine(hostKey: URL, in directory: URL) async throws -> String {
        let shown = try await ChildProcess.run("p2mpd", ["--show-host-key", "--host-key", hostKey.path, "--config", "/dev/null"], in: directory)
        guard shown.status == 0, let line = shown.stdout.first else { throw FixtureError("p2mpd --show-host-key: \(shown)") }
        return line.split(separator: " ").prefix(2).joined(separator: " ")
    }
}
