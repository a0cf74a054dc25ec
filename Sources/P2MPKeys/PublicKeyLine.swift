import P2MPSecurity

/// `p2mp-ed25519 BASE64 COMMENT`: how a public key is written in `.pub` files, trusted-senders
/// and known-hosts, like ssh's `ssh-ed25519 AAAA… user@host`.
public enum PublicKeyLine {
    public static let keyType = "p2mp-ed25519"

    public static func format(_ key: IdentityKey, comment: String) -> String {
        let line = keyType + " " + Base64.encode(key.rawRepresentation)
        return comment.isEmpty ? line : line + " " + comment
    }

    /// The key in `type` and `base64`, or why not.
    static func key(type: Substring, base64: Substring?) -> Result<IdentityKey, KeyLineProblem> {
        guard type == keyType else { return .failure(.unknownType(String(type))) }
        guard let base64 else { return .failure(.missingKey) }
        guard let bytes = Base64.decode(base64) else { return .failure(.notBase64) }
        guard let key = IdentityKey(rawRepresentation: bytes) else { return .failure(.notAKey(bytes.count)) }
        return .success(key)
    }

    /// The key and comment of a whole public line, or a message saying what is wrong.
    public static func parse(_ line: String) -> Result<(key: IdentityKey, comment: String), KeyLineProblem> {
        let words = line.split(maxSplits: 2, omittingEmptySubsequences: true, whereSeparator: \.isWhitespace)
        guard let type = words.first else { return .failure(.missingKey) }
        return key(type: type, base64: words.count > 1 ? words[1] : nil).map { key in
            (key, words.count > 2 ? String(words[2]).trimmingTrailingWhitespace : "")
        }
    }
}

/// What is wrong with the key part of a line.
public enum KeyLineProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownType(String)
    case missingKey
    case notBase64
    case notAKey(Int)

    public var description: String {
        switch self {
        case .unknownType(let type): "unknown key type '\(type)' (expected \(PublicKeyLine.keyType))"
        case .missingKey: "no key (expected \(PublicKeyLine.keyType) BASE64 [COMMENT])"
        case .notBase64: "the key is not valid base64"
        case .notAKey(let count): "the key is \(count) bytes, not a 32-byte Ed25519 public key"
        }
    }
}

extension StringProtocol {
    var trimmingTrailingWhitespace: String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return String(text)
    }
}

/// The lines of a text file with their 1-based numbers, a `#` line or blank line left out,
/// a byte-order mark ignored.
func meaningfulLines(_ bytes: [UInt8]) -> [(number: Int, text: Substring)] {
    var text = String(decoding: bytes, as: UTF8.self)
    if text.unicodeScalars.first == "\u{FEFF}" { text = String(text.unicodeScalars.dropFirst()) }
    let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
    return lines.enumerated().compactMap { offset, line in
        let trimmed = line.drop(while: \.isWhitespace)
        return trimmed.isEmpty || trimmed.hasPrefix("#") ? nil : (offset + 1, trimmed)
    }
}
