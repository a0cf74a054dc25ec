import Foundation
import Testing

/// Loss events of real pushes (issue 21): what p2mpd logs as `P2MP_EVENT=loss` is the loss
/// the path caused, counted by someone else (nftables), at most once per interval.
@Suite("Loss events of real pushes")
struct PathLossTests {
    /// Loss events and the closing event of a daemon's stderr.
    struct Logged {
        var losses: [[String: String]]
        /// The seconds-resolution timestamp of each loss event, by cause.
        var lossTimes: [String: [String]] = [:]
        var complete: [String: String]?

        init(_ lines: [String]) {
            let lossLines = lines.filter { LogFields.parse($0)["p2mp_event"] == "loss" }
            losses = lossLines.map(LogFields.parse)
            for (line, fields) in zip(lossLines, losses) {
                lossTimes[fields["p2mp_loss_cause"] ?? "?", default: []].append(String(line.prefix { $0 != " " }))
            }
            complete = lines.map(LogFields.parse).first { $0["p2mp_event"] == "complete" }
        }

        func sum(_ field: String, cause: String? = nil) -> Int {
            losses.filter { cause == nil || $0["p2mp_loss_cause"] == cause }.reduce(0) { $0 + (Int($1[field] ?? "") ?? 0) }
        }
    }

    @Test(
        "64 MiB over a path that drops 2 % of the datagrams: the loss events add up to what nftables dropped, one per interval at most",
        .enabled(if: NetworkNamespace.lossyPathUnavailableReason == nil, "needs root, network namespaces, nft and ethtool"))
    func lossyPath() async throws {
        let namespace = try await NetworkNamespace(address: nil, prefix: "loss-")
        defer { namespace.delete() }
        try namespace.disableOffloads()
        let directory = try Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try namespace.dropUDP(toPort: 7735, percent: 2)
        let daemon = try await Daemon(
            address: "127.0.0.1", in: directory, configuration: "loss_event_interval = 1", port: 7735, namespace: namespace)
        let input = directory.appendingPathComponent("image.bin")
        try Harness.randomFile(at: input, bytes: 64 << 20)
        // 1,400-byte segments, as on an Ethernet path: about 48,000 datagrams. The rate cap
        // (10 MB/s) makes the push last about 7 loss intervals.
        let (p2mpsend, inside) = namespace.launcher(for: "p2mpsend")
        let started = Date()
        let push = try await ChildProcess.run(
            p2mpsend, inside + ["push", "image.bin", daemon.target, "--json", "--segment-size", "1400", "--rate", "80M"],
            in: directory, timeout: 120)
        let seconds = Date().timeIntervalSince(started)
        #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
        #expect(try Data(contentsOf: daemon.file("image.bin")) == Data(contentsOf: input))
        let dropped = try namespace.droppedDatagrams()
        let overflowed = try namespace.receiveBufferErrors()
        #expect(await daemon.stop() == 0)

        let logged = Logged(daemon.child.stderrLines)
        let lost = logged.sum("p2mp_lost_segments")
        let network = logged.sum("p2mp_lost_segments", cause: "network")
        print(
            "lossyPath: nftables dropped \(dropped) datagrams, socket buffers \(overflowed); p2mpd logged \(lost) lost "
                + "(\(network) network) in \(logged.losses.count) loss events over \(String(format: "%.1f", seconds)) s")
        // The path loses (network); a spool that falls behind on a busy machine drops too
        // (storage), and says so.
        #expect(Set(logged.lossTimes.keys).isSubset(of: ["network", "storage"]), "\(logged.lossTimes.keys)")
        #expect(dropped > 500, "2 % of about 48,000 datagrams")
        // What the daemon cannot see: a retransmission dropped again (2 % of the drops), and
        // drops of OFFERs and PROBEs. Within 10 % of what was dropped.
        #expect(abs(network - (dropped + overflowed)) * 10 <= dropped + overflowed, "\(network) lost, \(dropped + overflowed) dropped")

        // At most one per cause and interval: a second holds no two events of a cause but
        // for the last, which comes with the end of the transfer; so no more than the
        // push's seconds, plus it.
        for (cause, times) in logged.lossTimes {
            #expect(Set(times.dropLast()).count == times.count - 1, "\(cause): \(times)")
            #expect(times.count <= Int(seconds) + 2, "\(cause)")
        }
        #expect(logged.lossTimes["network", default: []].count >= 3, "a push of several intervals logs several events")

        // The closing event's totals are the sum of the loss events, and the sender shows
        // the same, as the receiver reported it in COMPLETE.
        let complete = try #require(logged.complete)
        #expect(complete["p2mp_lost_segments"] == "\(lost)")
        #expect(complete["p2mp_repaired_segments"] == "\(logged.sum("p2mp_repaired_segments"))")
        let report = try JSONSerialization.jsonObject(with: Data(push.stdout.joined(separator: "\n").utf8)) as? [String: Any]
        let loss = ((report?["receivers"] as? [[String: Any]])?.first?["loss"]) as? [String: Any]
        #expect(loss?["lost_segments"] as? Int == lost, "\(String(describing: loss))")
        #expect(loss?["segments"] as? Int == Int(complete["p2mp_segments"] ?? ""))
    }

    @Test("a push over a path that loses nothing logs no loss event")
    func lossFreePath() async throws {
        let directory = try Harness.makeDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let daemon = try await Daemon(address: "127.0.4.21", in: directory, configuration: "loss_event_interval = 1")
        try Harness.randomFile(at: directory.appendingPathComponent("clean.bin"), bytes: 16 << 20)
        // Loopback loses nothing, and at 10 MB/s the spool keeps up even on a busy machine
        // (unthrottled, a starved daemon drops DATA itself, rightly logged as storage loss).
        let push = try await ChildProcess.run(
            "p2mpsend", ["push", "clean.bin", daemon.target, "--json", "--rate", "80M"], in: directory, timeout: 120)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(await daemon.stop() == 0)
        let logged = Logged(daemon.child.stderrLines)
        #expect(logged.losses.isEmpty, "\(logged.losses)")
        #expect(logged.complete?["p2mp_lost_segments"] == "0")
        #expect((logged.complete?["p2mp_segments"]).flatMap { Int($0) } ?? 0 > 0)
        let report = try JSONSerialization.jsonObject(with: Data(push.stdout.joined(separator: "\n").utf8)) as? [String: Any]
        let loss = ((report?["receivers"] as? [[String: Any]])?.first?["loss"]) as? [String: Any]
        #expect(loss?["lost_segments"] as? Int == 0)
    }
}
