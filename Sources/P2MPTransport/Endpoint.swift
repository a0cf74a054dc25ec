import NIOCore

/// Parsing and resolving of the addresses a user types.
public enum Endpoint {
    /// The well-known port of the seed protocol and of p2mpd.
    public static let defaultPort = 7735

    /// A port number in 1...65535, or nil.
    public static func parsePort(_ text: String) -> Int? {
        guard let port = Int(text), (1...65_535).contains(port) else { return nil }
        return port
    }

    /// Resolves `host` (a name or a literal IPv4/IPv6 address) with the system resolver.
    public static func resolve(host: String, port: Int) -> SocketAddress? {
        try? SocketAddress.makeAddressResolvingHost(host, port: port)
    }

    /// A numeric address to bind to, or nil when `text` is not an IP address.
    public static func bindAddress(_ text: String, port: Int) -> SocketAddress? {
        try? SocketAddress(ipAddress: text, port: port)
    }

    /// The wildcard address of `address`'s family with an ephemeral port.
    public static func wildcard(like address: SocketAddress) -> SocketAddress {
        switch address.protocol {
        case .inet6: try! SocketAddress(ipAddress: "::", port: 0)
        default: try! SocketAddress(ipAddress: "0.0.0.0", port: 0)
        }
    }

    /// One wildcard address per address family among `targets`: a client binds one socket
    /// for its IPv4 receivers and one for its IPv6 ones.
    public static func wildcardBindings(reaching targets: [SocketAddress]) -> [SocketAddress] {
        var families: [SocketAddress] = []
        for target in targets where !families.contains(where: { $0.protocol == target.protocol }) {
            families.append(wildcard(like: target))
        }
        return families
    }
}

extension SocketAddress {
    /// `1.2.3.4:7735` or `[::1]:7735`.
    public var displayString: String {
        let host = ipAddress ?? "?"
        let port = self.port.map(String.init) ?? "?"
        return self.protocol == .inet6 ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
