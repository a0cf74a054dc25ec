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
    init(
        address: String, in directory: URL, configuration: String? = nil, extra: [String] = [], port: Int? = nil,
        spool: URL? = nil, listenFlag: Bool = true, relativePaths: Bool = false
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
        child = try ChildProcess("p2mpd", arguments + extra, in: directory, label: "p2mpd-\(address)-\(port)-\(UUID().uuidString)")
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline, child.process.isRunning, !child.stderrLines.contains(where: { $0.contains("listening on") }) {
            try await Task.sleep(for: .milliseconds(20))
        }
        guard child.stderrLines.contains(where: { $0.contains("listening on") }) else {
            throw DaemonError.didNotStart(child.stderrLines)
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
