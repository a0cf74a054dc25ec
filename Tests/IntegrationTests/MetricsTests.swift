import Foundation
import P2MPWire
import Testing

/// p2mpd's Prometheus endpoint with real processes: what a scraper sees before, during and
/// after an authenticated push with simulated loss, and datagrams an attacker sends,
/// counted under their causes.
@Suite("metrics endpoint")
struct MetricsTests {
    @Test("a scrape during a push sees it under way; after it, the bytes, the transfer, the loss the sender was told and the stop line's own counts")
    func scrapeDuringPush() async throws {
        let directory = try Harness.makeDirectory()
        let key = try await SenderKey("sender", comment: "metrics@test", in: directory)
        let (host, metricsPort) = ("127.0.4.21", Harness.port())
        let lossSeed = 20_261_208
        print("metrics push: simulated loss 0.05, --loss-seed \(lossSeed)")
        let daemon = try await Daemon.trusting(
            [key.trusted()], address: host, in: directory,
            extra: ["--metrics-listen", "\(host):\(metricsPort)", "--loss", "0.05", "--loss-seed", "\(lossSeed)"])
        try await daemon.waitForLog("metrics on http://\(host):\(metricsPort)/metrics")
        let scrape = { try MetricsSample(host: host, port: metricsPort) }

        let before = try scrape()
        #expect(before["p2mpd_transfers_completed_total"] == 0)
        #expect(before["p2mpd_received_bytes_total"] == 0)
        #expect(before["p2mpd_datagrams_dropped_total{cause=\"not_authenticated\"}"] == 0)
        #expect(before.values.keys.contains { $0.hasPrefix("p2mpd_build_info{version=") })

        // 6 MiB at 16 Mbit/s: about 3 s, long enough for scrapes in the middle.
        let size = 6 << 20
        try Harness.randomFile(at: directory.appendingPathComponent("big.bin"), bytes: size)
        let push = try ChildProcess(
            "p2mpsend", ["push", "big.bin", daemon.target, "--rate", "16M", "--accept-new-host-keys", "--json"] + key.identity,
            in: directory, label: "push-big")
        var during: MetricsSample?
        try await Condition.wait(for: "a scrape while the push is under way") {
            let sample = try scrape()
            let bytes = sample["p2mpd_received_bytes_total"] ?? 0
            guard sample["p2mpd_transfers_active"] == 1, bytes > 0, bytes < Double(size) else { return false }
            during = sample
            return true
        }
        #expect(during?["p2mpd_transfers_completed_total"] == 0)
        #expect(during?["p2mpd_authenticated_sessions"] == 1)
        #expect(await push.wait(timeout: 60) == 0, "\(push.stderrLines)")
        try await daemon.waitForLog("received big.bin")

        let after = try scrape()
        #expect(after["p2mpd_received_bytes_total"] == Double(size))
        #expect(after["p2mpd_transfers_completed_total"] == 1)
        #expect(after["p2mpd_transfers_active"] == 0)
        #expect(after["p2mpd_handshakes_total{outcome=\"established\"}"] == 1)
        #expect(after["p2mpd_spool_partials"] == 0)
        #expect((after["p2mpd_datagrams_received_total"] ?? 0) >= Double(size / 9_000))

        // The segment counters are the totals of the transfer's loss events: the reception
        // report the sender got in COMPLETE, cause by cause.
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(push.stdoutLines.joined(separator: "\n").utf8)) as? [String: Any])
        let receivers = try #require(report["receivers"] as? [[String: Any]])
        let loss = try #require(receivers.first?["loss"] as? [String: Any], "\(report)")
        let causes = try #require(loss["causes"] as? [String: [String: Any]])
        func number(_ value: Any?) -> Double? { (value as? NSNumber)?.doubleValue }
        #expect(after["p2mpd_segments_received_total"] == number(loss["segments"]))
        #expect(after["p2mpd_segments_duplicate_total"] == number(loss["duplicate_segments"]))
        for cause in ["network", "simulated", "storage"] {
            #expect(after["p2mpd_segments_lost_total{cause=\"\(cause)\"}"] == number(causes[cause]?["lost_segments"]), "\(cause)")
            #expect(
                after["p2mpd_segments_repaired_total{cause=\"\(cause)\"}"] == number(causes[cause]?["repaired_segments"]), "\(cause)")
        }
        let simulated = after["p2mpd_segments_lost_total{cause=\"simulated\"}"] ?? 0
        #expect(simulated > 0, "5 % of about 700 segments discarded")
        #expect(after["p2mpd_datagrams_dropped_total{cause=\"simulated_loss\"}"] == simulated)
        #expect((after["p2mpd_retransmission_requests_total"] ?? 0) > 0, "the holes were asked for again")

        // What a sender without a session can send: a request in clear (which a daemon with
        // trusted senders does not serve) and a sealed datagram for a session it never had.
        let attacker = try RawUDPSender(bindAddress: "127.0.0.1")
        defer { attacker.close() }
        var clear: [UInt8] = []
        NativeDatagram(transferID: 7, packet: .list(cursor: 0)).encode(into: &clear)
        attacker.send(clear, to: host, port: daemon.port)
        var random = TestRandom("metrics forged datagram")
        attacker.send(ForgedAttackTests.guessed(.sealed, size: 200, random: &random), to: host, port: daemon.port)
        var attacked = after
        try await Condition.wait(for: "both datagrams counted under their causes") {
            attacked = try scrape()
            return attacked["p2mpd_datagrams_dropped_total{cause=\"not_authenticated\"}"] == 1
                && attacked["p2mpd_datagrams_dropped_total{cause=\"unknown_session\"}"] == 1
        }
        #expect(attacked["p2mpd_transfers_completed_total"] == 1, "nothing else moved")

        #expect(await daemon.stop() == 0)
        #expect(daemon.stopCounter("unknown session") == 1, "the stop line reads the same counter")
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("a push that stops half way fails after idle_timeout: counted under reason idle, the partial held; a damaged datagram and one for no transfer under their causes")
    func failureByReason() async throws {
        let directory = try Harness.makeDirectory()
        let (host, metricsPort) = ("127.0.4.22", Harness.port())
        let daemon = try await Daemon(
            address: host, in: directory, configuration: "idle_timeout = 1\nmetrics_listen = \"\(host):\(metricsPort)\"\n")
        try await daemon.waitForLog("metrics on http://")
        try Harness.randomFile(at: directory.appendingPathComponent("half.bin"), bytes: 4 << 20)
        let push = try ChildProcess("p2mpsend", ["push", "half.bin", daemon.target, "--rate", "8M"], in: directory, label: "push-half")
        try await Condition.wait(for: "the push under way") {
            (try MetricsSample(host: host, port: metricsPort)["p2mpd_received_bytes_total"] ?? 0) > 0
        }
        kill(push.process.processIdentifier, SIGKILL)
        _ = await push.wait(timeout: 10)
        try await daemon.waitForLog("ended: sender silent")
        let sample = try MetricsSample(host: host, port: metricsPort)
        #expect(sample["p2mpd_transfers_failed_total{reason=\"idle\"}"] == 1)
        #expect(sample["p2mpd_transfers_failed_total{reason=\"storage\"}"] == 0)
        #expect(sample["p2mpd_transfers_active"] == 0)
        #expect(sample["p2mpd_spool_partials"] == 1, "kept for a resume")

        // From loopback without trusted senders, datagrams in clear reach the endpoint: one
        // with a damaged CRC-32C, and a PROBE for a transfer that does not exist.
        let sender = try RawUDPSender(bindAddress: "127.0.0.1")
        defer { sender.close() }
        var damaged: [UInt8] = []
        NativeDatagram(transferID: 9, packet: .list(cursor: 0)).encode(into: &damaged)
        damaged[damaged.count - 1] ^= 0xFF
        sender.send(damaged, to: host, port: daemon.port)
        var probe: [UInt8] = []
        NativeDatagram(transferID: 0xDEAD_BEEF, packet: .probe).encode(into: &probe)
        sender.send(probe, to: host, port: daemon.port)
        try await Condition.wait(for: "both datagrams counted under their causes") {
            let dropped = try MetricsSample(host: host, port: metricsPort)
            return dropped["p2mpd_datagrams_dropped_total{cause=\"bad_checksum\"}"] == 1
                && dropped["p2mpd_datagrams_dropped_total{cause=\"unknown_transfer\"}"] == 1
        }
        #expect(await daemon.stop() == 0)
        #expect(daemon.stopCounter("bad checksum") == 1, "the stop line reads the same counter")
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("only GET and HEAD of /metrics: other paths 404, other methods 405; a bad metrics_listen stops p2mpd at start")
    func httpSurface() async throws {
        let directory = try Harness.makeDirectory()
        let (host, metricsPort) = ("127.0.4.23", Harness.port())
        let daemon = try await Daemon(address: host, in: directory, extra: ["--metrics-listen", "\(host):\(metricsPort)"])
        try await daemon.waitForLog("metrics on http://")
        let head = try HTTPProbe.request("/metrics", method: "HEAD", host: host, port: metricsPort)
        #expect(head.status == 200 && head.body.isEmpty)
        #expect(head.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
        #expect(try HTTPProbe.request("/", host: host, port: metricsPort).status == 404)
        #expect(try HTTPProbe.request("/metrics/../x", host: host, port: metricsPort).status == 404)
        #expect(try HTTPProbe.request("/metrics?name=x", host: host, port: metricsPort).status == 200)
        let post = try HTTPProbe.request("/metrics", method: "POST", host: host, port: metricsPort)
        #expect(post.status == 405 && post.headers["allow"] == "GET, HEAD")

        // The same TCP port taken: p2mpd says so and exits 1 instead of running without metrics.
        let second = try await ChildProcess.run(
            "p2mpd", ["--listen", "127.0.4.24:\(Harness.port())", "--spool", directory.appendingPathComponent("other").path,
                      "--metrics-listen", "\(host):\(metricsPort)"], in: directory)
        #expect(second.status == 1)
        #expect(second.stderr.contains { $0.contains("cannot serve metrics on \(host):\(metricsPort)") }, "\(second.stderr)")
        let invalid = try await ChildProcess.run("p2mpd", ["--check-config", "--metrics-listen", "localhost:9735"], in: directory)
        #expect(invalid.status == 1)
        #expect(invalid.stderr.contains { $0.contains("'--metrics-listen' (\"localhost:9735\")") }, "\(invalid.stderr)")
        #expect(await daemon.stop() == 0)
        try? FileManager.default.removeItem(at: directory)
    }
}
