import NIOCore
import P2MPClient
import P2MPCommandLine
import P2MPTransport

/// Turning TARGET arguments (HOST, HOST:PORT, [IPV6]:PORT) into distinct receiver addresses.
enum Targets {
    /// The TARGET arguments followed by the targets of `fleet` (a fleet file), resolved.
    static func resolve(_ targets: [String], fleet: String?, defaultPort: Int) throws -> [(name: String, address: SocketAddress)] {
        var all = targets
        if let fleet {
            switch FleetFile.load(path: fleet, defaultPort: defaultPort) {
            case .success(let listed): all += listed.map(\.text)
            case .failure(let errors): throw UsageError(errors.description)
            }
        }
        return try resolve(all, defaultPort: defaultPort)
    }

    static func resolve(_ targets: [String], defaultPort: Int) throws -> [(name: String, address: SocketAddress)] {
        guard (1...65_535).contains(defaultPort) else {
            throw UsageError("--port '\(defaultPort)' is not a port number (expected an integer in 1-65535)")
        }
        var resolved: [(name: String, address: SocketAddress)] = []
        for target in targets {
            guard let (host, port) = FleetFile.splitTarget(target, defaultPort: defaultPort) else {
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
}
