/// One problem in a configuration source, printed as `FILE:LINE: MESSAGE` (or `FILE: MESSAGE`
/// when no line applies, as for an unreadable file or a command-line flag).
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file's path as given, or `command line`.
    public var file: String
    /// 1-based.
    public var line: Int?
    /// What was wrong and what was expected.
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "\(file):\(line): \(message)" } else { "\(file): \(message)" }
    }
}

/// Every problem found while loading: all files are read to the end, so an operator fixes
/// them in one go. `description` is one error per line.
public struct ConfigurationErrors: Error, CustomStringConvertible, Sendable, Equatable {
    public var errors: [ConfigurationError]

    public init(_ errors: [ConfigurationError]) {
        self.errors = errors
    }

    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }
}
