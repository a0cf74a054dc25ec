import NIOCore
import P2MPTransport
import Testing

@Suite("Automatic segment size")
struct SegmentSizeTests {
    @Test("loopback (MTU above 1,500) gets a jumbo frame's payload: 9,000 - 28 IP/UDP - 28 DATA header and CRC")
    func loopback() throws {
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 7735)
        guard let mtu = PathMTU.toward(address), mtu > 1_500 else {
            // Not Linux, or a loopback MTU shrunk by hand: the standard size applies.
            #expect(SegmentSize.automatic(toward: [address]) == SegmentSize.standard)
            return
        }
        #expect(SegmentSize.automatic(toward: [address]) == 8_944)
    }

    @Test("over IPv6 loopback 20 bytes less (9,000 - 48 IP/UDP - 28), and toward both families the smaller")
    func loopbackIPv6() throws {
        let v6 = try SocketAddress(ipAddress: "::1", port: 7735)
        let v4 = try SocketAddress(ipAddress: "127.0.0.1", port: 7735)
        guard let mtu = PathMTU.toward(v6), mtu > 1_500 else {
            #expect(SegmentSize.automatic(toward: [v6]) == SegmentSize.standard)
            return
        }
        #expect(SegmentSize.automatic(toward: [v6]) == 8_924)
        #expect(SegmentSize.automatic(toward: [v4, v6]) == 8_924)
    }

    @Test("with no route to ask about, the standard 1,400 bytes")
    func standard() {
        #expect(SegmentSize.automatic(toward: []) == 1_400)
    }
}
