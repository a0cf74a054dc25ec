import Foundation
import Testing

/// Runs the built p2mpd and p2mpsend as child processes, with their output in files.
enum Harness {
    /// Where `swift build` put the executables: `P2MP_BIN_DIR`, or beside the test bundle.
    static let binDirectory: URL = {
        if let directory = ProcessInfo.processInfo.environment["P2MP_BIN_DIR"] {
            return URL(fileURLWithPath: directory)
        }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("p2mpd").path) { return url }
        }
        return URL(fileURLWithPath: ".build/debug")
    }()

    /// A fresh directory for one test's files.
    static func makeDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-it-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// A UDP port no other test of this run uses.
    static func port() -> Int {
        PortAllocator.shared.next()
    }

    /// A file of `bytes` random bytes, copied from /dev/urandom in 1 MiB chunks.
    static func randomFile(at url: URL, bytes: Int) throws {
        let random = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        defer { try? random.close() }
        _ = FileManager.default.createFile(atPath: url.path, contents: nil)
        let output = try FileHandle(forWritingTo: url)
        defer { try? output.close() }
        var remaining = bytes
        while remaining > 0 {
            let chunk = try random.read(upToCount: min(remaining, 1 << 20)) ?? Data()
            try output.write(contentsOf: chunk)
            remaining -= chunk.count
        }
    }
}

/// Hands out ports below the kernel's ephemeral range (where any client socket of the
/// machine may be sitting), starting at a per-process offset, and only ports no UDP socket
/// holds now, so parallel tests and parallel runs do not collide.
final class PortAllocator: @unchecked Sendable {
    static let shared = PortAllocator()
    private let lock = NSLock()
    private let first = 10_000
    private let last: Int
    private var nextPort: Int

    init() {
        // /proc/sys/net/ipv4/ip_local_port_range: "32768\t60999" on Debian.
        let range = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        last = (range.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768) - 1
        nextPort = first + Int(ProcessInfo.processInfo.processIdentifier) % max(1, last - first)
    }

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        for _ in first...last {
            nextPort = nextPort >= last ? first : nextPort + 1
            if Self.isFree(nextPort) { return nextPort }
        }
        return nextPort
    }

    /// True when a UDP socket can bind the port on every IPv4 and IPv6 address.
    private static func isFree(_ port: Int) -> Bool {
        for family in [AF_INET, AF_INET6] {
            let descriptor = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
            guard descriptor >= 0 else { continue }
            defer { Glibc.close(descriptor) }
            var bound: Int32
            if family == AF_INET {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = UInt16(port).bigEndian
                bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            } else {
                var only: Int32 = 1
                setsockopt(descriptor, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &only, socklen_t(MemoryLayout<Int32>.size))
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = UInt16(port).bigEndian
                bound = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
                }
            }
            if bound != 0 { return false }
        }
        return true
    }
}

/// One running child process whose stdout and stderr go to files.
final class ChildProcess: @unchecked Sendable {
    let process = Process()
    let stdoutURL: URL
    let stderrURL: URL

    init(_ executable: String, _ arguments: [String], in directory: URL, label: String, input: URL? = nil) throws {
        process.executableURL =
            executable.hasPrefix("/")
            ? URL(fileURLWithPath: executable) : Harness.binDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        process.currentDirectoryURL = directory
        // p2mpsend's digest cache and keys (identity, known_hosts) live in the test's
        // directory: a test never picks up the user's identity.
        process.environment = ProcessInfo.processInfo.environment.merging(
            [
                "XDG_CACHE_HOME": directory.appendingPathComponent("cache").path,
                "XDG_CONFIG_HOME": directory.appendingPathComponent("config").path,
            ], uniquingKeysWith: { $1 })
        stdoutURL = directory.appendingPathComponent("\(label).stdout")
        stderrURL = directory.appendingPathComponent("\(label).stderr")
        _ = FileManager.default.createFile(atPath: stdoutURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrURL.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: stdoutURL)
        process.standardError = try FileHandle(forWritingTo: stderrURL)
        process.standardInput = try input.map { try FileHandle(forReadingFrom: $0) } ?? FileHandle.nullDevice
        try process.run()
    }

    /// A child still running when its handle goes (a test failed or threw before waiting
    /// for it) is killed, so no daemon outlives the test that started it.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits up to `timeout` seconds; a process still running then is killed and nil returned.
    func wait(timeout: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            if Date() > deadline {
                process.terminate()
                kill(process.processIdentifier, SIGKILL)
                return nil
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    var stdoutLines: [String] { Self.lines(stdoutURL) }
    var stderrLines: [String] { Self.lines(stderrURL) }

    private static func lines(_ url: URL) -> [String] {
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").map(String.init)
    }

    /// Runs to completion and returns (status, stdout lines, stderr lines), removing the files
    /// they were written to; status nil on timeout.
    static func run(
        _ executable: String, _ arguments: [String], in directory: URL, timeout: Double = 30, input: URL? = nil
    ) async throws -> (status: Int32?, stdout: [String], stderr: [String]) {
        let child = try ChildProcess(
            executable, arguments, in: directory,
            label: "\(URL(fileURLWithPath: executable).lastPathComponent)-\(UUID().uuidString)", input: input)
        let status = await child.wait(timeout: timeout)
        let output = (status, child.stdoutLines, child.stderrLines)
        // The output is returned, so its files go: a run in a shared directory (ip(8) and
        // nft(8) run in the temporary directory) leaves nothing behind.
        try? FileManager.default.removeItem(at: child.stdoutURL)
        try? FileManager.default.removeItem(at: child.stderrURL)
        return output
    }
}

/// Sends raw datagrams from the test process, to play a hostile or broken peer.
struct RawUDPSender {
    private let descriptor: Int32

    init(bindAddress: String = "127.0.0.1") throws {
        descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EIO) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, bindAddress, &local.sin_addr)
        _ = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }

    func send(_ bytes: [UInt8], to host: String, port: Int) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        _ = bytes.withUnsafeBytes { buffer in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, buffer.baseAddress, buffer.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }

    /// The first `count` datagrams that arrive, each cut at 65,536 bytes; fewer when
    /// `timeout` seconds pass first (the bound only turns a silent peer into a short list).
    func receive(count: Int, timeout: Double = 30) -> [[UInt8]] {
        var received: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(timeout)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline, received.count < count {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let wait = Int32(max(1, deadline.timeIntervalSinceNow * 1_000))
            guard poll(&poller, 1, wait) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 { received.append(Array(buffer[..<count])) }
        }
        return received
    }

    func close() {
        Glibc.close(descriptor)
    }
}

/// Waiting for conditions instead of for time: every wait names what it waits for, polls it,
/// and fails the test (with that name) when a generous bound passes without it.
enum Condition {
    struct NotReached: Error, CustomStringConvertible {
        var what: String
        var seconds: Double
        var description: String { "gave up after \(seconds) s waiting for \(what)" }
    }

    /// Polls `condition` every 10 ms until it holds; throws `NotReached` after `timeout`
    /// seconds. The bound only turns a hang into a failure: nothing passes by waiting.
    static func wait(
        for what: String, timeout: Double = 60, _ condition: () throws -> Bool
    ) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try !condition() {
            guard Date() < deadline else { throw NotReached(what: what, seconds: timeout) }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Waits until `child` has a UDP socket bound to `address:port`, as the kernel's socket
    /// table shows it; fails at once, with its output, if the child exits first.
    static func udpBound(_ address: String, port: Int, by child: ChildProcess, timeout: Double = 30) async throws {
        try await wait(for: "a UDP socket bound to \(address):\(port)", timeout: timeout) {
            if UDPSocketTable.isBound(address: address, port: port) { return true }
            guard child.process.isRunning else {
                throw ChildExited(status: child.process.terminationStatus, stderr: child.stderrLines)
            }
            return false
        }
    }

    struct ChildExited: Error, CustomStringConvertible {
        var status: Int32
        var stderr: [String]
        var description: String { "the process exited with status \(status) before it bound its socket: \(stderr)" }
    }
}

/// The kernel's table of UDP sockets (/proc/net/udp and udp6).
enum UDPSocketTable {
    /// True when some socket is bound to exactly `address:port` (or to the wildcard of its family).
    static func isBound(address: String, port: Int) -> Bool {
        let portHex = String(format: "%04X", port)
        var wanted: Set<String> = []
        if address.contains(":") {
            var bytes = [UInt8](repeating: 0, count: 16)
            guard inet_pton(AF_INET6, address, &bytes) == 1 else { return false }
            // /proc prints each 32-bit word of the address in host (little-endian) order.
            let words = stride(from: 0, to: 16, by: 4).map { offset in
                (0..<4).reversed().map { String(format: "%02X", bytes[offset + $0]) }.joined()
            }
            wanted = [words.joined(), String(repeating: "0", count: 32)]
        } else {
            var value = in_addr()
            guard inet_pton(AF_INET, address, &value) == 1 else { return false }
            wanted = [String(format: "%08X", value.s_addr), "00000000"]
        }
        for table in ["/proc/net/udp", "/proc/net/udp6"] {
            // Read to the end: String(contentsOfFile:) stops after the first 4 KiB of a
            // procfs file, some 30 sockets, so any socket past them went unseen.
            guard let handle = FileHandle(forReadingAtPath: table), let data = try? handle.readToEnd() else { continue }
            try? handle.close()
            let text = String(decoding: data, as: UTF8.self)
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 1 else { continue }
                let local = fields[1].split(separator: ":")
                if local.count == 2, local[1] == portHex, wanted.contains(String(local[0])) { return true }
            }
        }
        return false
    }
}

/// Random choices of a test, reproducible: the seed comes from `P2MP_TEST_SEED` when set,
/// otherwise it is drawn, and either way it is printed so that a failure can be replayed.
struct TestRandom: RandomNumberGenerator {
    let seed: UInt64
    private var state: UInt64

    init(_ label: String) {
        let seed = ProcessInfo.processInfo.environment["P2MP_TEST_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64.max)
        self.seed = seed
        state = seed
        print("\(label): random seed \(seed) (replay with P2MP_TEST_SEED=\(seed))")
    }

    /// SplitMix64.
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
