@preconcurrency import Crypto
import P2MPSecurity

/// An Ed25519 key pair on disk, as ssh keeps one: PATH holds the private key, readable by its
/// owner only, and PATH.pub the public line `p2mp-ed25519 BASE64 COMMENT`.
///
/// The private file is one line, `p2mp-ed25519-private BASE64 COMMENT`, the base64 of the
/// key's 32-byte seed (RFC 8032). A private file that its group or others may read is refused
/// with its mode, as ssh refuses one.
public struct KeyPairFile: Sendable {
    public static let privateKeyType = "p2mp-ed25519-private"

    public let privateKey: Curve25519.Signing.PrivateKey
    public let comment: String

    public var publicKey: IdentityKey { IdentityKey(privateKey.publicKey) }
    public var publicLine: String { PublicKeyLine.format(publicKey, comment: comment) }

    public init(privateKey: Curve25519.Signing.PrivateKey, comment: String) {
        self.privateKey = privateKey
        self.comment = comment
    }

    /// A new random key pair.
    public static func generate(comment: String) -> KeyPairFile {
        KeyPairFile(privateKey: Curve25519.Signing.PrivateKey(), comment: comment)
    }

    /// Reads the private key at `path`, refusing a file that group or others may read.
    public static func load(path: String) -> Result<KeyPairFile, KeyFileError> {
        switch KeyFileIO.read(path) {
        case .missing: return .failure(KeyFileError(path: path, message: "no such file"))
        case .failed(let reason): return .failure(KeyFileError(path: path, message: reason))
        case .contents(let contents):
            guard contents.mode & 0o077 == 0 else {
                return .failure(
                    KeyFileError(
                        path: path,
                        message:
                            "permissions \(KeyFileIO.octal(contents.mode)) are too open: a private key must be "
                            + "accessible by its owner only (chmod 600 \(path))"))
            }
            return parse(contents.bytes, path: path)
        }
    }

    /// Reads the key at `path`, or makes one there (mode 0600, with PATH.pub) when none
    /// exists: a daemon's host key on first start. Never replaces an existing file.
    public static func loadOrCreate(path: String, comment: String) -> Result<(keyPair: KeyPairFile, created: Bool), KeyFileError> {
        if case .missing = KeyFileIO.read(path) {
            let keyPair = generate(comment: comment)
            switch keyPair.write(path: path) {
            case .success: return .success((keyPair, true))
            // Another process made it first: use that one.
            case .failure(let error) where error.message == "already exists": break
            case .failure(let error): return .failure(error)
            }
        }
        return load(path: path).map { ($0, false) }
    }

    /// Writes PATH (mode 0600) and PATH.pub (mode 0644); refuses to replace either.
    public func write(path: String) -> Result<Void, KeyFileError> {
        let seed = Array(privateKey.rawRepresentation)
        var line = Self.privateKeyType + " " + Base64.encode(seed)
        if !comment.isEmpty { line += " " + comment }
        if let failure = KeyFileIO.createNew(path, bytes: Array((line + "\n").utf8), mode: 0o600) {
            return .failure(KeyFileError(path: path, message: failure))
        }
        let publicPath = path + ".pub"
        if let failure = KeyFileIO.createNew(publicPath, bytes: Array((publicLine + "\n").utf8), mode: 0o644) {
            return .failure(KeyFileError(path: publicPath, message: failure))
        }
        return .success(())
    }

    static func parse(_ bytes: [UInt8], path: String) -> Result<KeyPairFile, KeyFileError> {
        let lines = meaningfulLines(bytes)
        guard let (number, text) = lines.first else {
            return .failure(KeyFileError(path: path, message: "is empty (expected \(privateKeyType) BASE64 [COMMENT])"))
        }
        func fail(_ message: String) -> KeyFileError { KeyFileError(path: path, line: number, message: message) }
        guard lines.count == 1 else {
            return .failure(KeyFileError(path: path, line: lines[1].number, message: "a private key file holds one line"))
        }
        let words = text.split(maxSplits: 2, omittingEmptySubsequences: true, whereSeparator: \.isWhitespace)
        guard words.first == Substring(privateKeyType) else {
            return .failure(fail("not a p2mp private key (expected \(privateKeyType) BASE64 [COMMENT])"))
        }
        guard words.count > 1, let seed = Base64.decode(words[1]), seed.count == 32,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: seed)
        else { return .failure(fail("the key is not the base64 of a 32-byte Ed25519 seed")) }
        return .success(KeyPairFile(privateKey: key, comment: words.count > 2 ? words[2].trimmingTrailingWhitespace : ""))
    }
}
