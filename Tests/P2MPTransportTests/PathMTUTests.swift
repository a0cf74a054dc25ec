import Foundation
import NIOCore
import Testing

@testable import P2MPTransport

@Suite("Path MTU")
struct PathMTUTests {
    /// The loopback interface's MTU as the kernel publishes it.
    static func loopbackMTU() throws -> Int? {
        #if os(Linux)
        let text = try String(contentsOfFile: "/sys/class/net/lo/mtu", encoding: .utf8)
        return Int(text.trimmingCharacters(in: .whitespacesAndNewlines))
        #else
        return nil
        #endif
    }

    @Test(
        "toward loopback it is the interface's MTU (over IPv4 at most 65,535), less 28 (IPv4) or 48 (IPv6) header bytes for a datagram",
        arguments: [("127.0.0.1", 28), ("::1", 48)])
    func loopback(host: String, headerBytes: Int) throws {
        let address = try SocketAddress(ipAddress: host, port: 9)
        #if os(Linux)
        // An IPv4 packet's length field caps a route's MTU at 65,535 whatever the interface
        // says; IPv6's counts the payload only, so the interface's MTU stands.
        let interface = try #require(try Self.loopbackMTU())
        let expected = headerBytes == 28 ? min(interface, 65_535) : interface
        #expect(PathMTU.toward(address) == expected)
        #expect(PathMTU.largestDatagram(toward: address) == expected - headerBytes)
        #else
        #expect(PathMTU.toward(address) == nil)
        #endif
    }

    @Test("IPv6 headers are 20 bytes longer than IPv4's")
    func headers() throws {
        #expect(PathMTU.headerBytes(toward: try SocketAddress(ipAddress: "127.0.0.1", port: 9)) == 28)
        #expect(PathMTU.headerBytes(toward: try SocketAddress(ipAddress: "::1", port: 9)) == 48)
    }
}
