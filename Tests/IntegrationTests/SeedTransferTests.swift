import Foundation
import P2MPWire
import Testing

/// The seed command lines over real loopback sockets.
@Suite("Seed transfers over loopback")
struct SeedTransferTests {
    /// The sequence number of an exact `PREFIX, sequence number = N` line, or nil.
    static func sequenceNumber(in line: String, after prefix: String) -> Int? {
        let lead = "\(prefix), sequence number = "
        guard line.hasPrefix(lead) else { return nil }
        let digits = line.dropFirst(lead.count)
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }

    @Test("three receivers on 127.0.0.1/2/3 with p = 0.1 get byte-identical copies of 2 MiB")
    func threeReceiversWithLoss() async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("input.bin")
        try Harness.randomFile(at: input, bytes: 2 * 1024 * 1024)
        let port = Harness.port()
        let hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
        let receivers = try hosts.enumerated().map { index, host in
            try ChildProcess(
                "p2mpd", ["\(port)", "out\(index).bin", "0.1", "--bind", host, "--linger", "1"], in: directory,
                label: "receiver\(index)")
        }
        for (host, receiver) in zip(hosts, receivers) { try await Condition.udpBound(host, port: port, by: receiver) }
        let sender = try await ChildProcess.run("p2mpsend", hosts + ["\(port)", "input.bin", "1000"], in: directory, timeout: 120)
        #expect(sender.status == 0, "sender: \(sender.stderr)")

        let segments = 2 * 1024 * 1024 / 1000 + 1
        let expected = try Data(contentsOf: input)
        var losses = 0
        for (index, receiver) in receivers.enumerated() {
            #expect(await receiver.wait(timeout: 30) == 0, "receiver \(index): \(receiver.stderrLines)")
            #expect(try Data(contentsOf: directory.appendingPathComponent("out\(index).bin")) == expected)
            let lossLines = receiver.stdoutLines.filter { $0.hasPrefix("Packet loss") }
            for line in lossLines {
                let sequence = try #require(Self.sequenceNumber(in: line, after: "Packet loss"), "unparsable: \(line)")
                #expect(sequence <= segments)
            }
            #expect(!lossLines.isEmpty, "receiver \(index) reported no simulated loss at p = 0.1")
            losses += lossLines.count
        }
        let timeoutLines = sender.stdout.filter { $0.hasPrefix("Timeout") }
        for line in timeoutLines {
            let sequence = try #require(Self.sequenceNumber(in: line, after: "Timeout"), "unparsable: \(line)")
            #expect(sequence <= segments)
        }
        // Every discarded packet goes unacknowledged, so it costs the sender one timeout.
        #expect(timeoutLines.count >= losses)
        #expect(sender.stdout.contains { $0.hasPrefix("Sent 2097152 bytes to 3 receivers") })
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("corrupted, truncated and foreign datagrams during a transfer change nothing")
    func junkDuringTransfer() async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("input.bin")
        try Harness.randomFile(at: input, bytes: 1024 * 1024)
        let port = Harness.port()
        let receiver = try ChildProcess(
            "p2mpd", ["\(port)", "out.bin", "0.05", "--bind", "127.0.0.4", "--linger", "1"], in: directory, label: "receiver")
        try await Condition.udpBound("127.0.0.4", port: port, by: receiver)
        let sender = try ChildProcess("p2mpsend", ["127.0.0.4", "\(port)", "input.bin", "500"], in: directory, label: "sender")

        // Wait until the receiver has accepted data (its temporary file grows), then attack.
        try await Condition.wait(for: "the receiver's temporary file to grow") {
            let partials = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasPrefix(".out.bin.p2mp-") }
            let sizes = partials.compactMap { try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent($0).path)[.size] as? Int }
            return sizes.contains { $0 > 0 }
        }
        try #require(sender.process.isRunning, "setup: the transfer ended before the junk could be sent")
        let attacker = try RawUDPSender()
        var forged: [UInt8] = []
        Array(repeating: UInt8(0x41), count: 500).withUnsafeBytes {
            ClassicPacket.encodeData(sequence: 1, payload: $0, into: &forged)
        }
        for round in 0..<200 {
            var corrupted = forged
            corrupted[8 + round % 500] ^= 0x10
            attacker.send(corrupted, to: "127.0.0.4", port: port)  // bad checksum
            attacker.send(Array(forged.prefix(round % 8)), to: "127.0.0.4", port: port)  // truncated header
            attacker.send(Array(forged.prefix(8 + round % 400)), to: "127.0.0.4", port: port)  // truncated payload
            attacker.send(forged, to: "127.0.0.4", port: port)  // valid, but not from the sender
            attacker.send(ClassicPacket.encodeAck(sequence: UInt32(round)), to: "127.0.0.4", port: port)
            attacker.send([0, 0, 0, 1, 0, 0, 0x12, 0x34, 1, 2, 3], to: "127.0.0.4", port: port)  // unknown type
        }
        attacker.close()

        #expect(await sender.wait(timeout: 120) == 0, "sender: \(sender.stderrLines)")
        #expect(await receiver.wait(timeout: 30) == 0, "receiver: \(receiver.stderrLines)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("out.bin")) == Data(contentsOf: input))
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("empty files, exact multiples of MSS and datagrams near the UDP limit arrive intact",
          arguments: [(0, 1000), (1, 1000), (999, 1000), (3000, 1000), (200_000, 65_499)])
    func edgeSizes(bytes: Int, mss: Int) async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("input.bin")
        try Harness.randomFile(at: input, bytes: bytes)
        let port = Harness.port()
        let receiver = try ChildProcess(
            "p2mpd", ["\(port)", "out.bin", "0", "--bind", "127.0.0.5", "--linger", "0.5"], in: directory, label: "receiver")
        try await Condition.udpBound("127.0.0.5", port: port, by: receiver)
        let sender = try await ChildProcess.run("p2mpsend", ["127.0.0.5", "\(port)", "input.bin", "\(mss)"], in: directory)
        #expect(sender.status == 0, "sender: \(sender.stderr)")
        #expect(await receiver.wait(timeout: 30) == 0)
        #expect(try Data(contentsOf: directory.appendingPathComponent("out.bin")) == Data(contentsOf: input))
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a receiver that never answers is given up on, named, and the others still complete")
    func silentReceiver() async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("input.bin")
        try Harness.randomFile(at: input, bytes: 20_000)
        let port = Harness.port()
        let receiver = try ChildProcess(
            "p2mpd", ["\(port)", "out.bin", "0", "--bind", "127.0.0.6", "--linger", "0.5"], in: directory, label: "receiver")
        try await Condition.udpBound("127.0.0.6", port: port, by: receiver)
        // Nothing listens on 127.0.0.7 at this port. (A sender that did not give up would
        // run into the run's 30 s bound and fail with status nil.)
        let sender = try await ChildProcess.run(
            "p2mpsend", ["127.0.0.6", "127.0.0.7", "\(port)", "input.bin", "1000", "--give-up", "1"], in: directory)
        #expect(sender.status == 1)
        #expect(sender.stderr.contains { $0.contains("127.0.0.7") && $0.contains("failed") }, "\(sender.stderr)")
        #expect(await receiver.wait(timeout: 30) == 0)
        #expect(try Data(contentsOf: directory.appendingPathComponent("out.bin")) == Data(contentsOf: input))
        try? FileManager.default.removeItem(at: directory)
    }
}
