import ArgumentParser
import NIOCore
import P2MPClient
import P2MPCommandLine
import P2MPKeys
import P2MPSecurity
import P2MPTransport

#if canImport(Glibc)
import Glibc
#endif

/// Where p2mpsend keeps its keys: `$XDG_CONFIG_HOME/p2mp`, else `~/.config/p2mp`.
enum ConfigDirectory {
    static var path: String? {
        if let base = getenv("XDG_CONFIG_HOME").map({ String(cString: $0) }), base.hasPrefix("/") { return base + "/p2mp" }
        if let home = getenv("HOME").map({ String(cString: $0) }), home.hasPrefix("/") { return home + "/.config/p2mp" }
        return nil
    }

    static var identity: String? { path.map { $0 + "/id_ed25519" } }
    static var knownHosts: String? { path.map { $0 + "/known_hosts" } }

    /// Makes the directory (mode 0700) and its missing parents.
    static func create() throws {
        guard let path else { throw UsageError("neither XDG_CONFIG_HOME nor HOME is set: give --output") }
        var built = ""
        for component in path.split(separator: "/") {
            built += "/" + component
            if mkdir(built, 0o700) != 0, errno != EEXIST {
                throw CommandFailure(.failure, "cannot create \(built): \(String(cString: strerror(errno)))")
            }
        }
    }
}

/// The options of every command that talks to daemons: who we are and which host keys we
/// expect.
struct TrustOptions: ParsableArguments {
    @Option(
        parsing: .unconditional,
        help: ArgumentHelp(
            "Private key to authenticate with (default: ~/.config/p2mp/id_ed25519 when it exists; without one, "
                + "requests go in clear, which only loopback daemons without trusted_senders serve).",
            valueName: "file"))
    var identity: String?

    @Option(
        parsing: .unconditional,
        help: ArgumentHelp("The known-hosts file (default: ~/.config/p2mp/known_hosts).", valueName: "file"))
    var knownHosts: String?

    @Flag(help: "Record the host key of a daemon known_hosts does not know yet (a changed key is never accepted).")
    var acceptNewHostKeys = false

    /// The identity and host-key policies for `targets`, and what to record afterwards.
    func trust(for targets: [Target], defaultPort: Int) throws -> TrustContext {
        let identityPath = try identity.map { try CommandLinePath.absolute($0, flag: "--identity") } ?? ConfigDirectory.identity
        var keyPair: KeyPairFile?
        if let identityPath, identity != nil || access(identityPath, F_OK) == 0 {
            switch KeyPairFile.load(path: identityPath) {
            case .success(let loaded): keyPair = loaded
            case .failure(let error): throw UsageError("--identity: \(error)")
            }
        }
        let hostsPath = try knownHosts.map { try CommandLinePath.absolute($0, flag: "--known-hosts") } ?? ConfigDirectory.knownHosts
        var hosts = KnownHosts()
        if let hostsPath {
            switch KnownHostsFile.load(path: hostsPath) {
            case .success(let loaded): hosts = loaded
            case .failure(let errors): throw UsageError(errors.description)
            }
        }
        var policies: [ClientTrust.HostKeyPolicy] = []
        for target in targets {
            if let pinned = target.hostKey {
                policies.append(.pinned(pinned))
            } else if let known = hosts.keys[target.knownHostsName(defaultPort: defaultPort)] {
                policies.append(.pinned(known))
            } else {
                policies.append(acceptNewHostKeys ? .acceptNew : .reportUnknown)
            }
        }
        return TrustContext(
            trust: ClientTrust(identity: keyPair, hostKeys: policies), knownHosts: hosts, knownHostsPath: hostsPath,
            targets: targets, defaultPort: defaultPort)
    }
}

/// The trust a run used, and how to record the host keys it learned.
struct TrustContext {
    var trust: ClientTrust
    var knownHosts: KnownHosts
    var knownHostsPath: String?
    var targets: [Target]
    var defaultPort: Int

    /// Records the keys targets proved under `acceptNew` (`--accept-new-host-keys`) in
    /// known-hosts, and pins them for the rest of the run (the shell's next commands).
    mutating func learn(provedKeys: [IdentityKey?]) {
        for (index, key) in provedKeys.enumerated() {
            guard let key, index < trust.hostKeys.count, case .acceptNew = trust.hostKeys[index] else { continue }
            trust.hostKeys[index] = .pinned(key)
            let name = targets[index].knownHostsName(defaultPort: defaultPort)
            guard let path = knownHostsPath, knownHosts.keys[name] == nil else { continue }
            // The default file's directory may not exist yet (no keygen ran as this user);
            // if it cannot be made, recording says why.
            if path == ConfigDirectory.knownHosts { try? ConfigDirectory.create() }
            if case .failure(let error) = KnownHostsFile.record(host: name, key: key, in: &knownHosts, path: path) {
                CommandRunner.printError("p2mpsend: cannot record the host key of \(name): \(error)")
            } else {
                CommandRunner.printError("p2mpsend: recorded \(name)'s host key \(key.fingerprint) in \(path)")
            }
        }
    }
}
