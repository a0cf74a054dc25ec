import Foundation
import Testing

/// A UDP relay on a thread of its own, standing between p2mpsend and a daemon as a man in
/// the middle would: what a client sends to `address:port` leaves toward the daemon from the
/// relay's own socket (`upstreamSource`), and what comes back goes to the client that spoke
/// last. Every datagram from the clients is recorded (`capture`) for replays, and `tamper`
/// may change any datagram on its way.
final class UDPRelay: @unchecked Sendable {
    enum Direction: Sendable { case toDaemon, toClient }

    let address: String
    let port: Int
    /// The port of the socket the daemon sees the clients' datagrams come from (on `address`).
    let upstreamSource: Int
    private let front: Int32
    private let back: Int32
    private let wake: (read: Int32, write: Int32)
    private let lock = NSLock()
    private var upstream: sockaddr_in
    private var recorded: [[UInt8]] = []
    private let tamper: @Sendable (Direction, inout [UInt8]) -> Void
    private let finished = DispatchSemaphore(value: 0)

    /// Starts relaying from `address` (a free port) to `daemon`.
    init(address: String, to daemon: Daemon, tamper: @escaping @Sendable (Direction, inout [UInt8]) -> Void = { _, _ in }) throws {
        self.address = address
        self.tamper = tamper
        front = try Self.boundSocket(address, port: Harness.port())
        back = try Self.boundSocket(address, port: 0)
        port = Self.localPort(front)
        upstreamSource = Self.localPort(back)
        upstream = Self.socketAddress(daemon.address, port: daemon.port)
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { throw FixtureError("pipe: \(String(cString: strerror(errno)))") }
        wake = (pipe[0], pipe[1])
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "UDPRelay \(address):\(port)"
        thread.start()
    }

    /// Where a client sends: "ADDRESS:PORT".
    var target: String { "\(address):\(port)" }

    /// From now on, the clients' datagrams go to `daemon` instead (a man in the middle
    /// that takes over a known address).
    func redirect(to daemon: Daemon) {
        lock.withLock { upstream = Self.socketAddress(daemon.address, port: daemon.port) }
    }

    /// Every datagram the clients sent, in order, as they sent it (before `tamper`).
    var capture: [[UInt8]] { lock.withLock { recorded } }

    /// Stops relaying and closes both sockets; returns once the relay's thread has ended.
    func stop() {
        var byte: UInt8 = 1
        _ = write(wake.write, &byte, 1)
        finished.wait()
        for descriptor in [front, back, wake.read, wake.write] { Glibc.close(descriptor) }
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var client = sockaddr_in()
        var polled = [front, back, wake.read].map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        while true {
            guard poll(&polled, nfds_t(polled.count), -1) > 0 else { continue }
            if polled[2].revents != 0 { return }
            if polled[0].revents != 0 {
                var length = socklen_t(MemoryLayout<sockaddr_in>.size)
                let count = withUnsafeMutablePointer(to: &client) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(front, &buffer, buffer.count, 0, $0, &length) }
                }
                if count > 0 {
                    var datagram = Array(buffer[..<count])
                    let destination = lock.withLock {
                        recorded.append(datagram)
                        return upstream
                    }
                    tamper(.toDaemon, &datagram)
                    Self.send(datagram, from: back, to: destination)
                }
            }
            if polled[1].revents != 0 {
                let count = recv(back, &buffer, buffer.count, 0)
                if count > 0 {
                    var datagram = Array(buffer[..<count])
                    tamper(.toClient, &datagram)
                    Self.send(datagram, from: front, to: client)
                }
            }
        }
    }

    private static func send(_ datagram: [UInt8], from descriptor: Int32, to destination: sockaddr_in) {
        var destination = destination
        _ = withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, datagram, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// A UDP socket bound to `address:port` (0: a port the kernel picks).
    static func boundSocket(_ address: String, port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { throw FixtureError("socket: \(String(cString: strerror(errno)))") }
        var local = socketAddress(address, port: port)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(descriptor)
            throw FixtureError("bind \(address):\(port): \(reason)")
        }
        return descriptor
    }

    static func localPort(_ descriptor: Int32) -> Int {
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return Int(UInt16(bigEndian: local.sin_port))
    }

    static func socketAddress(_ address: String, port: Int) -> sockaddr_in {
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = UInt16(port).bigEndian
        inet_pton(AF_INET, address, &socketAddress.sin_addr)
        return socketAddress
    }
}
