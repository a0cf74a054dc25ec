import Foundation
import Testing

/// The real binaries over IPv6 loopback, and a daemon on both families at once.
@Suite("IPv6 over ::1")
struct IPv6Tests {
    @Test("push (from a fleet file), ls and get over [::1]")
    func pushListGet() async throws {
        let directory = try Harness.makeDirectory()
        let daemon = try await Daemon(address: "[::1]", in: directory)
        // 2 MiB: many full-size datagrams, sent in segmented (GSO) batches where supported.
        let input = directory.appendingPathComponent("input.bin")
        try Harness.randomFile(at: input, bytes: 2 << 20)
        let fleet = directory.appendingPathComponent("hosts")
        try "# one IPv6 receiver\n\(daemon.target)\n".write(to: fleet, atomically: true, encoding: .utf8)

        let push = try await ChildProcess.run("p2mpsend", ["push", "input.bin", "--fleet", fleet.path], in: directory, timeout: 60)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains { $0.contains("\(daemon.target)  complete") }, "\(push.stdout)")
        #expect(try Data(contentsOf: daemon.file("input.bin")) == Data(contentsOf: input))
        #expect(daemon.child.stderrLines.contains { $0.contains("received input.bin") && $0.contains("from [::1]:") })

        let list = try await ChildProcess.run("p2mpsend", ["ls", daemon.target], in: directory)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.contains { $0.hasPrefix("input.bin") && $0.contains("\(2 << 20)") }, "\(list.stdout)")

        let copy = directory.appendingPathComponent("copy.bin")
        let get = try await ChildProcess.run("p2mpsend", ["get", daemon.target, "input.bin", "-o", copy.path], in: directory, timeout: 60)
        #expect(get.status == 0, "\(get.stderr)")
        #expect(try Data(contentsOf: copy) == Data(contentsOf: input))
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("the seed protocol over ::1 with p = 0.1 delivers an identical copy")
    func seedTransfer() async throws {
        let directory = try Harness.makeDirectory()
        let input = directory.appendingPathComponent("input.bin")
        try Harness.randomFile(at: input, bytes: 512 * 1024)
        let port = Harness.port()
        let receiver = try ChildProcess(
            "p2mpd", ["\(port)", "out.bin", "0.1", "--bind", "::1", "--linger", "1"], in: directory, label: "receiver")
        try await Condition.udpBound("::1", port: port, by: receiver)
        let sender = try await ChildProcess.run("p2mpsend", ["::1", "\(port)", "input.bin", "1000"], in: directory, timeout: 120)
        #expect(sender.status == 0, "sender: \(sender.stderr)")
        #expect(await receiver.wait(timeout: 30) == 0, "receiver: \(receiver.stderrLines)")
        #expect(try Data(contentsOf: directory.appendingPathComponent("out.bin")) == Data(contentsOf: input))
        #expect(receiver.stdoutLines.contains { $0.hasPrefix("Packet loss, sequence number = ") })
        #expect(receiver.stdoutLines.contains { $0.hasPrefix("Received 524288 bytes from [::1]:") }, "\(receiver.stdoutLines)")
        #expect(sender.stdout.contains { $0.hasPrefix("Sent 524288 bytes to 1 receiver") })
        #expect(sender.stdout.contains { $0.hasPrefix("Timeout, sequence number = ") })
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("one daemon listens on 0.0.0.0 and [::] (config 'listen') and takes pushes over both")
    func bothFamilies() async throws {
        let directory = try Harness.makeDirectory()
        let port = Harness.port()
        let daemon = try await Daemon(
            address: "127.0.0.1", in: directory, configuration: "listen = [\"0.0.0.0:\(port)\", \"[::]:\(port)\"]",
            port: port, listenFlag: false)
        #expect(daemon.child.stderrLines.contains { $0.contains("listening on 0.0.0.0:\(port), [::]:\(port),") })
        let v4 = daemon.target
        let v6 = "[::1]:\(port)"
        try Harness.randomFile(at: directory.appendingPathComponent("four.bin"), bytes: 300_000)
        try Harness.randomFile(at: directory.appendingPathComponent("six.bin"), bytes: 200_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "four.bin", v4], in: directory).status == 0)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "six.bin", v6], in: directory).status == 0)
        let log = daemon.child.stderrLines
        #expect(log.contains { $0.contains("received four.bin") && $0.contains("from 127.0.0.1:") }, "\(log)")
        #expect(log.contains { $0.contains("received six.bin") && $0.contains("from [::1]:") }, "\(log)")
        for name in ["four.bin", "six.bin"] {
            #expect(try Data(contentsOf: daemon.file(name)) == Data(contentsOf: directory.appendingPathComponent(name)))
        }
        // The same spool seen through either family: one merged table, both rows on both.
        let list = try await ChildProcess.run("p2mpsend", ["ls", v4, v6], in: directory)
        #expect(list.status == 0, "\(list.stderr)")
        #expect(list.stdout.filter { $0.hasSuffix("all 2") }.count == 2, "\(list.stdout)")
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("allow and manage_allow match IPv6 peers: ::1/128 admits [::1], an IPv4 network does not")
    func networksOfIPv6Peers() async throws {
        let directory = try Harness.makeDirectory()
        let open = try await Daemon(
            address: "[::1]", in: directory, configuration: "allow = [\"::1/128\"]\nmanage_allow = [\"::1/128\"]")
        let closed = try await Daemon(address: "[::1]", in: directory, configuration: "allow = [\"127.0.0.0/8\"]")
        try Harness.randomFile(at: directory.appendingPathComponent("f.bin"), bytes: 10_000)
        #expect(try await ChildProcess.run("p2mpsend", ["push", "f.bin", open.target], in: directory).status == 0)
        let removed = try await ChildProcess.run("p2mpsend", ["rm", open.target, "f.bin"], in: directory)
        #expect(removed.status == 0, "\(removed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: open.file("f.bin").path))

        let refused = try await ChildProcess.run("p2mpsend", ["push", "f.bin", closed.target], in: directory)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains { $0.contains("rejected") && $0.contains("not allowed") }, "\(refused.stderr)")
        let list = try await ChildProcess.run("p2mpsend", ["ls", closed.target], in: directory)
        #expect(list.stderr.contains("p2mpsend: \(closed.target): listing is not allowed from ::1 (see allow)"), "\(list.stderr)")
        #expect(await open.stop() == 0)
        #expect(await closed.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
