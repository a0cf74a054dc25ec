import Foundation
import P2MPWire
import Testing

/// The native protocol between real p2mpd daemons and p2mpsend push over loopback.
@Suite("Native pushes over loopback")
struct NativePushTests {
    @Test("64 MiB to four daemons with --loss 0.02: every copy identical, simulated losses logged and summed up")
    func fourDaemonsWithLoss() async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("image.bin")
        try Harness.randomFile(at: input, bytes: 64 << 20)
        var daemons: [Daemon] = []
        for index in 1...4 {
            daemons.append(try await Daemon(address: "127.0.1.\(index)", in: directory, extra: ["--loss", "0.02"]))
        }
        let push = try await ChildProcess.run("p2mpsend", ["push", "image.bin"] + daemons.map(\.target), in: directory, timeout: 300)
        #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
        let expected = try Data(contentsOf: input)
        for daemon in daemons {
            #expect(try Data(contentsOf: daemon.file("image.bin")) == expected)
            #expect(await daemon.stop() == 0)
            let records = daemon.child.stderrLines.map(LogFields.parse)
            let losses = records.filter { $0["p2mp_event"] == "loss" && $0["p2mp_loss_cause"] == "simulated" }
            let discarded = losses.reduce(0) { $0 + (Int($1["p2mp_lost_segments"] ?? "") ?? 0) }
            // 2 % of some 7,500 segments of 8,944 bytes (loopback), in a few rate-limited events.
            #expect(discarded > 50 && losses.allSatisfy { $0["p2mp_peer"] != nil && $0["p2mp_transfer_id"] != nil })
            let complete = records.first { $0["p2mp_event"] == "complete" && $0["p2mp_sha256"] != nil }
            #expect(complete?["p2mp_lost_segments"].flatMap { Int($0) } ?? 0 >= discarded)
        }
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("eight senders push different files into one daemon at once")
    func eightSenders() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.9", in: directory)
        var pushes: [ChildProcess] = []
        for index in 0..<8 {
            try Harness.randomFile(at: directory.appendingPathComponent("file\(index).bin"), bytes: 2 << 20 + index * 1_000)
            pushes.append(try ChildProcess("p2mpsend", ["push", "file\(index).bin", daemon.target], in: directory, label: "push\(index)"))
        }
        for (index, push) in pushes.enumerated() {
            #expect(await push.wait(timeout: 120) == 0, "push \(index): \(push.stderrLines)")
            let name = "file\(index).bin"
            #expect(try Data(contentsOf: daemon.file(name)) == Data(contentsOf: directory.appendingPathComponent(name)))
        }
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("segments of 60,000 bytes (datagrams near the UDP limit) arrive intact")
    func largeSegments() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.16", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("big.bin"), bytes: 3 << 20)
        let push = try await ChildProcess.run("p2mpsend", ["push", "big.bin", daemon.target, "--segment-size", "60000"], in: directory)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(try Data(contentsOf: daemon.file("big.bin")) == Data(contentsOf: directory.appendingPathComponent("big.bin")))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a repeated push of the same content is acknowledged at once, without data")
    func alreadyHeld() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.10", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("a.bin"), bytes: 100_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "a.bin", daemon.target], in: directory).status == 0)
        let again = try await ChildProcess.run("p2mpsend", ["push", "a.bin", daemon.target, "--json"], in: directory)
        #expect(again.status == 0)
        let document = try JSONSerialization.jsonObject(with: Data(again.stdout.joined(separator: "\n").utf8)) as? [String: Any]
        let receiver = try #require((document?["receivers"] as? [[String: Any]])?.first)
        #expect(receiver["already_held"] as? Bool == true)
        #expect(receiver["transmissions"] as? Int == 0)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("an unchanged file's digest comes from the cache; a wrong entry fails the push, never commits, and --rehash mends it")
    func digestCache() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.11", in: directory)
        let cache = directory.appendingPathComponent("cache/p2mp/sha256")
        // A file changed moments ago is hashed but not remembered (DigestCache.settleSeconds).
        let fresh = directory.appendingPathComponent("fresh.bin")
        try Harness.randomFile(at: fresh, bytes: 300_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "fresh.bin", daemon.target, "--name", "c0"], in: directory).status == 0)
        #expect(!FileManager.default.fileExists(atPath: cache.path))
        // A file that settled long ago (a system binary; no test can age a file's ctime) is
        // remembered by its first push.
        let file = try #require(Self.settledSystemFile(), "no regular file under /usr/bin older than a minute")
        let real = try Self.sha256(Array(Data(contentsOf: file))).map { String(format: "%02x", $0) }.joined()
        #expect(try await ChildProcess.run("p2mpsend", ["push", file.path, daemon.target, "--name", "c2"], in: directory).status == 0)
        let remembered = try String(contentsOf: cache, encoding: .utf8)
        #expect(remembered.contains(real))

        // A wrong entry is believed: every receiver finds the mismatch, nothing is committed.
        try remembered.replacingOccurrences(of: real, with: String(repeating: "ab", count: 32))
            .write(to: cache, atomically: true, encoding: .utf8)
        let poisoned = try await ChildProcess.run("p2mpsend", ["push", file.path, daemon.target, "--name", "c3"], in: directory)
        #expect(poisoned.status == 1)
        #expect(poisoned.stderr.joined().contains("SHA-256 mismatch"), "\(poisoned.stderr)")
        #expect(!FileManager.default.fileExists(atPath: daemon.file("c3").path))

        let mended = try await ChildProcess.run("p2mpsend", ["push", file.path, daemon.target, "--name", "c3", "--rehash"], in: directory)
        #expect(mended.status == 0)
        #expect(try Data(contentsOf: daemon.file("c3")) == Data(contentsOf: file))
        #expect(try String(contentsOf: cache, encoding: .utf8).contains(real))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    /// A regular file of a few hundred KiB or more whose status changed over a minute ago.
    static func settledSystemFile() -> URL? {
        for path in ["/usr/bin/dash", "/usr/bin/bash", "/usr/bin/tar", "/usr/bin/gzip", "/usr/bin/env"] {
            var status = stat()
            guard stat(path, &status) == 0, status.st_mode & S_IFMT == S_IFREG, status.st_size >= 50_000,
                time(nil) - status.st_ctim.tv_sec > 60, access(path, R_OK) == 0
            else { continue }
            return URL(fileURLWithPath: path)
        }
        return nil
    }

    struct RejectCase: CustomTestStringConvertible, Sendable {
        var label: String
        var configuration: String?
        var message: String
        var testDescription: String { label }
    }

    static let rejectCases: [RejectCase] = [
        RejectCase(label: "too large", configuration: "max_file_size = \"1K\"", message: "rejected (tooLarge): 50000 bytes is larger than the limit of 1024 bytes"),
        RejectCase(label: "not enough space", configuration: "min_free_space = \"1000T\"", message: "rejected (noSpace): 50000 bytes would leave less than"),
        RejectCase(label: "not allowed from this address", configuration: "allow = [\"10.0.0.0/8\"]", message: "rejected (notAllowedFromAddress): pushes from 127.0.0.1 are not allowed"),
    ]

    @Test("refusals configured on the daemon reach the sender with their reason", arguments: rejectCases)
    func configuredRejections(_ testCase: RejectCase) async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.11", in: directory, configuration: testCase.configuration)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 50_000)
        let push = try await ChildProcess.run("p2mpsend", ["push", "f.bin", daemon.target], in: directory)
        #expect(push.status == 1)
        #expect(push.stderr.contains { $0.contains(testCase.message) }, "\(push.stderr)")
        #expect(!FileManager.default.fileExists(atPath: daemon.file("f.bin").path))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a name that resolves outside the spool through a planted symlink is refused")
    func nameNotAllowed() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.12", in: directory)
        let outside = directory.appendingPathComponent("outside")
        try FileManager.default.createDirectory(at: outside, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: daemon.spool.appendingPathComponent("evil"), withDestinationURL: outside)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 1_000)
        let push = try await ChildProcess.run("p2mpsend", ["push", "f.bin", daemon.target, "--name", "evil/f.bin"], in: directory)
        #expect(push.status == 1)
        #expect(push.stderr.contains { $0.contains("rejected (nameNotAllowed): 'evil/f.bin' resolves outside the spool") }, "\(push.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside.path).isEmpty)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a different file under an existing name is refused unless --replace")
    func existsWithDifferentContent() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.13", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("v1.bin"), bytes: 10_000)
        try Harness.randomFile(at: directory.appendingPathComponent("v2.bin"), bytes: 10_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "v1.bin", daemon.target, "--name", "app.bin"], in: directory).status == 0)
        let second = try await ChildProcess.run("p2mpsend", ["push", "v2.bin", daemon.target, "--name", "app.bin"], in: directory)
        #expect(second.status == 1)
        #expect(second.stderr.contains { $0.contains("rejected (existsWithDifferentContent): 'app.bin' exists with different content") }, "\(second.stderr)")
        #expect(try Data(contentsOf: daemon.file("app.bin")) == Data(contentsOf: directory.appendingPathComponent("v1.bin")))
        let replace = try await ChildProcess.run("p2mpsend", ["push", "v2.bin", daemon.target, "--name", "app.bin", "--replace"], in: directory)
        #expect(replace.status == 0)
        #expect(try Data(contentsOf: daemon.file("app.bin")) == Data(contentsOf: directory.appendingPathComponent("v2.bin")))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a daemon at its transfer limit answers busy")
    func busy() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.14", in: directory, configuration: "max_transfers = 1")
        try Harness.randomFile(at: directory.appendingPathComponent("slow.bin"), bytes: 1 << 20)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 1_000)
        // 1 Mbit/s: the slow push lasts about 8 s, time for the second one to start and be
        // answered even on a loaded machine (checked below, as setup).
        let slow = try ChildProcess("p2mpsend", ["push", "slow.bin", daemon.target, "--rate", "1M"], in: directory, label: "slow")
        try await daemon.waitForLog("receiving 'slow.bin'")
        let second = try await ChildProcess.run("p2mpsend", ["push", "f.bin", daemon.target], in: directory)
        try #require(
            second.status == 1 || slow.process.isRunning,
            "setup: the slow push ended before the second one was answered: \(second.stderr)")
        #expect(second.status == 1)
        #expect(second.stderr.contains { $0.contains("rejected (busy): 1 transfers already running") }, "\(second.stderr)")
        #expect(await slow.wait(timeout: 60) == 0)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("garbage, truncated, corrupted, unknown and replayed datagrams during a transfer change nothing")
    func hostileDatagrams() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.1.15", in: directory)
        let attacker = try RawUDPSender()

        // A small transfer of our own, whose datagrams are replayed later.
        let content = Array("replay me".utf8)
        let digest = try #require(ContentDigest(Self.sha256(content)))
        var offer: [UInt8] = []
        NativeDatagram(
            transferID: 0x0BAD_CAFE,
            packet: .offer(NativeOffer(segmentSize: 100, fileSize: UInt64(content.count), sha256: digest, window: 8, flags: [], name: "replayed.bin"))
        ).encode(into: &offer)
        var data: [UInt8] = []
        content.withUnsafeBytes { NativeDatagram.encodeData(transferID: 0x0BAD_CAFE, segment: 0, timestamp: 1, payload: $0, into: &data) }
        attacker.send(offer, to: daemon.address, port: daemon.port)
        try await daemon.waitForLog("receiving 'replayed.bin'")
        attacker.send(data, to: daemon.address, port: daemon.port)
        try await Condition.wait(for: "replayed.bin to be committed") {
            FileManager.default.fileExists(atPath: daemon.file("replayed.bin").path)
        }
        #expect(try Data(contentsOf: daemon.file("replayed.bin")) == Data(content))

        try Harness.randomFile(at: directory.appendingPathComponent("big.bin"), bytes: 8 << 20)
        let push = try ChildProcess("p2mpsend", ["push", "big.bin", daemon.target, "--rate", "40M"], in: directory, label: "push")
        var generator = TestRandom("hostile datagrams")
        for round in 0..<2_000 {
            let garbage = (0..<Int.random(in: 0...1_500, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            attacker.send(garbage, to: daemon.address, port: daemon.port)
            attacker.send(Array(data.prefix(round % data.count)), to: daemon.address, port: daemon.port)  // truncated
            var corrupted = data
            corrupted[round % corrupted.count] ^= 0x20
            attacker.send(corrupted, to: daemon.address, port: daemon.port)  // bad CRC
            var unknown: [UInt8] = []
            content.withUnsafeBytes {
                NativeDatagram.encodeData(transferID: UInt64.random(in: 1...UInt64.max, using: &generator), segment: UInt64(round), timestamp: 0, payload: $0, into: &unknown)
            }
            attacker.send(unknown, to: daemon.address, port: daemon.port)  // no such transfer
            if round % 100 == 0 {
                attacker.send(offer, to: daemon.address, port: daemon.port)  // replayed
                attacker.send(data, to: daemon.address, port: daemon.port)
            }
        }
        attacker.close()
        #expect(await push.wait(timeout: 120) == 0, "\(push.stderrLines)")
        #expect(try Data(contentsOf: daemon.file("big.bin")) == Data(contentsOf: directory.appendingPathComponent("big.bin")))
        #expect(try Data(contentsOf: daemon.file("replayed.bin")) == Data(content))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    static func sha256(_ bytes: [UInt8]) throws -> [UInt8] {
        let directory = try Harness.makeDirectory()
        let file = directory.appendingPathComponent("digest-input")
        try Data(bytes).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let hex = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64)
        try? FileManager.default.removeItem(at: directory)
        return try DocumentedHex.bytes(String(hex))
    }
}

enum DocumentedHex {
    static func bytes(_ hex: String) throws -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { throw CocoaError(.formatting) }
            result.append(byte)
            index = next
        }
        return result
    }
}

@Suite("Push exit status 3")
struct PushUnreachableTests {
    @Test("a push to receivers that never answer exits 3 and names them")
    func noReceiverAnswers() async throws {
        let directory = try Harness.makeDirectory()
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 1_000)
        let port = Harness.port()
        let push = try await ChildProcess.run(
            "p2mpsend", ["push", "f.bin", "127.0.3.41:\(port)", "127.0.3.42:\(port)", "--give-up", "1"], in: directory)
        #expect(push.status == 3)
        #expect(push.stderr.filter { $0.contains("no answer") && $0.contains("(offer)") }.count == 2, "\(push.stderr)")
        try? FileManager.default.removeItem(at: directory)
    }
}
