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

    @Test("toward 127.0.0.1 it is the loopback interface's MTU (at most 65,535), less 28 header bytes for a datagram")
    func loopback() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 9)
        #if os(Linux)
        // An IP packet's length field caps a route's MTU at 65,535 whatever the interface says.
        let expected = min(try #require(try Self.loopbackMTU()), 65_535)
        #expect(PathMTU.toward(address) == expected)
        #expect(PathMTU.largestDatagram(toward: address) == expected - 28)
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
