import Foundation

/// A lossy path in a namespace of the test's own (made with the prefix `loss-`): nftables
/// drops a share of the UDP datagrams that reach one port, and counts them, so what the
/// daemon reports can be compared with what was dropped. Offloads go off on the
/// namespace's loopback first, so that nftables sees (and drops) datagrams one by one, not
/// segmented super-packets (GSO/GRO). Nothing outside the namespace is touched.
extension NetworkNamespace {
    /// Why such a path cannot be made here, or nil when it can: probed once in a throw-away
    /// namespace (`unshare --net`), which leaves nothing behind.
    static let lossyPathUnavailableReason: String? = {
        guard isAvailable else { return "needs root and ip(8)" }
        for tool in ["/usr/sbin/nft", "/usr/sbin/ethtool", "/usr/bin/unshare"] where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing"
        }
        let probe = run(
            "/usr/bin/unshare", ["--net", "sh", "-c", "ip link set lo up && ethtool -K lo gso off && nft add table inet lossprobe"])
        return probe.status == 0 ? nil : "cannot set up nftables and ethtool in a network namespace: \(probe.output)"
    }()

    /// Turns segmentation and receive offloads off on the namespace's loopback.
    func disableOffloads() throws {
        try runInside("/usr/sbin/ethtool", ["-K", "lo", "tx-udp-segmentation", "off", "gso", "off", "tso", "off", "gro", "off"])
    }

    /// Drops `percent` % of the UDP datagrams to `port` at random (nftables `numgen`), and
    /// counts them.
    func dropUDP(toPort port: Int, percent: Int) throws {
        let rules = """
            table inet loss {
                counter dropped {}
                chain input {
                    type filter hook input priority 0; policy accept;
                    udp dport \(port) numgen random mod 100 < \(percent) counter name dropped drop
                }
            }
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("\(name).nft")
        try rules.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        try runInside("/usr/sbin/nft", ["-f", file.path])
    }

    /// The datagrams the rule of `dropUDP` dropped so far.
    func droppedDatagrams() throws -> Int {
        let listing = try runInside("/usr/sbin/nft", ["list", "counter", "inet", "loss", "dropped"])
        guard let range = listing.range(of: #"packets (\d+)"#, options: .regularExpression),
            let count = Int(listing[range].dropFirst("packets ".count))
        else { throw FixtureError("no packet count in: \(listing)") }
        return count
    }

    /// Datagrams the namespace's kernel dropped because a socket's receive buffer was full
    /// (UDP RcvbufErrors): loss the daemon sees as network loss too.
    func receiveBufferErrors() throws -> Int {
        let snmp = try runInside("/bin/cat", ["/proc/net/snmp"])
        let lines = snmp.split(separator: "\n").filter { $0.hasPrefix("Udp: ") }.map { $0.split(separator: " ") }
        guard lines.count == 2, let column = lines[0].firstIndex(of: "RcvbufErrors"), let value = Int(lines[1][column]) else {
            throw FixtureError("no UDP RcvbufErrors in /proc/net/snmp: \(snmp)")
        }
        return value
    }

    /// Runs `command` inside the namespace; its output, or an error with it.
    @discardableResult
    private func runInside(_ command: String, _ arguments: [String]) throws -> String {
        let result = Self.run(Self.ip, ["netns", "exec", name, command] + arguments)
        guard result.status == 0 else {
            throw FixtureError("\(command) \(arguments.joined(separator: " ")) in \(name) failed (\(result.status)): \(result.output)")
        }
        return result.output
    }

    /// Runs a short command to completion: its status and its output (stdout and stderr).
    private static func run(_ command: String, _ arguments: [String]) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do { try process.run() } catch { return (-1, "\(error)") }
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
