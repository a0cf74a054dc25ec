import NIOCore
import P2MPWire

/// The payload a DATA datagram carries unless the operator chose: `p2mpsend push` and
/// `shell`'s put toward their receivers, the daemon toward a `get`'s requester.
public enum SegmentSize {
    /// Payload per datagram on an ordinary network: a 1,500-byte Ethernet frame with room
    /// left for tunnel headers.
    public static let standard = 1_400
    /// The largest packet the automatic segment size fills: a jumbo Ethernet frame. Beyond
    /// it a lost datagram costs more while per-datagram costs are already amortized.
    public static let largestAutomaticPacket = 9_000

    /// The payload per datagram toward `addresses`: `standard`, or, where every route has a
    /// larger MTU (jumbo frames, loopback), the most that fits one packet of at most
    /// `largestAutomaticPacket` bytes on all of them.
    public static func automatic(toward addresses: [SocketAddress]) -> Int {
        let sizes = addresses.map { address -> Int in
            guard let mtu = PathMTU.toward(address), mtu > 1_500 else { return standard }
            return min(mtu, largestAutomaticPacket) - PathMTU.headerBytes(toward: address)
                - NativeDatagram.dataHeaderSize - NativeDatagram.checksumSize
        }
        return sizes.min() ?? standard
    }
}
