import NIOCore
import P2MPCommandLine
import P2MPTransport

/// Turning TARGET arguments (HOST, HOST:PORT, [IPV6]:PORT) into distinct receiver addresses.
enum Targets {
    static func resolve(_ targets: [String], defaultPort: Int) throws -> [(name: String, address: SocketAddress)] {
        guard (1...65_535).contains(defaultPort) else {
            throw UsageError("--port '\(defaultPort)' is not a port number (expected an integer in 1-65535)")
        }
        var resolved: [(name: String, address: SocketAddress)] = []
        for target in targets {
            guard let (host, port) = split(target, defaultPort: defaultPort) else {
                throw UsageError("TARGET '\(target)' is not HOST, HOST:PORT or [IPV6]:PORT with a port in 1-65535")
            }
            guard let address = Endpoint.resolve(host: host, port: port) else {
                throw UsageError("TARGET '\(target)': host '\(host)' does not resolve to an address")
            }
            if let twin = resolved.first(where: { $0.address == address }) {
                throw UsageError("TARGET '\(target)' is the same receiver as '\(twin.name)' (\(address.displayString))")
            }
            resolved.append((target, address))
        }
        return resolved
    }

    /// HOST, HOST:PORT, [V6]:PORT or a bare IPv6 literal.
    static func split(_ target: String, defaultPort: Int) -> (host: String, port: Int)? {
        if target.hasPrefix("[") {
            guard let close = target.firstIndex(of: "]") else { return nil }
            let host = String(target[target.index(after: target.startIndex)..<close])
            let rest = target[target.index(after: close)...]
            if rest.isEmpty { return (host, defaultPort) }
            guard rest.hasPrefix(":"), let port = Endpoint.parsePort(String(rest.dropFirst())) else { return nil }
            return (host, port)
        }
        let colons = target.filter { $0 == ":" }.count
        if colons == 1, let colon = target.firstIndex(of: ":") {
            guard let port = Endpoint.parsePort(String(target[target.index(after: colon)...])) else { return nil }
            return (String(target[..<colon]), port)
        }
        return target.isEmpty ? nil : (target, defaultPort)
    }
}
