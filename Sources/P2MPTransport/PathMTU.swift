import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// The MTU of the route toward an address, as the kernel knows it (the outgoing
/// interface's, or a smaller one learnt by path MTU discovery).
public enum PathMTU {
    /// Asks the kernel through a throwaway UDP socket connected to `address` (no datagram is
    /// sent). Nil where the system cannot tell.
    public static func toward(_ address: SocketAddress) -> Int? {
        #if os(Linux)
        let family = address.protocol == .inet6 ? AF_INET6 : AF_INET
        let descriptor = socket(family, Int32(SOCK_DGRAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        let connected = address.withSockAddr { pointer, length in
            connect(descriptor, pointer, socklen_t(length))
        }
        guard connected == 0 else { return nil }
        var mtu: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        let level = address.protocol == .inet6 ? Int32(IPPROTO_IPV6) : Int32(IPPROTO_IP)
        let option = address.protocol == .inet6 ? ipv6MTU : ipMTU
        guard getsockopt(descriptor, level, option, &mtu, &length) == 0, mtu > 0 else { return nil }
        return Int(mtu)
        #else
        return nil
        #endif
    }

    /// Bytes of IP and UDP header in front of each datagram's payload toward `address`.
    public static func headerBytes(toward address: SocketAddress) -> Int {
        address.protocol == .inet6 ? 40 + 8 : 20 + 8
    }

    /// The largest UDP payload that leaves toward `address` in one unfragmented packet.
    public static func largestDatagram(toward address: SocketAddress) -> Int? {
        toward(address).map { $0 - headerBytes(toward: address) }
    }

    /// IP_MTU and IPV6_MTU of <linux/in.h> and <linux/in6.h>, which Glibc does not export.
    private static let ipMTU: Int32 = 14
    private static let ipv6MTU: Int32 = 24
}
