#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One receiver named in a fleet file.
public struct FleetTarget: Equatable, Sendable {
    public var host: String
    public var port: Int
    /// As written in the file, for messages.
    public var text: String
    /// 1-based.
    public var line: Int
    /// The daemon's host key the line pins for this target, as written after it
    /// (`p2mp-ed25519 BASE64 [COMMENT]`); nil when the line has none. The caller decodes it
    /// (P2MPKeys), so this parser needs no cryptography and fuzzes without it.
    public var hostKey: String?

    public init(host: String, port: Int, text: String, line: Int, hostKey: String? = nil) {
        self.host = host
        self.port = port
        self.text = text
        self.line = line
        self.hostKey = hostKey
    }
}

/// One problem in a fleet file, printed as `PATH:LINE: MESSAGE` (or `PATH: MESSAGE` when no
/// line applies, as for an unreadable or empty file).
public struct FleetError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    /// 1-based.
    public var line: Int?
    /// What was wrong and what was expected.
    public var message: String

    public init(path: String, line: Int?, message: String) {
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "\(path):\(line): \(message)" } else { "\(path): \(message)" }
    }
}

/// Every problem in a fleet file, in line order; `description` is one per line.
/// (`Result` needs an `Error`, which `[FleetError]` is not.)
public struct FleetErrors: Error, Equatable, Sendable, CustomStringConvertible {
    public var errors: [FleetError]

    public init(_ errors: [FleetError]) {
        self.errors = errors
    }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// `p2mpsend push --fleet FILE`: one target per line, `#` comments, blank lines allowed.
/// Every problem is reported, each with its line, so a fleet is fixed in one go.
public enum FleetFile {
    /// The key type that starts a host key after a target (P2MPKeys' `PublicKeyLine.keyType`).
    public static let hostKeyType = "p2mp-ed25519"

    /// The targets in `text`, in file order, or every problem found.
    public static func parse(_ text: String, path: String, defaultPort: Int) -> Result<[FleetTarget], FleetErrors> {
        var targets: [FleetTarget] = []
        var errors: [FleetError] = []
        var firstLine: [String: Int] = [:]
        var sawTarget = false
        // A byte-order mark some editors write is not part of the first target.
        let text = text.unicodeScalars.first == "\u{FEFF}" ? String(text.unicodeScalars.dropFirst()) : text
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        for (offset, rawLine) in lines.enumerated() {
            let number = offset + 1
            let words = withoutComment(rawLine).split(whereSeparator: \.isWhitespace)
            guard let first = words.first else { continue }
            sawTarget = true
            func fail(_ message: String) { errors.append(FleetError(path: path, line: number, message: message)) }
            // TARGET, or TARGET p2mp-ed25519 BASE64 [COMMENT...]: the host key to pin.
            var hostKey: String?
            if words.count > 1, words[1] == Self.hostKeyType {
                hostKey = words.dropFirst().joined(separator: " ")
            } else if words.count > 1 {
                let line = words.joined(separator: " ")
                fail(
                    "'\(line)' has \(words.count) words "
                        + "(expected one target per line: HOST, HOST:PORT or [IPV6]:PORT, optionally followed by "
                        + "its host key, \(Self.hostKeyType) BASE64)")
                continue
            }
            let word = String(first)
            if word.contains("#") {
                fail("'\(word)' contains '#' (a comment starts with '#' at the beginning of a line or after a space)")
                continue
            }
            guard let (host, port) = splitTarget(word, defaultPort: defaultPort) else {
                fail("'\(word)' is not HOST, HOST:PORT or [IPV6]:PORT with a port in 1-65535")
                continue
            }
            // Host names are ASCII (international ones in their xn-- form), and so are
            // addresses: anything else (a stray byte-order mark, a control character) is a
            // damaged line, not a host to look up.
            if let odd = host.unicodeScalars.first(where: { !(0x21...0x7E).contains($0.value) }) {
                fail("'\(word)' has a character no host name or address has (U+\(Self.hex(odd.value)))")
                continue
            }
            let key = "\(host.lowercased()) \(port)"
            if let earlier = firstLine[key] {
                fail("'\(word)' is listed twice (first on line \(earlier))")
                continue
            }
            firstLine[key] = number
            targets.append(FleetTarget(host: host, port: port, text: word, line: number, hostKey: hostKey))
        }
        if !sawTarget {
            errors.append(FleetError(path: path, line: nil, message: "no targets (expected one HOST[:PORT] per line)"))
        }
        return errors.isEmpty ? .success(targets) : .failure(FleetErrors(errors))
    }

    /// Reads the file at `path` and parses it.
    public static func load(path: String, defaultPort: Int) -> Result<[FleetTarget], FleetErrors> {
        switch readFile(path) {
        case .success(let bytes): parse(String(decoding: bytes, as: UTF8.self), path: path, defaultPort: defaultPort)
        case .failure(let reason):
            .failure(FleetErrors([FleetError(path: path, line: nil, message: "cannot read: \(reason.text)")]))
        }
    }

    /// HOST, HOST:PORT, [IPV6]:PORT, [IPV6] or a bare IPv6 literal; nil for anything else, an
    /// empty host, or a port outside 1-65535.
    public static func splitTarget(_ text: String, defaultPort: Int) -> (host: String, port: Int)? {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard !host.isEmpty else { return nil }
            if rest.isEmpty { return (host, defaultPort) }
            guard rest.hasPrefix(":"), let port = parsePort(rest.dropFirst()) else { return nil }
            return (host, port)
        }
        let colons = text.count(where: { $0 == ":" })
        if colons == 1, let colon = text.firstIndex(of: ":") {
            guard colon > text.startIndex, let port = parsePort(text[text.index(after: colon)...]) else { return nil }
            return (String(text[..<colon]), port)
        }
        return text.isEmpty ? nil : (text, defaultPort)
    }

    /// A port in 1-65535 (the rule of `Endpoint.parsePort`, kept here so that fleet files
    /// parse without the transport layer, as the fuzz build compiles them).
    private static func parsePort(_ text: Substring) -> Int? {
        guard let port = Int(text), (1...65_535).contains(port) else { return nil }
        return port
    }

    private static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// The line up to a `#` that starts it or follows whitespace.
    private static func withoutComment(_ line: Substring) -> Substring {
        var previous: Character = " "
        for index in line.indices {
            if line[index] == "#" && previous.isWhitespace { return line[..<index] }
            previous = line[index]
        }
        return line
    }

    private struct ReadFailure: Error {
        var text: String
    }

    /// The file's bytes through open(2)/read(2), or strerror's text.
    private static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return .failure(ReadFailure(text: errorText(errno))) }
        defer { close(descriptor) }
        var contents: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(ReadFailure(text: errorText(errno)))
            }
            if count == 0 { return .success(contents) }
            contents += buffer[..<count]
        }
    }

    private static func errorText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}
