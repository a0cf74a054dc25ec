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

    /// Waits until a UDP socket of this machine is bound to `port` (a line of /proc/net/udp
    /// or udp6 has it as local port), for at most `timeout` seconds; whether one is.
    static func waitForUDPSocket(port: Int, timeout: Double = 10) async -> Bool {
        let local = ":" + String(format: "%04X", port)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            for table in ["/proc/net/udp", "/proc/net/udp6"] {
                let lines = ((try? String(contentsOfFile: table, encoding: .utf8)) ?? "").split(separator: "\n").dropFirst()
                if lines.contains(where: { $0.split(separator: " ").dropFirst().first?.hasSuffix(local) == true }) {
                    return true
                }
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
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

/// Hands out ports from a per-process range, so parallel tests and parallel runs collide rarely.
final class PortAllocator: @unchecked Sendable {
    static let shared = PortAllocator()
    private let lock = NSLock()
    private var nextPort = 20_000 + Int(ProcessInfo.processInfo.processIdentifier % 2_000) * 16

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        nextPort += 1
        return nextPort
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
        // p2mpsend's digest cache goes to the test's directory, not the user's home.
        process.environment = ProcessInfo.processInfo.environment.merging(
            ["XDG_CACHE_HOME": directory.appendingPathComponent("cache").path], uniquingKeysWith: { $1 })
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

    /// Runs to completion and returns (status, stdout lines, stderr lines); status nil on timeout.
    static func run(
        _ executable: String, _ arguments: [String], in directory: URL, timeout: Double = 30, input: URL? = nil
    ) async throws -> (status: Int32?, stdout: [String], stderr: [String]) {
        let child = try ChildProcess(
            executable, arguments, in: directory,
            label: "\(URL(fileURLWithPath: executable).lastPathComponent)-\(UUID().uuidString)", input: input)
        let status = await child.wait(timeout: timeout)
        return (status, child.stdoutLines, child.stderrLines)
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

    /// The datagrams that arrive within `seconds`, each cut at 65,536 bytes.
    func receive(for seconds: Double) -> [[UInt8]] {
        var received: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline {
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
