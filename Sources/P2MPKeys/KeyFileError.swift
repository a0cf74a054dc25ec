/// One problem in a key file, printed as `PATH:LINE: MESSAGE` (or `PATH: MESSAGE` when no
/// line applies, as for an unreadable file or a private key others can read), in the style
/// of the configuration's errors.
public struct KeyFileError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    /// 1-based.
    public var line: Int?
    /// What was wrong and what was expected.
    public var message: String

    public init(path: String, line: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "\(path):\(line): \(message)" } else { "\(path): \(message)" }
    }
}

/// Every problem in one file, in line order; `description` is one per line.
public struct KeyFileErrors: Error, Equatable, Sendable, CustomStringConvertible {
    public var errors: [KeyFileError]

    public init(_ errors: [KeyFileError]) {
        self.errors = errors
    }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
