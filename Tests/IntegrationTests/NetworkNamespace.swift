import Foundation
import Testing

/// A network namespace of a test's own (named `loss…`), whose loopback drops a share of the
/// UDP datagrams that reach one port, counted by nftables: a lossy path with a drop count
/// to compare with what the daemon reports. Offloads are off on its loopback, so nftables
/// sees (and drops) datagrams one by one rather than segmented super-packets
/// (/work/shared/notes: GSO/GRO). `delete()` removes it; nothing outside it is touched.
final class NetworkNamespace: @unchecked Sendable {
    let name: String
    static let ip = "/usr/sbin/ip"

    /// Why namespaces with nftables and ethtool cannot be used here, or nil when they can:
    /// probed once in a throw-away namespace (`unshare --net`), which leaves nothing behind.
    static let unavailableReason: String? = {
        guard getuid() == 0 else { return "needs root" }
        for tool in [ip, "/usr/sbin/nft", "/usr/sbin/ethtool", "/usr/bin/unshare"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing"
        }
        let probe = run("/usr/bin/unshare", ["--net", "sh", "-c", "ip link set lo up && ethtool -K lo gso off && nft add table inet lossprobe"])
        return probe.status == 0 ? nil : "cannot set up a network namespace: \(probe.output)"
    }()

    private static let counter = Counter()

    /// A namespace with loopback up and offloads off.
    init() throws {
        name = "loss\(getpid())n\(Self.counter.next())"
        try Self.check(Self.run(Self.ip, ["netns", "add", name]), "ip netns add \(name)")
        try exec(Self.ip, ["link", "set", "lo", "up"])
        try exec("/usr/sbin/ethtool", ["-K", "lo", "tx-udp-segmentation", "off", "gso", "off", "tso", "off", "gro", "off"])
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
        try exec("/usr/sbin/nft", ["-f", file.path])
    }

    /// The datagrams the rule of `dropUDP` dropped so far.
    func droppedDatagrams() throws -> Int {
        let listing = try exec("/usr/sbin/nft", ["list", "counter", "inet", "loss", "dropped"])
        guard let range = listing.range(of: #"packets (\d+)"#, options: .regularExpression),
            let count = Int(listing[range].dropFirst("packets ".count))
        else { throw Failure(what: "no packet count in: \(listing)") }
        return count
    }

    /// Datagrams the namespace's kernel dropped because a socket's receive buffer was full
    /// (UDP RcvbufErrors): loss the daemon sees as network loss too.
    func receiveBufferErrors() throws -> Int {
        let snmp = try exec("/bin/cat", ["/proc/net/snmp"])
        let lines = snmp.split(separator: "\n").filter { $0.hasPrefix("Udp: ") }.map { $0.split(separator: " ") }
        guard lines.count == 2, let column = lines[0].firstIndex(of: "RcvbufErrors"), let value = Int(lines[1][column]) else {
            throw Failure(what: "no UDP RcvbufErrors in /proc/net/snmp: \(snmp)")
        }
        return value
    }

    /// `command arguments` run inside the namespace, as `ip netns exec` arguments.
    func wrapping(_ command: String, _ arguments: [String]) -> [String] {
        ["netns", "exec", name, command] + arguments
    }

    /// Runs `command` inside the namespace; its output, or an error with it.
    @discardableResult
    func exec(_ command: String, _ arguments: [String]) throws -> String {
        let result = Self.run(Self.ip, wrapping(command, arguments))
        try Self.check(result, "\(command) \(arguments.joined(separator: " ")) in \(name)")
        return result.output
    }

    func delete() {
        _ = Self.run(Self.ip, ["netns", "delete", name])
    }

    struct Failure: Error, CustomStringConvertible {
        var what: String
        var description: String { what }
    }

    private static func check(_ result: (status: Int32, output: String), _ what: String) throws {
        guard result.status == 0 else { throw Failure(what: "\(what) failed (\(result.status)): \(result.output)") }
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

    private final class Counter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func next() -> Int {
            lock.lock()
            defer { lock.unlock() }
            value += 1
            return value
        }
    }
}
