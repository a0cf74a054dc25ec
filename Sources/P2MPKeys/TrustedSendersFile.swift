import P2MPSecurity

/// The daemon's trusted-senders file, in the style of ssh's authorized_keys: one key a line,
///
///     [OPTIONS] p2mp-ed25519 BASE64 [COMMENT]
///
/// OPTIONS is a comma-separated list, without spaces, of the rights the key gets: `push`,
/// `read` (ls, get, status) and `manage` (mv, rm), and optionally `names=PREFIX`, the only
/// names it may write. A line without rights grants `push,read`. `#` lines and blank lines
/// are ignored. Every problem is reported with its line, so the file is fixed in one go.
public enum TrustedSendersFile {
    /// The grants in `bytes`, or every problem found.
    public static func parse(_ bytes: [UInt8], path: String) -> Result<TrustedSenders, KeyFileErrors> {
        var grants: [IdentityKey: SenderGrant] = [:]
        var firstLine: [IdentityKey: Int] = [:]
        var errors: [KeyFileError] = []
        for (number, text) in meaningfulLines(bytes) {
            func fail(_ message: String) { errors.append(KeyFileError(path: path, line: number, message: message)) }
            var words = text.split(maxSplits: 1, omittingEmptySubsequences: true, whereSeparator: \.isWhitespace)
            var grant = SenderGrant(rights: .default)
            if words[0] != Substring(PublicKeyLine.keyType) {
                switch options(words[0]) {
                case .success(let parsed): grant = parsed
                case .failure(let problem):
                    fail(problem.message)
                    continue
                }
                guard words.count > 1 else {
                    fail("no key after the options (expected [OPTIONS] \(PublicKeyLine.keyType) BASE64 [COMMENT])")
                    continue
                }
                words = words[1].split(maxSplits: 1, omittingEmptySubsequences: true, whereSeparator: \.isWhitespace)
            }
            switch PublicKeyLine.parse(words.joined(separator: " ")) {
            case .failure(let problem): fail(problem.description)
            case .success(let (key, comment)):
                if let earlier = firstLine[key] {
                    fail("key \(key.fingerprint) is listed twice (first on line \(earlier))")
                    continue
                }
                firstLine[key] = number
                grant.comment = comment
                grants[key] = grant
            }
        }
        return errors.isEmpty ? .success(TrustedSenders(grants)) : .failure(KeyFileErrors(errors))
    }

    /// Reads and parses the file at `path`. A missing file is an error: the daemon was told
    /// to use it.
    public static func load(path: String) -> Result<TrustedSenders, KeyFileErrors> {
        switch KeyFileIO.read(path) {
        case .contents(let contents): parse(contents.bytes, path: path)
        case .missing: .failure(KeyFileErrors([KeyFileError(path: path, message: "no such file")]))
        case .failed(let reason): .failure(KeyFileErrors([KeyFileError(path: path, message: reason)]))
        }
    }

    private static func options(_ text: Substring) -> Result<SenderGrant, OptionProblem> {
        var rights: SenderRights = []
        var prefix: String?
        var seen: Set<Substring> = []
        for option in text.split(separator: ",", omittingEmptySubsequences: false) {
            let name = option.split(separator: "=", maxSplits: 1).first ?? option
            guard seen.insert(name).inserted else { return .failure(OptionProblem("option '\(name)' is given twice")) }
            switch option {
            case "push": rights.insert(.push)
            case "read": rights.insert(.read)
            case "manage": rights.insert(.manage)
            case _ where option.hasPrefix("names="):
                let value = String(option.dropFirst("names=".count))
                if let problem = prefixProblem(value) { return .failure(OptionProblem("names=\(value): \(problem)")) }
                prefix = value
            case _ where text.contains(","):
                return .failure(OptionProblem("unknown option '\(option)' (expected push, read, manage or names=PREFIX)"))
            default:
                return .failure(
                    OptionProblem(
                        "'\(option)' is neither options (push, read, manage, names=PREFIX, comma-separated) "
                            + "nor the key type \(PublicKeyLine.keyType)"))
            }
        }
        return .success(SenderGrant(rights: rights.isEmpty ? .default : rights, namePrefix: prefix))
    }

    private struct OptionProblem: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    /// Why `prefix` cannot start spool names, or nil. The spool checks each name in full;
    /// this only keeps a prefix from being one no name can have.
    private static func prefixProblem(_ prefix: String) -> String? {
        if prefix.isEmpty { return "empty prefix (leave names= out to allow every name)" }
        if prefix.hasPrefix("/") { return "a spool name is relative (no leading '/')" }
        if prefix.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0 == ".." || $0 == "." }) {
            return "no '.' or '..' components"
        }
        if prefix.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) { return "no control characters" }
        return nil
    }
}
