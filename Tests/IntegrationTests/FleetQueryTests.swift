import Foundation
import P2MPWire
import Testing

/// `p2mpsend ls`, `mv` and `rm` against real daemons.
@Suite("Fleet queries over loopback")
struct FleetQueryTests {
    @Test("ls merges several hosts, shows a down host, and mv/rm obey manage_allow")
    func listMoveRemove() async throws {
        let directory = try Harness.makeDirectory()
        let managed = try await Daemon(address: "127.0.3.1", in: directory, configuration: "manage_allow = [\"127.0.0.0/8\"]")
        let locked = try await Daemon(address: "127.0.3.2", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("a.bin"), bytes: 10_000)
        try Harness.randomFile(at: directory.appendingPathComponent("b.bin"), bytes: 20_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "a.bin", managed.target, locked.target], in: directory).status == 0)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "b.bin", managed.target, "--name", "dir/b.bin"], in: directory).status == 0)

        let one = try await ChildProcess.run("p2mpsend", ["ls", managed.target], in: directory)
        #expect(one.status == 0)
        #expect(one.stdout.first?.hasPrefix("NAME") == true)
        #expect(one.stdout.contains { $0.hasPrefix("a.bin") && $0.contains("10000") })
        #expect(one.stdout.contains { $0.hasPrefix("dir/b.bin") && $0.contains("20000") })

        let silent = "127.0.3.9:\(Harness.port())"
        let merged = try await ChildProcess.run("p2mpsend", ["ls", managed.target, locked.target, silent, "--timeout", "1"], in: directory)
        #expect(merged.status == 1, "a down host makes ls exit 1")
        #expect(merged.stdout.contains { $0.hasPrefix("a.bin") && $0.hasSuffix("all 3") == false && $0.contains("\(managed.target),\(locked.target)") })
        #expect(merged.stdout.contains { $0.hasPrefix("dir/b.bin") && $0.hasSuffix(managed.target) })
        #expect(merged.stdout.contains { $0 == "\(silent)  down: no answer in 1.0 s" })

        let moved = try await ChildProcess.run("p2mpsend", ["mv", managed.target, "a.bin", "archive/a.bin"], in: directory)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(FileManager.default.fileExists(atPath: managed.file("archive/a.bin").path))
        #expect(!FileManager.default.fileExists(atPath: managed.file("a.bin").path))
        let relisted = try await ChildProcess.run("p2mpsend", ["ls", managed.target], in: directory)
        #expect(relisted.stdout.contains { $0.hasPrefix("archive/a.bin") })

        let refused = try await ChildProcess.run("p2mpsend", ["rm", locked.target, "a.bin"], in: directory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains { $0.contains("refused: mv and rm are not allowed from 127.0.0.1 (see manage_allow)") }, "\(refused.stderr)")
        #expect(FileManager.default.fileExists(atPath: locked.file("a.bin").path))

        let removed = try await ChildProcess.run("p2mpsend", ["rm", managed.target, "dir/b.bin"], in: directory)
        #expect(removed.status == 0)
        #expect(!FileManager.default.fileExists(atPath: managed.file("dir/b.bin").path))
        let missing = try await ChildProcess.run("p2mpsend", ["rm", managed.target, "dir/b.bin"], in: directory)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains { $0.contains("notFound: no such file") })
        // p2mpsend checks names as the daemon does, before anything is sent (the daemon's own
        // check is SpoolName's, unit-tested and fuzzed).
        let escape = try await ChildProcess.run("p2mpsend", ["mv", managed.target, "archive/a.bin", "../outside"], in: directory)
        #expect(escape.status == 2)
        #expect(escape.stderr.contains { $0.contains("NEW '../outside' is not a name a receiver accepts") }, "\(escape.stderr)")

        let nobody = try await ChildProcess.run("p2mpsend", ["ls", silent, "--timeout", "0.5"], in: directory)
        #expect(nobody.status == 3)
        #expect(await managed.stop() == 0)
        #expect(await locked.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}

@Suite("Fetching with get")
struct GetTests {
    @Test("get fetches several names at once, SHA-256 verified, and names a missing one")
    func getSeveral() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.3.21", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("big.bin"), bytes: 16 << 20)
        try Harness.randomFile(at: directory.appendingPathComponent("small.bin"), bytes: 3_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "big.bin", daemon.target], in: directory).status == 0)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "small.bin", daemon.target, "--name", "dir/small.bin"], in: directory).status == 0)
        let out = directory.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let get = try await ChildProcess.run(
            "p2mpsend", ["get", daemon.target, "big.bin", "dir/small.bin", "-o", out.path], in: directory, timeout: 120)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: out.appendingPathComponent("big.bin")) == Data(contentsOf: directory.appendingPathComponent("big.bin")))
        #expect(try Data(contentsOf: out.appendingPathComponent("small.bin")) == Data(contentsOf: directory.appendingPathComponent("small.bin")))
        #expect(get.stdout.contains { $0.contains("SHA-256 verified") })

        let missing = try await ChildProcess.run("p2mpsend", ["get", daemon.target, "nothere", "-o", out.appendingPathComponent("x").path], in: directory)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains { $0.contains("nothere: notFound: no such file") })
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("x").path))
        let nobody = try await ChildProcess.run("p2mpsend", ["get", "127.0.3.29:\(Harness.port())", "a", "--timeout", "0.5"], in: directory)
        #expect(nobody.status == 3)
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a GET is answered by OFFERs under a random id, repeated GETs by the same session, and no DATA without an ACCEPT")
    func getFromForgedSource() async throws {
        // A GET whose source address was forged reaches its victim only as OFFERs: the data
        // waits for an ACCEPT echoing a transfer id that the forger cannot predict.
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "127.0.3.22", in: directory)
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 1 << 20)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "f.bin", daemon.target], in: directory).status == 0)
        var get: [UInt8] = []
        NativeDatagram(transferID: 0x0123_4567_89AB_CDEF, packet: .get(name: "f.bin")).encode(into: &get)

        var offerIDs: [Set<UInt64>] = []
        for victim in ["127.0.3.23", "127.0.3.24"] {
            let socket = try RawUDPSender(bindAddress: victim)
            defer { socket.close() }
            for _ in 0..<3 { socket.send(get, to: daemon.address, port: daemon.port) }
            // The first OFFER and its first repetition (after the offer's retransmission
            // timeout): had DATA followed an unanswered OFFER, it would be among them.
            let replies = socket.receive(count: 2).compactMap { bytes in
                bytes.withUnsafeBytes { try? NativeDatagram.decode($0) }
            }
            #expect(replies.count == 2)
            #expect(replies.allSatisfy { if case .offer = $0.packet { true } else { false } }, "\(replies.map(\.packet))")
            offerIDs.append(Set(replies.map(\.transferID)))
        }
        // One session per GET, however often it is repeated, and the same request id from
        // another address gets another, unrelated id.
        #expect(offerIDs.map(\.count) == [1, 1])
        #expect(offerIDs[0].isDisjoint(with: offerIDs[1]))
        #expect(!offerIDs[0].contains(0x0123_4567_89AB_CDEF))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
