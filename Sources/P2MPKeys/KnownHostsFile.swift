import P2MPSecurity

/// The sender's known-hosts file, as ssh's known_hosts: one host a line,
///
///     HOST p2mp-ed25519 BASE64 [COMMENT]
///
/// HOST is the target as written on the command line or in a fleet file, `[HOST]:PORT` when
/// the port is not the default (as ssh writes it). A new host's key is recorded by appending
/// a line; a changed one is never replaced silently: the operator removes the old line.
public struct KnownHosts: Sendable, Equatable {
    public private(set) var keys: [String: IdentityKey]

    public init(_ keys: [String: IdentityKey] = [:]) {
        self.keys = keys
    }

    /// What the file says about `host` and the key it proved.
    public enum Verdict: Equatable, Sendable {
        case known
        case unknown
        case changed(expected: IdentityKey)
    }

    public func verdict(for host: String, key: IdentityKey) -> Verdict {
        guard let expected = keys[host] else { return .unknown }
        return expected == key ? .known : .changed(expected: expected)
    }

    /// How a target is named in the file: `HOST`, or `[HOST]:PORT` off the default port.
    public static func name(host: String, port: Int, defaultPort: Int) -> String {
        port == defaultPort ? host.lowercased() : "[\(host.lowercased())]:\(port)"
    }
}

public enum KnownHostsFile {
    public static func parse(_ bytes: [UInt8], path: String) -> Result<KnownHosts, KeyFileErrors> {
        var keys: [String: IdentityKey] = [:]
        var firstLine: [String: Int] = [:]
        var errors: [KeyFileError] = []
        for (number, text) in meaningfulLines(bytes) {
            func fail(_ message: String) { errors.append(KeyFileError(path: path, line: number, message: message)) }
            let words = text.split(maxSplits: 1, omittingEmptySubsequences: true, whereSeparator: \.isWhitespace)
            guard words.count == 2 else {
                fail("'\(text.trimmingTrailingWhitespace)' has no key (expected HOST \(PublicKeyLine.keyType) BASE64 [COMMENT])")
                continue
            }
            let host = words[0].lowercased()
            if let earlier = firstLine[host] {
                fail("host '\(host)' is listed twice (first on line \(earlier))")
                continue
            }
            switch PublicKeyLine.parse(String(words[1])) {
            case .failure(let problem): fail(problem.description)
            case .success(let (key, _)):
                firstLine[host] = number
                keys[host] = key
            }
        }
        return errors.isEmpty ? .success(KnownHosts(keys)) : .failure(KeyFileErrors(errors))
    }

    /// The hosts at `path`; a missing file knows no host yet.
    public static func load(path: String) -> Result<KnownHosts, KeyFileErrors> {
        switch KeyFileIO.read(path) {
        case .contents(let contents): parse(contents.bytes, path: path)
        case .missing: .success(KnownHosts())
        case .failed(let reason): .failure(KeyFileErrors([KeyFileError(path: path, message: reason)]))
        }
    }

    /// Appends `host`'s key to the file at `path` (created with mode 0644 if missing) and to
    /// `hosts`. Refuses a host the file already holds: a changed key is never replaced here.
    public static func record(
        host: String, key: IdentityKey, comment: String = "", in hosts: inout KnownHosts, path: String
    ) -> Result<Void, KeyFileError> {
        let name = host.lowercased()
        if let known = hosts.keys[name] {
            return .failure(
                KeyFileError(
                    path: path,
                    message: "already holds a key for '\(name)' (\(known.fingerprint)); remove that line to accept another"))
        }
        let line = name + " " + PublicKeyLine.format(key, comment: comment) + "\n"
        if let failure = KeyFileIO.append(path, bytes: Array(line.utf8), mode: 0o644) {
            return .failure(KeyFileError(path: path, message: failure))
        }
        var keys = hosts.keys
        keys[name] = key
        hosts = KnownHosts(keys)
        return .success(())
    }
}
