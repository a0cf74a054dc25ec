import Foundation
import Testing

/// A p2mpd daemon on a loopback address with its own spool, for one test.
final class Daemon: @unchecked Sendable {
    let address: String
    let port: Int
    let spool: URL
    let child: ChildProcess

    /// Starts `p2mpd --listen ADDRESS:PORT --spool DIR [extra]`, with a configuration file
    /// holding `configuration` when given, and waits until it logged that it listens.
    /// `address` is an IPv4 address or a bracketed IPv6 one (`[::1]`). With `listenFlag`
    /// false there is no `--listen`: the configuration says where to listen, and `address`
    /// and `port` are where the test reaches it. With `relativePaths` the default spool and
    /// the configuration file are named relative to `directory`, p2mpd's working directory.
    /// With `namespace`, p2mpd runs in that network namespace (`ip netns exec`).
    init(
        address: String, in directory: URL, configuration: String? = nil, extra: [String] = [], port: Int? = nil,
        spool: URL? = nil, listenFlag: Bool = true, relativePaths: Bool = false, namespace: NetworkNamespace? = nil
    ) async throws {
        self.address = address
        let port = port ?? Harness.port()
        self.port = port
        let spoolName = "spool-\(address)-\(port)"
        let spool = spool ?? directory.appendingPathComponent(spoolName)
        self.spool = spool
        var arguments = (listenFlag ? ["--listen", "\(address):\(port)"] : [])
        arguments += ["--spool", relativePaths ? "./\(spoolName)" : spool.path]
        if let configuration {
            let file = directory.appendingPathComponent("p2mpd-\(port).toml")
            try configuration.write(to: file, atomically: true, encoding: .utf8)
            arguments += ["--config", relativePaths ? file.lastPathComponent : file.path]
        }
        let (program, prefix) = namespace?.launcher(for: "p2mpd") ?? ("p2mpd", [])
        child = try ChildProcess(program, prefix + arguments + extra, in: directory, label: "p2mpd-\(address)-\(port)-\(UUID().uuidString)")
        let child = self.child
        try await Condition.wait(for: "p2mpd to log 'listening on'", timeout: 30) {
            guard child.process.isRunning else { throw DaemonError.didNotStart(child.stderrLines) }
            return child.stderrLines.contains { $0.contains("listening on") }
        }
    }

    /// Waits until the daemon logged a line containing `text`.
    func waitForLog(_ text: String, timeout: Double = 60) async throws {
        let child = self.child
        try await Condition.wait(for: "p2mpd to log '\(text)'", timeout: timeout) {
            child.stderrLines.contains { $0.contains(text) }
        }
    }

    /// The largest prefix a partial of the spool records as received and durable (its
    /// `.state` file, written every 8 MiB hashed), or 0 when there is none.
    func recordedPrefix() -> UInt64 {
        let directory = spool.appendingPathComponent(".p2mp/partial")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".state") }.compactMap { name -> UInt64? in
            let text = try? String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            let line = text?.split(separator: "\n").first { $0.hasPrefix("prefix ") }
            return line.flatMap { UInt64($0.dropFirst("prefix ".count)) }
        }.max() ?? 0
    }

    /// Bytes the partials' data files hold: space is allocated only as DATA arrives, so more
    /// than zero means a push in progress has been sent data (and will keep its partial).
    func partialDataBytes() -> UInt64 {
        let directory = spool.appendingPathComponent(".p2mp/partial")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasSuffix(".state") }.reduce(0) { total, name in
            let attributes = try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)
            return total + ((attributes?[.size] as? NSNumber)?.uint64Value ?? 0)
        }
    }

    var target: String { "\(address):\(port)" }

    func file(_ name: String) -> URL { spool.appendingPathComponent(name) }

    /// Kills with SIGKILL, as a crash would.
    func crash() async {
        kill(child.process.processIdentifier, SIGKILL)
        _ = await child.wait(timeout: 10)
    }

    /// Stops with SIGTERM and returns the exit status.
    func stop() async -> Int32? {
        child.process.terminate()
        return await child.wait(timeout: 10)
    }

    enum DaemonError: Error { case didNotStart([String]) }
}
