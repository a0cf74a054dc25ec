import P2MPKeys
import P2MPSecurity

/// The daemon's trusted-senders file and the sender's known-hosts file (P2MPKeys), and the
/// base64 of their key lines. Any bytes parse to a result or to errors; errors come in line
/// order, each `PATH:LINE: message` on one line of the file; a trailing comment or blank line
/// changes nothing. An accepted trusted-senders file gives every key some rights and a
/// `names=` prefix that a spool name could start with, and written back line by line
/// (options, key, comment) parses to the same grants; an accepted known-hosts file holds
/// lower-case hosts and written back parses to the same keys. Base64 is canonical: text that
/// decodes is the encoding of what it decodes to, and any bytes encode and decode back.
enum KeyFileProperties {
    static let path = "keys"

    static func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        let text = String(decoding: bytes, as: UTF8.self)
        let lineCount = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }.count
        let withComment = bytes + Array("\n# a comment\n\n".utf8)
        try checkTrustedSenders(TrustedSendersFile.parse(bytes, path: path), lineCount: lineCount)
        try require(
            TrustedSendersFile.parse(withComment, path: path) == TrustedSendersFile.parse(bytes, path: path),
            "a trailing comment changed the trusted senders")
        try checkKnownHosts(KnownHostsFile.parse(bytes, path: path), lineCount: lineCount)
        try require(
            KnownHostsFile.parse(withComment, path: path) == KnownHostsFile.parse(bytes, path: path),
            "a trailing comment changed the known hosts")
        try checkBase64(bytes, text: text)
    }

    static func checkErrors(_ errors: KeyFileErrors, lineCount: Int) throws(PropertyViolation) {
        try require(!errors.errors.isEmpty, "a failure without an error")
        var previous = 0
        for error in errors.errors {
            guard let line = error.line else { throw PropertyViolation("an error without a line: \(error)") }
            try require((1...lineCount).contains(line) && line >= previous, "error line \(line) of \(lineCount), after \(previous)")
            try require(error.description.hasPrefix("\(path):\(line): "), "error not as FILE:LINE: \(error)")
            try require(!error.message.contains { $0 == "\n" || $0 == "\r" || $0 == "\r\n" }, "error of more than one line: \(error)")
            previous = line
        }
    }

    static func checkTrustedSenders(_ result: Result<TrustedSenders, KeyFileErrors>, lineCount: Int) throws(PropertyViolation) {
        let trusted: TrustedSenders
        switch result {
        case .failure(let errors): return try checkErrors(errors, lineCount: lineCount)
        case .success(let parsed): trusted = parsed
        }
        var lines: [String] = []
        for (key, grant) in trusted.grants.sorted(by: { $0.key.rawRepresentation.lexicographicallyPrecedes($1.key.rawRepresentation) }) {
            try require(!grant.rights.isEmpty && SenderRights.default.union(.manage).isSuperset(of: grant.rights), "rights \(grant.rights)")
            if let prefix = grant.namePrefix {
                try require(
                    !prefix.isEmpty && !prefix.hasPrefix("/")
                        && !prefix.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
                        && !prefix.utf8.contains { $0 < 0x20 || $0 == 0x7F },
                    "names=\(prefix) is a prefix no spool name has")
            }
            try require(grant.comment.last?.isWhitespace != true, "comment '\(grant.comment)' ends in whitespace")
            let options = grant.rights.description + (grant.namePrefix.map { ",names=" + $0 } ?? "")
            lines.append(options + " " + PublicKeyLine.format(key, comment: grant.comment))
        }
        let rewritten = TrustedSendersFile.parse(Array(lines.joined(separator: "\n").utf8), path: path)
        try require(rewritten == .success(trusted), "written back as \(lines), the grants parse as \(rewritten)")
    }

    static func checkKnownHosts(_ result: Result<KnownHosts, KeyFileErrors>, lineCount: Int) throws(PropertyViolation) {
        let hosts: KnownHosts
        switch result {
        case .failure(let errors): return try checkErrors(errors, lineCount: lineCount)
        case .success(let parsed): hosts = parsed
        }
        var lines: [String] = []
        for (host, key) in hosts.keys.sorted(by: { $0.key < $1.key }) {
            try require(host == host.lowercased(), "host '\(host)' is not lower case")
            try require(!host.isEmpty && !host.contains { $0.isWhitespace }, "host '\(host)' is not one word")
            lines.append(host + " " + PublicKeyLine.format(key, comment: ""))
        }
        let rewritten = KnownHostsFile.parse(Array(lines.joined(separator: "\n").utf8), path: path)
        try require(rewritten == .success(hosts), "written back as \(lines), the hosts parse as \(rewritten)")
    }

    static func checkBase64(_ bytes: [UInt8], text: String) throws(PropertyViolation) {
        try require(Base64.decode(Base64.encode(bytes)) == bytes, "base64 of \(hex(bytes)) does not decode back")
        if let decoded = Base64.decode(text) {
            try require(Base64.encode(decoded) == text, "'\(text)' decodes, but is not how its bytes encode")
        }
    }
}
