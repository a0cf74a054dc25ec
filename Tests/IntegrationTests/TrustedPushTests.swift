import Foundation
import Testing

/// Issue 14 with real processes over loopback: p2mpsend keygen, p2mpd --trusted-senders, the
/// rights of a trusted-senders line, key files, clear requests, and a SIGHUP reload.
@Suite("Trusted pushes with real processes")
struct TrustedPushTests {
    @Test("an authenticated push, ls, get, mv and rm work end to end; the daemon logs the sender's key and comment")
    func honestSession() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice@build", in: directory)
        let daemon = try await Daemon.trusting(
            [alice.trusted("push,read,manage")], address: "127.0.14.1", in: directory,
            configuration: "manage_allow = [\"127.0.0.0/8\"]")
        let hostKey = try #require(daemon.hostKeyFingerprint)
        let shown = try await ChildProcess.run("p2mpd", ["--show-host-key", "--spool", daemon.spool.path, "--config", "/dev/null"], in: directory)
        let hostKeyLine = try String(contentsOf: daemon.spool.appendingPathComponent(".p2mp/host_key.pub"), encoding: .utf8)
        #expect(shown.status == 0)
        #expect(shown.stdout == [hostKeyLine.trimmingCharacters(in: .newlines)])

        // First contact: p2mpsend records the host key in the default known_hosts, whose
        // directory does not exist yet.
        let input = directory.appendingPathComponent("app.tar")
        try Harness.randomFile(at: input, bytes: 3 << 20)
        let push = try await ChildProcess.run(
            "p2mpsend", ["push", "app.tar", daemon.target, "--accept-new-host-keys", "--json"] + alice.identity, in: directory)
        #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
        #expect(push.stdout.joined().contains(hostKey), "the report names the host key the receiver proved")
        #expect(push.stderr.contains { $0.contains("recorded [127.0.14.1]:\(daemon.port)'s host key \(hostKey)") }, "\(push.stderr)")
        let knownHosts = try String(contentsOf: directory.appendingPathComponent("config/p2mp/known_hosts"), encoding: .utf8)
        #expect(knownHosts.hasPrefix("[127.0.14.1]:\(daemon.port) p2mp-ed25519 "))
        #expect(try Data(contentsOf: daemon.file("app.tar")) == Data(contentsOf: input))
        #expect(!daemon.logLines(containing: "authenticated session with \(alice.fingerprint) (alice@build)").isEmpty)
        #expect(!daemon.logLines(containing: "p2mp_event=complete", "p2mp_key=\(alice.fingerprint)", "p2mp_key_comment=alice@build").isEmpty)
        let sidecars = try FileManager.default.contentsOfDirectory(at: daemon.spool.appendingPathComponent(".p2mp/meta"), includingPropertiesForKeys: nil)
        #expect(try sidecars.map { try String(contentsOf: $0, encoding: .utf8) }.contains { $0.contains(alice.fingerprint) })

        // From now on the host key is pinned by known_hosts.
        let listed = try await ChildProcess.run("p2mpsend", ["ls", daemon.target] + alice.identity, in: directory)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains { $0.hasPrefix("app.tar") && $0.contains("\(3 << 20)") }, "\(listed.stdout)")
        let fetched = directory.appendingPathComponent("fetched.tar")
        let get = try await ChildProcess.run("p2mpsend", ["get", daemon.target, "app.tar", "-o", fetched.path] + alice.identity, in: directory)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: fetched) == Data(contentsOf: input))
        let moved = try await ChildProcess.run("p2mpsend", ["mv", daemon.target, "app.tar", "releases/app.tar"] + alice.identity, in: directory)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(daemon.spoolNames() == ["releases/app.tar"])
        let removed = try await ChildProcess.run("p2mpsend", ["rm", daemon.target, "releases/app.tar"] + alice.identity, in: directory)
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(daemon.spoolNames().isEmpty)

        // Five commands, five sessions of alice's key; nothing in clear, nothing refused.
        #expect(daemon.logLines(containing: "authenticated session with \(alice.fingerprint)").count == 5)
        #expect(daemon.logLines(containing: "p2mp_event=manage", "(key \(alice.fingerprint) (alice@build))").count == 2)
        #expect(daemon.logLines(containing: "p2mp_event=auth-failed").isEmpty)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a key the daemon does not trust is refused with its reason printed, and nothing reaches the spool")
    func untrustedKey() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let mallory = try await SenderKey("mallory", comment: "mallory", in: directory)
        let daemon = try await Daemon.trusting([alice.trusted()], address: "127.0.14.2", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("evil.bin"), bytes: 200_000)
        let reason = "refused our key: key \(mallory.fingerprint) is not trusted by this host"
        let push = try await ChildProcess.run(
            "p2mpsend", ["push", "evil.bin", daemon.target, "--accept-new-host-keys"] + mallory.identity, in: directory)
        #expect(push.status == 1)
        #expect(push.stderr.contains { $0.contains(reason) }, "\(push.stderr)")
        let listed = try await ChildProcess.run("p2mpsend", ["ls", daemon.target, "--accept-new-host-keys"] + mallory.identity, in: directory)
        #expect(listed.status != 0)
        #expect(listed.stderr.contains { $0.contains(reason) }, "\(listed.stderr)")
        #expect(daemon.spoolNames().isEmpty)
        #expect(daemon.partials().isEmpty)
        #expect(daemon.logLines(containing: "p2mp_event=auth-failed", "p2mp_key=\(mallory.fingerprint)").count == 2)
        #expect(daemon.logLines(containing: "p2mp_event=offer").isEmpty, "the daemon never saw an offer")
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a read-only key cannot push or rm; a names= key writes only inside its prefix; mv and rm also need manage_allow")
    func rights() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let reader = try await SenderKey("reader", comment: "auditor", in: directory)
        let builder = try await SenderKey("builder", comment: "ci", in: directory)
        let lines = [alice.trusted(), reader.trusted("read"), builder.trusted("push,read,manage,names=builds/")]
        let daemon = try await Daemon.trusting(lines, address: "127.0.14.3", in: directory, configuration: "manage_allow = [\"127.0.0.0/8\"]")
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 100_000)
        func run(_ key: SenderKey, _ arguments: [String]) async throws -> (status: Int32?, stderr: String) {
            let result = try await ChildProcess.run("p2mpsend", arguments + key.identity + ["--accept-new-host-keys"], in: directory)
            return (result.status, result.stderr.joined(separator: "\n"))
        }
        let target = daemon.target
        #expect(try await run(alice, ["push", "f.bin", target, "--name", "outside.bin"]).status == 0)

        let readerPush = try await run(reader, ["push", "f.bin", target, "--name", "mine.bin"])
        #expect(readerPush.status == 1)
        #expect(readerPush.stderr.contains("pushes are not allowed for key \(reader.fingerprint) (auditor): its trusted-senders line lacks 'push'"), "\(readerPush.stderr)")
        let readerRemove = try await run(reader, ["rm", target, "outside.bin"])
        #expect(readerRemove.status == 1)
        #expect(readerRemove.stderr.contains("mv and rm are not allowed for key \(reader.fingerprint) (auditor): its trusted-senders line lacks 'manage'"), "\(readerRemove.stderr)")
        #expect(try await run(reader, ["ls", target]).status == 0)
        #expect(try await run(reader, ["get", target, "outside.bin", "-o", directory.appendingPathComponent("audit.bin").path]).status == 0)

        let outsidePush = try await run(builder, ["push", "f.bin", target, "--name", "etc/app.bin"])
        #expect(outsidePush.status == 1)
        #expect(outsidePush.stderr.contains("this key may only write names starting with 'builds/'"), "\(outsidePush.stderr)")
        #expect(try await run(builder, ["push", "f.bin", target, "--name", "builds/app.bin"]).status == 0)
        let outsideMove = try await run(builder, ["mv", target, "builds/app.bin", "etc/app.bin"])
        #expect(outsideMove.status == 1)
        #expect(outsideMove.stderr.contains("this key may only change names starting with 'builds/', not 'etc/app.bin'"), "\(outsideMove.stderr)")
        let outsideRemove = try await run(builder, ["rm", target, "outside.bin"])
        #expect(outsideRemove.status == 1)
        #expect(outsideRemove.stderr.contains("not 'outside.bin'"), "\(outsideRemove.stderr)")
        #expect(try await run(builder, ["mv", target, "builds/app.bin", "builds/old/app.bin"]).status == 0)
        #expect(daemon.spoolNames() == ["builds/old/app.bin", "outside.bin"])
        #expect(try await run(builder, ["rm", target, "builds/old/app.bin"]).status == 0)
        #expect(daemon.spoolNames() == ["outside.bin"])

        // The manage right is not enough where manage_allow leaves the address out.
        let closed = try await Daemon.trusting(lines, address: "127.0.14.4", in: directory)
        #expect(try await run(builder, ["push", "f.bin", closed.target, "--name", "builds/app.bin"]).status == 0)
        let closedRemove = try await run(builder, ["rm", closed.target, "builds/app.bin"])
        #expect(closedRemove.status == 1)
        #expect(closedRemove.stderr.contains("mv and rm are not allowed from 127.0.0.1 (see manage_allow)"), "\(closedRemove.stderr)")
        #expect(closed.spoolNames() == ["builds/app.bin"])
        #expect(await daemon.stop() == 0)
        #expect(await closed.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("keygen writes the default identity 0600; a private key others can read is refused, naming the file and its mode")
    func privateKeyMode() async throws {
        let directory = try Harness.makeDirectory()
        let made = try await ChildProcess.run("p2mpsend", ["keygen", "--comment", "ops"], in: directory)
        #expect(made.status == 0, "\(made.stderr)")
        let identity = directory.appendingPathComponent("config/p2mp/id_ed25519")
        let mode = try FileManager.default.attributesOfItem(atPath: identity.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try String(contentsOf: identity.appendingPathExtension("pub"), encoding: .utf8).trimmingCharacters(in: .newlines) == made.stdout.first)

        let daemon = try await Daemon.trusting([try #require(made.stdout.first)], address: "127.0.14.5", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 10_000)
        // The default identity authenticates without --identity.
        let push = try await ChildProcess.run("p2mpsend", ["push", "f.bin", daemon.target, "--accept-new-host-keys"], in: directory)
        #expect(push.status == 0, "\(push.stderr)")

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: identity.path)
        for arguments in [["push", "f.bin", daemon.target, "--name", "g.bin"], ["ls", daemon.target], ["rm", daemon.target, "f.bin"]] {
            let refused = try await ChildProcess.run("p2mpsend", arguments, in: directory)
            #expect(refused.status == 2, "\(arguments)")
            #expect(
                refused.stderr == [
                    "p2mpsend: --identity: \(identity.path): permissions 0644 are too open: a private key must be "
                        + "accessible by its owner only (chmod 600 \(identity.path))"
                ], "\(refused.stderr)")
        }
        #expect(daemon.spoolNames() == ["f.bin"])
        #expect(daemon.logLines(containing: "authenticated session with").count == 1, "no session after the mode changed")
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("with trusted_senders set, requests in clear are refused even from loopback, with a reason p2mpsend prints")
    func clearRequestsRefused() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let daemon = try await Daemon.trusting(
            [alice.trusted("push,read,manage")], address: "127.0.14.6", in: directory, configuration: "manage_allow = [\"127.0.0.0/8\"]")
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 50_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "f.bin", daemon.target, "--accept-new-host-keys"] + alice.identity, in: directory).status == 0)
        let explanation = "this daemon serves requests in clear only from its own loopback and only while it has no trusted-senders file"
        // No --identity, and no key in the default place: every request goes in clear.
        for arguments in [
            ["push", "f.bin", daemon.target, "--name", "clear.bin"], ["ls", daemon.target],
            ["get", daemon.target, "f.bin", "-o", directory.appendingPathComponent("out.bin").path], ["mv", daemon.target, "f.bin", "g.bin"],
            ["rm", daemon.target, "f.bin"],
        ] {
            let refused = try await ChildProcess.run("p2mpsend", arguments, in: directory)
            #expect(refused.status == 1, "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains { $0.contains(explanation) }, "\(arguments): \(refused.stderr)")
        }
        #expect(daemon.spoolNames() == ["f.bin"])
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out.bin").path))
        #expect(!daemon.logLines(containing: "p2mp_event=auth-failed", "authentication required").isEmpty)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("SIGHUP with a key removed from trusted-senders ends its session mid-push and refuses it later; other keys go on")
    func reloadRemovesKey() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let bob = try await SenderKey("bob", comment: "bob", in: directory)
        let daemon = try await Daemon.trusting([alice.trusted(), bob.trusted()], address: "127.0.14.7", in: directory)
        let trusted = try #require(daemon.trustedSendersFile)
        #expect(try await ChildProcess.run("p2mpsend", ["ls", daemon.target, "--accept-new-host-keys"] + alice.identity, in: directory).status == 0)
        // Two pushes slow enough (4 MiB at 12 Mbit/s, about 3 s) to be running at the reload.
        var pushes: [ChildProcess] = []
        for key in [alice, bob] {
            try Harness.randomFile(at: directory.appendingPathComponent("\(key.comment).bin"), bytes: 4 << 20)
            pushes.append(
                try ChildProcess(
                    "p2mpsend", ["push", "\(key.comment).bin", daemon.target, "--rate", "12M", "--give-up", "3"] + key.identity,
                    in: directory, label: "push-\(key.comment)"))
        }
        try await daemon.waitForLog("receiving 'alice.bin'")
        try await daemon.waitForLog("receiving 'bob.bin'")
        try (bob.trusted() + "\n").write(to: trusted, atomically: true, encoding: .utf8)
        kill(daemon.child.process.processIdentifier, SIGHUP)
        try await daemon.waitForLog("session with key \(alice.fingerprint) (alice) from 127.0.0.1")
        #expect(pushes.allSatisfy { $0.process.isRunning }, "both pushes were still running at the reload")
        #expect(!daemon.logLines(containing: "key \(alice.fingerprint)", "ended: its key is no longer trusted").isEmpty)
        #expect(await pushes[0].wait(timeout: 60) == 1, "alice's push stalls and gives up: \(pushes[0].stderrLines)")
        #expect(await pushes[1].wait(timeout: 60) == 0, "bob's push goes on: \(pushes[1].stderrLines)")
        #expect(daemon.spoolNames() == ["bob.bin"])
        #expect(try Data(contentsOf: daemon.file("bob.bin")) == Data(contentsOf: directory.appendingPathComponent("bob.bin")))

        let later = try await ChildProcess.run("p2mpsend", ["push", "alice.bin", daemon.target] + alice.identity, in: directory)
        #expect(later.status == 1)
        #expect(later.stderr.contains { $0.contains("refused our key: key \(alice.fingerprint) is not trusted by this host") }, "\(later.stderr)")
        #expect(daemon.spoolNames() == ["bob.bin"])
        #expect(!daemon.logLines(containing: "p2mp_event=reload", "trusted senders reloaded: 1 keys").isEmpty)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}

/// The rule for requests in clear without a trusted-senders file, from an address that is not
/// loopback: only a network namespace of the test's own has one that nothing leaves.
@Suite("Requests in clear from beyond loopback", .enabled(if: NetworkNamespace.isAvailable, "needs root and ip(8) for a network namespace"))
struct NonLoopbackTests {
    @Test("without trusted_senders, requests in clear are served from loopback only; from 10.214.0.1 p2mpsend prints why not")
    func clearFromElsewhere() async throws {
        let namespace = try await NetworkNamespace(address: "10.214.0.1")
        defer { namespace.delete() }
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "0.0.0.0", in: directory, namespace: namespace)
        let port = daemon.port
        func run(_ arguments: [String]) async throws -> (status: Int32?, stdout: [String], stderr: [String]) {
            let (program, prefix) = namespace.launcher(for: "p2mpsend")
            return try await ChildProcess.run(program, prefix + arguments, in: directory)
        }
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 20_000)
        let explanation = "this daemon serves requests in clear only from its own loopback"
        for arguments in [["push", "f.bin", "10.214.0.1:\(port)"], ["ls", "10.214.0.1:\(port)"]] {
            let refused = try await run(arguments)
            #expect(refused.status == 1, "\(arguments): \(refused.stderr)")
            #expect(refused.stderr.contains { $0.contains(explanation) }, "\(arguments): \(refused.stderr)")
        }
        #expect(daemon.spoolNames().isEmpty && daemon.partials().isEmpty)
        #expect(!daemon.logLines(containing: "p2mp_event=auth-failed", "10.214.0.1", "only loopback is served until trusted_senders is set").isEmpty)
        // A key does not help: without trusted-senders the daemon trusts none.
        let key = try await SenderKey("alice", comment: "alice", in: directory)
        let keyed = try await run(["ls", "10.214.0.1:\(port)", "--accept-new-host-keys"] + key.identity)
        #expect(keyed.status == 1)
        #expect(keyed.stderr.contains { $0.contains("refused our key: key \(key.fingerprint) is not trusted by this host") }, "\(keyed.stderr)")

        // The same daemon serves its own loopback in clear.
        #expect(try await run(["push", "f.bin", "127.0.0.1:\(port)"]).status == 0)
        let listed = try await run(["ls", "127.0.0.1:\(port)"])
        #expect(listed.status == 0)
        #expect(listed.stdout.contains { $0.hasPrefix("f.bin") })
        #expect(daemon.spoolNames() == ["f.bin"])
        #expect(!daemon.logLines(containing: "trusted_senders is not set: serving unauthenticated requests from loopback addresses only").isEmpty)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
