import Foundation
import P2MPWire
import Testing

/// A flood of handshake initiations at a daemon while honest, authenticated pushes run.
@Suite("Handshake flood")
struct HandshakeFloodTests {
    /// Datagrams per flood: 100,000, or `P2MP_FLOOD_DATAGRAMS` (`make soak-flood` sends more).
    static let floodSize = ProcessInfo.processInfo.environment["P2MP_FLOOD_DATAGRAMS"].flatMap { Int($0) } ?? 100_000
    /// The flood's pace, datagrams per second: 100,000 last two seconds, long enough to
    /// cover a push on a loaded machine (faster floods only lose more in the socket buffer).
    static let floodRate = 50_000

    /// What the daemon may add to its resident memory under the flood and the pushes, beyond
    /// what it held at start: one transfer's write buffers (32 of 256 KiB, 8 MiB), the
    /// event loop's receive buffer (1 MiB), the handshake table (at most 1,024 half-open
    /// handshakes of about 1 KiB, 256 queued replies) and the allocator's slack. A daemon
    /// that kept state per flooded datagram would need hundreds of megabytes.
    static let memoryAllowance = 32 << 20

    @Test("INITIATEs, valid-looking and random, from many ports: pushes meanwhile complete intact, memory stays bounded, cookies engage")
    func flood() async throws {
        let directory = try Harness.makeDirectory()
        let alice = try await SenderKey("alice", comment: "alice", in: directory)
        let daemon = try await Daemon.trusting([alice.trusted()], address: "127.0.14.50", in: directory)
        let atStart = try #require(daemon.peakResidentBytes)
        let input = directory.appendingPathComponent("f.bin")
        try Harness.randomFile(at: input, bytes: 4 << 20)
        let expected = try Data(contentsOf: input)

        let flooder = try Flooder(
            address: "127.0.14.51", ports: 128, target: daemon, count: Self.floodSize, rate: Self.floodRate,
            random: TestRandom("handshake flood"))
        try await Condition.wait(for: "a tenth of the flood to be sent") { flooder.sent >= Self.floodSize / 10 }
        // Push after push until the flood is over (at least one, all under the flood).
        var pushes = 0
        repeat {
            let name = "f-\(pushes).bin"
            let push = try await ChildProcess.run(
                "p2mpsend", ["push", "f.bin", daemon.target, "--name", name, "--accept-new-host-keys"] + alice.identity,
                in: directory, timeout: 300)
            #expect(push.status == 0, "\(push.stdout) \(push.stderr)")
            #expect(try Data(contentsOf: daemon.file(name)) == expected)
            print("handshake flood: push \(pushes) with \(flooder.sent) datagrams sent: \(push.stdout.last ?? "")")
            pushes += 1
        } while flooder.isSending
        let peak = try #require(daemon.peakResidentBytes)
        print("handshake flood: \(flooder.sent) datagrams, \(pushes) pushes; daemon VmHWM \(atStart >> 10) KiB at start, \(peak >> 10) KiB at the end")

        #expect(daemon.spoolNames().count == pushes)
        #expect(peak - atStart <= Self.memoryAllowance, "VmHWM grew by \((peak - atStart) >> 10) KiB")
        #expect(await daemon.stop() == 0)
        print("handshake flood: \(daemon.logLines(containing: "p2mpd stopping:").last ?? "no stop line")")
        #expect((daemon.stopCounter("cookies asked for") ?? 0) > 0)
        #expect((daemon.stopCounter("bad cookies") ?? 0) > 0)
        // Only the honest key completed handshakes: one per push at least, more when a push
        // whose link went unanswered under the flood shook hands again (as it should).
        let sessions = daemon.logLines(containing: "authenticated session with")
        let established = daemon.stopCounter("established") ?? 0
        #expect(established >= pushes && sessions.count == established, "\(established) established: \(sessions)")
        #expect(sessions.allSatisfy { $0.contains("authenticated session with \(alice.fingerprint) (alice)") }, "\(sessions)")
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Sends `count` datagrams at a daemon from `ports` sockets (many source ports) on a thread
/// of its own, `rate` a second (a load generator's pace, checked every 500 datagrams), then
/// stops: six in ten valid-looking INITIATEs (fresh
/// session id and key), one in ten with a made-up cookie, one in ten random bytes behind a
/// secure-envelope header of any type, two in ten random bytes of any length up to 1,399.
/// Every choice comes from a seeded `TestRandom`.
final class Flooder: @unchecked Sendable {
    private let lock = NSLock()
    private var sentCount = 0
    private var done = false

    init(address: String, ports: Int, target: Daemon, count: Int, rate: Int, random: TestRandom) throws {
        let sockets = try (0..<ports).map { _ in try UDPRelay.boundSocket(address, port: 0) }
        let destination = UDPRelay.socketAddress(target.address, port: target.port)
        let thread = Thread { [self] in
            var random = random
            var datagram = [UInt8](repeating: 0, count: 1_400)
            let start = Self.monotonicNanoseconds()
            for index in 0..<count {
                if index % 500 == 0 { Self.keepPace(start: start, sent: index, rate: rate) }
                let size = Self.write(into: &datagram, random: &random)
                Self.send(datagram[..<size], from: sockets[index % sockets.count], to: destination)
                lock.withLock { sentCount += 1 }
            }
            for socket in sockets { Glibc.close(socket) }
            lock.withLock { done = true }
        }
        thread.name = "Flooder \(address)"
        thread.start()
    }

    /// Datagrams sent so far.
    var sent: Int { lock.withLock { sentCount } }

    /// Whether datagrams are still to be sent (false once its sockets are closed).
    var isSending: Bool { lock.withLock { !done } }

    /// Holds the thread back when it is ahead of `rate` datagrams a second.
    private static func keepPace(start: UInt64, sent: Int, rate: Int) {
        let due = start + UInt64(sent) * 1_000_000_000 / UInt64(rate)
        let now = monotonicNanoseconds()
        guard due > now else { return }
        var pause = timespec(tv_sec: Int((due - now) / 1_000_000_000), tv_nsec: Int((due - now) % 1_000_000_000))
        nanosleep(&pause, nil)
    }

    private static func monotonicNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    /// Writes the next datagram at the start of `buffer` and returns its size.
    private static func write(into buffer: inout [UInt8], random: inout TestRandom) -> Int {
        let kind = random.next() % 10
        return buffer.withUnsafeMutableBytes { bytes in
            for offset in stride(from: 0, to: bytes.count - 7, by: 8) {
                bytes.storeBytes(of: random.next(), toByteOffset: offset, as: UInt64.self)
            }
            switch kind {
            case 0..<7:
                var key = (random.next(), random.next(), random.next(), random.next())
                var cookie = (random.next(), random.next())
                return withUnsafeBytes(of: &key) { key in
                    withUnsafeBytes(of: &cookie) { cookie in
                        SecureDatagram.writeInitiate(
                            initiatorSession: random.next(), ephemeralKey: key, cookie: kind == 6 ? cookie : nil, to: bytes)
                    }
                }
            case 7:
                let size = SecureDatagram.headerSize + Int(random.next() % 1_300)
                let type = SecureMessageType(rawValue: UInt8(random.next() % 8)) ?? .initiate
                SecureDatagram.writeHeader(SecureHeader(type: type, session: random.next()), to: bytes)
                return size
            default:
                return 1 + Int(random.next() % 1_399)
            }
        }
    }

    private static func send(_ datagram: ArraySlice<UInt8>, from descriptor: Int32, to destination: sockaddr_in) {
        var destination = destination
        _ = datagram.withUnsafeBytes { payload in
            withUnsafePointer(to: &destination) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, payload.baseAddress, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        }
    }
}
