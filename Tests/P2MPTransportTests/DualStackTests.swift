import NIOCore
import NIOPosix
import P2MPProtocol
import Testing

@testable import P2MPTransport

#if canImport(Glibc)
import Glibc
#endif

/// Sends one datagram to itself over each family's loopback and reports what arrived from
/// where, and the addresses its sockets are bound to.
final class FamilyEcho: DatagramApplication {
    struct Outcome: Sendable {
        var bound: [SocketAddress]
        var received: [String: SocketAddress]
    }

    private let port: Int
    private var received: [String: SocketAddress] = [:]

    init(port: Int) {
        self.port = port
    }

    func start(io: DatagramIO<Outcome>) {
        io.send(Array("v4".utf8), to: try! SocketAddress(ipAddress: "127.0.0.1", port: port))
        io.send(Array("v6".utf8), to: try! SocketAddress(ipAddress: "::1", port: port))
        io.setTimer(io.now + .seconds(10))
    }

    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>) {
        received[String(buffer: datagram)] = sender
        if received.count == 2 { io.finish(Outcome(bound: io.localAddresses, received: received)) }
    }

    func timerFired(io: DatagramIO<Outcome>) {
        io.finish(Outcome(bound: io.localAddresses, received: received))
    }
}

@Suite("IPv4 and IPv6 side by side")
struct DualStackTests {
    /// A UDP port the kernel just handed out on `[::]`, released again.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0
            }
        }
        try #require(bound)
        return Int(UInt16(bigEndian: address.sin6_port))
    }

    @Test("[::]:P and 0.0.0.0:P bind together (IPV6_V6ONLY), and each family's datagrams use its own socket")
    func wildcardsOnOnePort() async throws {
        let port = try Self.freePort()
        print("port \(port)")
        // Without IPV6_V6ONLY the IPv6 socket would hold the IPv4 port too and the second
        // bind would fail with EADDRINUSE.
        let addresses = [try SocketAddress(ipAddress: "::", port: port), try SocketAddress(ipAddress: "0.0.0.0", port: port)]
        let outcome = try await DatagramRunner.run(bindingTo: addresses, on: MultiThreadedEventLoopGroup.singleton.next()) {
            FamilyEcho(port: port)
        }
        #expect(outcome.bound == addresses)
        #expect(outcome.received["v4"]?.ipAddress == "127.0.0.1")
        #expect(outcome.received["v4"]?.port == port)
        #expect(outcome.received["v6"]?.ipAddress == "::1")
        #expect(outcome.received["v6"]?.port == port)
    }
}
