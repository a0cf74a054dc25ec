import Foundation
import P2MPWire
import Testing

/// The attacks of issue 14's security review, against a daemon with trusted senders: forged
/// source addresses (a raw socket on loopback), captured sessions replayed (recorded by a relay
/// the honest client went through, replayed from the address the daemon saw them come from),
/// and reflection toward a victim. Each time: refused, nothing committed or changed, the hook
/// not run, and the victim's socket receives no more bytes than the attacker sent.
@Suite(
    "Forged sources, replays and reflection",
    .enabled(if: ForgedUDPSender.isAvailable, "forging a source address needs a raw socket (root or CAP_NET_RAW)"))
struct ForgedAttackTests {
    @Test("a blind push from a forged source: refused, nothing committed, no hook, no more bytes to the victim than sent")
    func blindPush() async throws {
        let directory = try Harness.makeDirectory()
        var random = TestRandom("blind push")
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let hook = HookRecorder(in: directory)
        let daemon = try await Daemon.trusting([alice.trusted()], address: "127.0.14.30", in: directory, configuration: hook.configuration)
        let victim = try VictimSocket(address: "127.0.14.40")

        // The whole push in clear, as the review's attacker sent it: the sender picks the
        // transfer id and needs to read nothing back.
        let file = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &random) }
        let written = directory.appendingPathComponent("blind.bin")
        try Data(file).write(to: written)
        let hashed = try await ChildProcess.run("/usr/bin/sha256sum", [written.path], in: directory)
        let digest = try #require(ContentDigest(try DocumentedHex.bytes(String(hashed.stdout.first?.prefix(64) ?? ""))))
        let transferID = random.next()
        var offer: [UInt8] = []
        let offered = NativeOffer(segmentSize: 1_000, fileSize: UInt64(file.count), sha256: digest, window: 128, name: "blind.bin")
        NativeDatagram(transferID: transferID, packet: .offer(offered)).encode(into: &offer)
        var data: [[UInt8]] = (0..<100).map { segment in
            var datagram: [UInt8] = []
            file[segment * 1_000..<(segment + 1) * 1_000].withUnsafeBytes {
                NativeDatagram.encodeData(transferID: transferID, segment: UInt64(segment), timestamp: 0, payload: $0, into: &datagram)
            }
            return datagram
        }
        var probe: [UInt8] = []
        NativeDatagram(transferID: transferID, packet: .probe).encode(into: &probe)
        data.append(probe)
        // And in the secure envelope, as far as a blind attacker gets: an INITIATE (whose
        // RESPONSE goes to the victim), then CONFIRM and SEALED under guessed session ids.
        let initiate = HandshakeMessages.initiate(session: random.next(), random: &random)
        let guesses = [Self.guessed(.confirm, size: SecureDatagram.confirmSize, random: &random)]
            + (0..<20).map { _ in Self.guessed(.sealed, size: 1_100, random: &random) }

        let offerRound = try await Self.round([offer], from: victim, to: daemon, random: &random, label: "forged OFFER")
        let replies = offerRound.received.compactMap { reply in reply.withUnsafeBytes { try? NativeDatagram.decode($0) }?.packet }
        #expect(replies == [.reject(NativeRejection(reason: .authenticationRequired))], "\(replies)")
        var rounds = [offerRound]
        for (label, datagrams) in [("forged DATA and PROBE", data), ("forged INITIATE", [initiate]), ("guessed CONFIRM and SEALED", guesses)] {
            rounds.append(try await Self.round(datagrams, from: victim, to: daemon, random: &random, label: label))
        }
        for round in rounds { #expect(round.receivedBytes <= round.sent, "\(round)") }
        #expect(daemon.spoolNames().isEmpty && daemon.partials().isEmpty)
        #expect(daemon.logLines(containing: "p2mp_event=offer").isEmpty)
        #expect(daemon.logLines(containing: "p2mp_event=auth-failed", "127.0.14.40:\(victim.port)").count == 1)
        #expect(await daemon.stop() == 0)
        #expect(hook.runs.isEmpty)
        #expect(daemon.stopCounter("unknown session") == 20)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a captured push replayed after the file was moved away commits nothing and runs no hook, live and after a restart")
    func replayAfterMove() async throws {
        let directory = try Harness.makeDirectory()
        var random = TestRandom("replay after move")
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let hook = HookRecorder(in: directory)
        let configuration = "manage_allow = [\"127.0.0.0/8\"]\n\(hook.configuration)"
        let lines = [alice.trusted("push,read,manage")]
        var daemon = try await Daemon.trusting(lines, address: "127.0.14.31", in: directory, configuration: configuration)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 256 << 10)
        let session = try await Self.captured(by: alice, to: daemon, through: "127.0.14.41", in: directory) { ["push", "f.bin", $0] }
        try await Condition.wait(for: "the hook to run once") { hook.runs.count == 1 }
        #expect(try await Self.run(["mv", daemon.target, "f.bin", "archive/f.bin"], as: alice, in: directory).status == 0)
        #expect(daemon.spoolNames() == ["archive/f.bin"])

        for restart in [false, true] {
            if restart {
                #expect(await daemon.stop() == 0)
                #expect((daemon.stopCounter("replayed") ?? 0) >= session.sealedCount, "every sealed datagram met the replay window")
                daemon = try await Daemon.trusting(
                    lines, address: daemon.address, in: directory, configuration: configuration, port: daemon.port, spool: daemon.spool)
            }
            let replay = try await Self.replay(session, to: daemon, random: &random)
            #expect(replay.receivedBytes <= replay.sent, "restart \(restart): \(replay)")
            #expect(daemon.spoolNames() == ["archive/f.bin"], "restart \(restart)")
            #expect(daemon.partials().isEmpty)
            #expect(hook.runs.count == 1)
        }
        #expect(daemon.logLines(containing: "p2mp_event=offer").isEmpty, "the restarted daemon saw no offer")
        #expect(await daemon.stop() == 0)
        #expect((daemon.stopCounter("unknown session") ?? 0) >= session.sealedCount)
        #expect(hook.runs.count == 1)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("an older push with the replace flag, replayed after a newer one, leaves the newer file")
    func replayOlderReplace() async throws {
        let directory = try Harness.makeDirectory()
        var random = TestRandom("replay older replace")
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let hook = HookRecorder(in: directory)
        let daemon = try await Daemon.trusting([alice.trusted()], address: "127.0.14.32", in: directory, configuration: hook.configuration)
        for version in ["v1", "v2"] {
            try Harness.randomFile(at: directory.appendingPathComponent("\(version).bin"), bytes: 200_000)
        }
        let older = try await Self.captured(by: alice, to: daemon, through: "127.0.14.42", in: directory) {
            ["push", "v1.bin", $0, "--name", "app.bin", "--replace"]
        }
        #expect(try await Self.run(["push", "v2.bin", daemon.target, "--name", "app.bin", "--replace"], as: alice, in: directory).status == 0)
        let newer = try Data(contentsOf: directory.appendingPathComponent("v2.bin"))
        #expect(try Data(contentsOf: daemon.file("app.bin")) == newer)
        try await Condition.wait(for: "the hook to run twice") { hook.runs.count == 2 }

        let replay = try await Self.replay(older, to: daemon, random: &random)
        #expect(replay.receivedBytes <= replay.sent, "\(replay)")
        #expect(try Data(contentsOf: daemon.file("app.bin")) == newer)
        #expect(daemon.spoolNames() == ["app.bin"] && daemon.partials().isEmpty)
        #expect(daemon.logLines(containing: "p2mp_event=offer").count == 2)
        #expect(await daemon.stop() == 0)
        #expect((daemon.stopCounter("replayed") ?? 0) >= older.sealedCount, "the replay window dropped every sealed datagram")
        #expect(hook.runs.count == 2)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a captured rm replayed after 256 other changes pushed it out of the answer cache, and after a restart, removes nothing")
    func replayRemove() async throws {
        let directory = try Harness.makeDirectory()
        var random = TestRandom("replay rm")
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let configuration = "manage_allow = [\"127.0.0.0/8\"]"
        let lines = [alice.trusted("push,read,manage")]
        var daemon = try await Daemon.trusting(lines, address: "127.0.14.33", in: directory, configuration: configuration)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 10_000)
        #expect(try await Self.run(["push", "f.bin", daemon.target], as: alice, in: directory).status == 0)
        let removal = try await Self.captured(by: alice, to: daemon, through: "127.0.14.43", in: directory) { ["rm", $0, "f.bin"] }
        #expect(daemon.spoolNames().isEmpty)
        #expect(try await Self.run(["push", "f.bin", daemon.target], as: alice, in: directory).status == 0)
        // The review's replay waited until 256 other requests had pushed the rm's answer out
        // of the daemon's memory of answers (FleetQueryResponder.rememberedAnswers).
        #expect(try await Self.run(["push", "f.bin", daemon.target, "--name", "g.bin"], as: alice, in: directory).status == 0)
        let renames = directory.appendingPathComponent("renames")
        try (0..<130).map { _ in "rename g.bin h.bin\nrename h.bin g.bin\n" }.joined().write(to: renames, atomically: true, encoding: .utf8)
        let shell = try await ChildProcess.run("p2mpsend", ["shell", daemon.target] + alice.identity, in: directory, input: renames)
        #expect(shell.status == 0 && shell.stderr.isEmpty, "\(shell.stderr)")
        #expect(daemon.spoolNames() == ["f.bin", "g.bin"])

        for restart in [false, true] {
            if restart {
                #expect(await daemon.stop() == 0)
                #expect((daemon.stopCounter("replayed") ?? 0) >= removal.sealedCount, "the replay window dropped the rm")
                daemon = try await Daemon.trusting(
                    lines, address: daemon.address, in: directory, configuration: configuration, port: daemon.port, spool: daemon.spool)
            }
            let replay = try await Self.replay(removal, to: daemon, random: &random)
            #expect(replay.receivedBytes <= replay.sent, "restart \(restart): \(replay)")
            #expect(daemon.spoolNames() == ["f.bin", "g.bin"], "restart \(restart)")
        }
        #expect(daemon.logLines(containing: "p2mp_event=manage").isEmpty, "the restarted daemon saw no rm")
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a spoofed LIST and GET (in clear, and replayed from a captured ls) draw no more bytes at the victim than were sent")
    func spoofedListAndGet() async throws {
        let directory = try Harness.makeDirectory()
        var random = TestRandom("spoofed list and get")
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let daemon = try await Daemon.trusting([alice.trusted()], address: "127.0.14.34", in: directory)
        // Enough files that a listing in clear would be tens of kilobytes (the review saw
        // about 60 KB from a 20-byte LIST with some 1,200 files).
        for index in 0..<400 {
            try Data("file \(index)\n".utf8).write(to: daemon.file("release-2026-12-\(String(format: "%04d", index))-artifact.tar"))
        }
        // The first listing hashes every file (no sidecars): generous timeouts for a loaded machine.
        let listing = try await Self.captured(by: alice, to: daemon, through: "127.0.14.44", in: directory) { ["ls", $0, "--timeout", "60"] }
        let honest = try await Self.run(["ls", daemon.target, "--timeout", "60"], as: alice, in: directory)
        #expect(honest.stdout.count == 401, "an honest, authenticated ls gets every file: \(honest.stdout.suffix(2)) \(honest.stderr)")

        let victim = try VictimSocket(address: "127.0.14.45")
        var list: [UInt8] = []
        NativeDatagram(transferID: random.next(), packet: .list(cursor: 0)).encode(into: &list)
        var get: [UInt8] = []
        NativeDatagram(transferID: random.next(), packet: .get(name: "release-2026-12-0001-artifact.tar")).encode(into: &get)
        let initiate = HandshakeMessages.initiate(session: random.next(), random: &random)
        var answers: [NativePacket] = []
        for (label, datagrams) in [
            ("spoofed LIST", [list]), ("spoofed GET", [get]), ("spoofed INITIATE", [initiate]), ("replayed ls session", listing.capture),
        ] {
            let round = try await Self.round(datagrams, from: victim, to: daemon, random: &random, label: label)
            #expect(round.receivedBytes <= round.sent, "\(label): \(round)")
            answers += round.received.compactMap { reply in reply.withUnsafeBytes { try? NativeDatagram.decode($0) }?.packet }
        }
        #expect(answers == Array(repeating: .result(NativeResult(status: .authenticationRequired)), count: 2), "\(answers)")
        #expect(daemon.logLines(containing: "sending '").isEmpty, "no file was offered to anyone")
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: - Helpers

    /// A recorded exchange: what the client sent, and the address the daemon saw it from.
    struct Capture {
        var capture: [[UInt8]]
        var source: (address: String, port: Int)
        var sealedCount: Int {
            capture.filter { datagram in datagram.withUnsafeBytes { (try? SecureDatagram.peekHeader($0))?.type == .sealed } }.count
        }
    }

    /// Runs the p2mpsend command `arguments(TARGET)` as `key` through a relay at
    /// `relayAddress` that records it.
    static func captured(
        by key: SenderKey, to daemon: Daemon, through relayAddress: String, in directory: URL, _ arguments: (String) -> [String]
    ) async throws -> Capture {
        let relay = try UDPRelay(address: relayAddress, to: daemon)
        let result = try await run(arguments(relay.target), as: key, in: directory)
        relay.stop()
        guard result.status == 0 else { throw FixtureError("the captured command failed: \(result)") }
        return Capture(capture: relay.capture, source: (relay.address, relay.upstreamSource))
    }

    /// Replays a capture, datagram by datagram, from the address it was captured from, where
    /// a victim's socket now counts what the daemon sends back.
    static func replay(_ session: Capture, to daemon: Daemon, random: inout TestRandom) async throws -> Round {
        let victim = try VictimSocket(address: session.source.address, port: session.source.port)
        return try await round(session.capture, from: victim, to: daemon, random: &random, label: "replayed capture")
    }

    /// What the victim received during one round of an attack.
    struct Round: CustomStringConvertible {
        var sent: Int
        var received: [[UInt8]]
        var receivedBytes: Int { received.reduce(0) { $0 + $1.count } }
        var description: String { "\(sent) bytes sent, \(received.count) datagrams (\(receivedBytes) bytes) back" }
    }

    /// One round of an attack: `datagrams` sent to the daemon from the victim's address,
    /// then the victim's own marker; what the daemon sent the victim meanwhile.
    static func round(
        _ datagrams: [[UInt8]], from victim: VictimSocket, to daemon: Daemon, random: inout TestRandom, label: String
    ) async throws -> Round {
        let forger = try ForgedUDPSender()
        for datagram in datagrams { try forger.send(datagram, from: victim.source, to: (daemon.address, daemon.port)) }
        victim.sendMarker(to: daemon, random: &random)
        let round = Round(sent: forger.sent.bytes, received: try await victim.receiveUntilMarker())
        print("\(label): \(datagrams.count) datagrams as \(victim.address):\(victim.port), \(round)")
        return round
    }

    /// p2mpsend as `key`, accepting the host key the first time it sees it.
    static func run(_ arguments: [String], as key: SenderKey, in directory: URL) async throws -> (status: Int32?, stdout: [String], stderr: [String]) {
        try await ChildProcess.run("p2mpsend", arguments + key.identity + ["--accept-new-host-keys"], in: directory)
    }

    /// A secure-envelope datagram of `type` with a guessed session id and random contents.
    static func guessed(_ type: SecureMessageType, size: Int, random: inout TestRandom) -> [UInt8] {
        var datagram = (0..<size).map { _ in UInt8.random(in: 0...255, using: &random) }
        datagram.withUnsafeMutableBytes { SecureDatagram.writeHeader(SecureHeader(type: type, session: random.next()), to: $0) }
        return datagram
    }
}
