import NIOCore
import P2MPClient
import P2MPCommandLine
import P2MPKeys
import P2MPSecurity
import P2MPTransport

/// A receiver as the operator named it: the text given, where it is, and the host key a
/// fleet file pinned for it.
struct Target {
    var name: String
    var host: String
    var port: Int
    var address: SocketAddress
    /// From `TARGET p2mp-ed25519 BASE64` in a fleet file; it wins over known_hosts.
    var hostKey: IdentityKey?

    /// How known_hosts names this target.
    func knownHostsName(defaultPort: Int) -> String {
        KnownHosts.name(host: host, port: port, defaultPort: defaultPort)
    }

    /// The (name, address) pair the client runners take.
    var endpoint: (name: String, address: SocketAddress) { (name, address) }
}

/// Turning TARGET arguments (HOST, HOST:PORT, [IPV6]:PORT) into distinct receiver addresses.
enum Targets {
    /// The TARGET arguments followed by the targets of `fleet` (a fleet file), resolved.
    static func resolve(_ targets: [String], fleet: String?, defaultPort: Int) throws -> [Target] {
        var all: [(text: String, hostKey: IdentityKey?)] = targets.map { ($0, nil) }
        if let fleet {
            switch FleetFile.load(path: fleet, defaultPort: defaultPort) {
            case .success(let listed):
                for target in listed {
                    var hostKey: IdentityKey?
                    if let text = target.hostKey {
                        switch PublicKeyLine.parse(text) {
                        case .success(let parsed): hostKey = parsed.key
                        case .failure(let problem):
                            throw UsageError("\(fleet):\(target.line): the host key of '\(target.text)': \(problem)")
                        }
                    }
                    all.append((target.text, hostKey))
                }
            case .failure(let errors): throw UsageError(errors.description)
            }
        }
        return try resolve(all, defaultPort: defaultPort)
    }

    static func resolve(_ targets: [String], defaultPort: Int) throws -> [Target] {
        try resolve(targets.map { ($0, nil) }, defaultPort: defaultPort)
    }

    private static func resolve(_ targets: [(text: String, hostKey: IdentityKey?)], defaultPort: Int) throws -> [Target] {
        guard (1...65_535).contains(defaultPort) else {
            throw UsageError("--port '\(defaultPort)' is not a port number (expected an integer in 1-65535)")
        }
        var resolved: [Target] = []
        for (target, hostKey) in targets {
            guard let (host, port) = FleetFile.splitTarget(target, defaultPort: defaultPort) else {
                throw UsageError("TARGET '\(target)' is not HOST, HOST:PORT or [IPV6]:PORT with a port in 1-65535")
            }
            guard let address = Endpoint.resolve(host: host, port: port) else {
                throw UsageError("TARGET '\(target)': host '\(host)' does not resolve to an address")
            }
            if let twin = resolved.first(where: { $0.address == address }) {
                throw UsageError("TARGET '\(target)' is the same receiver as '\(twin.name)' (\(address.displayString))")
            }
            resolved.append(Target(name: target, host: host, port: port, address: address, hostKey: hostKey))
        }
        return resolved
    }
}
