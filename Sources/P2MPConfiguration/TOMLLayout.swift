/// Where things are in a TOML text that already parsed: the line of each top-level key and of
/// each table header. TOMLKit reports positions only for syntax errors, so error messages
/// about values take their line from here.
///
/// This is a small lexer, not a parser: it skips strings (all four kinds), comments and
/// bracketed values so that a `key =` inside a multi-line string or array is not taken for a
/// statement. It assumes valid TOML; on anything else its answers are merely incomplete.
struct TOMLLayout {
    struct Header: Equatable {
        /// The segments of the name between the brackets, quotes removed: `["a", "b"]` for `[a.b]`.
        var path: [String]
        /// `[[name]]` rather than `[name]`.
        var isArray: Bool
        var line: Int
    }

    /// The first line of each key set at the top level (before any header); for a dotted key
    /// (`a.b = 1`) the first segment.
    private(set) var rootKeyLines: [String: Int] = [:]
    private(set) var headers: [Header] = []
    /// The first line with a `\u0000` escape. TOMLKit passes keys as C strings, so a key
    /// holding NUL cannot be looked up again (its iterator traps): such text must be refused
    /// before the table is read.
    private(set) var firstEscapedNulLine: Int?
    /// The first syntax error among those that toml++ (inside TOMLKit 0.6.0) asserts on instead
    /// of reporting, which would abort the daemon: `}` closing an array (`[1, }`), `]` closing
    /// an inline table, a table header that does not start with a key (`[/t]`). Such text must
    /// be refused before TOMLKit sees it.
    private(set) var parserHazard: (line: Int, message: String)?

    init(_ text: String) {
        var scanner = Scanner(bytes: Array(text.utf8))
        var inSection = false
        while true {
            scanner.skipTrivia()
            guard let byte = scanner.peek() else { break }
            let line = scanner.line
            if byte == UInt8(ascii: "[") {
                scanner.advance()
                let isArray = scanner.peek() == UInt8(ascii: "[")
                if isArray { scanner.advance() }
                scanner.skipSpaces()
                if let next = scanner.peek(), !Scanner.isBareKeyByte(next), next != UInt8(ascii: "\""),
                    next != UInt8(ascii: "'"), next != UInt8(ascii: "]")
                {
                    scanner.flag("a table header must start with a key")
                }
                let path = scanner.keyPath()
                headers.append(Header(path: path, isArray: isArray, line: line))
                inSection = true
                scanner.skipToEndOfLine()
            } else {
                let path = scanner.keyPath()
                guard let first = path.first, scanner.peek() == UInt8(ascii: "=") else {
                    scanner.skipToEndOfLine()  // not valid TOML; move on
                    continue
                }
                scanner.advance()
                if !inSection && rootKeyLines[first] == nil { rootKeyLines[first] = line }
                scanner.skipValue()
            }
        }
        firstEscapedNulLine = scanner.escapedNulLine
        parserHazard = scanner.hazard
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        var line = 1
        var escapedNulLine: Int?
        var hazard: (line: Int, message: String)?

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        func peek(_ offset: Int = 0) -> UInt8? {
            index + offset < bytes.count ? bytes[index + offset] : nil
        }

        mutating func advance(_ count: Int = 1) {
            for _ in 0..<count where index < bytes.count {
                if bytes[index] == UInt8(ascii: "\n") { line += 1 }
                index += 1
            }
        }

        func isAt(_ text: String) -> Bool {
            var offset = 0
            for byte in text.utf8 {
                guard peek(offset) == byte else { return false }
                offset += 1
            }
            return true
        }

        mutating func skipSpaces() {
            while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
        }

        /// Spaces, newlines and comments between statements.
        mutating func skipTrivia() {
            while let byte = peek() {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): advance()
                case UInt8(ascii: "#"): skipComment()
                default: return
                }
            }
        }

        mutating func skipComment() {
            while let byte = peek(), byte != UInt8(ascii: "\n") { advance() }
        }

        /// To just past the next newline that is not inside a string (headers end this way).
        mutating func skipToEndOfLine() {
            while let byte = peek() {
                switch byte {
                case UInt8(ascii: "\n"):
                    advance()
                    return
                case UInt8(ascii: "#"): skipComment()
                case UInt8(ascii: "\""), UInt8(ascii: "'"): _ = string()
                default: advance()
                }
            }
        }

        /// `a`, `"a b"`, `a.'b'.c`: the segments, unquoted. Stops before `=` or `]`.
        mutating func keyPath() -> [String] {
            var segments: [String] = []
            while true {
                skipSpaces()
                guard let byte = peek() else { break }
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                    segments.append(string())
                } else {
                    let start = index
                    while let byte = peek(), Self.isBareKeyByte(byte) { advance() }
                    guard index > start else { break }
                    segments.append(String(decoding: bytes[start..<index], as: UTF8.self))
                }
                skipSpaces()
                guard peek() == UInt8(ascii: ".") else { break }
                advance()
            }
            return segments
        }

        static func isBareKeyByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
                true
            default: false
            }
        }

        /// A value up to the newline that ends its statement, across arrays that span lines.
        /// On the way it checks the shapes toml++ assumes without checking (see `hazard`):
        /// brackets that match, and bare values (numbers, booleans, dates) that are well formed.
        mutating func skipValue() {
            var open: [UInt8] = []  // the opening brackets not closed yet
            var expectKey = false  // at the start of an inline table's key-value pair
            while let byte = peek() {
                if expectKey && (Self.isBareKeyByte(byte) || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")) {
                    _ = keyPath()
                    expectKey = false
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "'"): _ = string()
                case UInt8(ascii: "["), UInt8(ascii: "{"):
                    open.append(byte)
                    expectKey = byte == UInt8(ascii: "{")
                    advance()
                case UInt8(ascii: "]"), UInt8(ascii: "}"):
                    let expected = byte == UInt8(ascii: "]") ? UInt8(ascii: "[") : UInt8(ascii: "{")
                    if let last = open.popLast(), last != expected {
                        flag(
                            "'\(Character(Unicode.Scalar(byte)))' does not match its opening bracket, "
                                + "expected ']' to close an array and '}' an inline table")
                    }
                    expectKey = false
                    advance()
                case UInt8(ascii: ","):
                    expectKey = open.last == UInt8(ascii: "{")
                    advance()
                case UInt8(ascii: "#"): skipComment()
                case UInt8(ascii: "\n"):
                    advance()
                    if open.isEmpty { return }
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "="): advance()
                default:
                    let start = index
                    while let next = peek(), !Self.endsBareValue(next) { advance() }
                    if index == start {
                        advance()
                    } else if !BareValue.isWellFormed(bytes[start..<index]) {
                        let token = String(decoding: bytes[start..<index].prefix(40), as: UTF8.self)
                        flag("invalid value '\(token)', expected a string, a number, true, false, an array or a date")
                    }
                }
            }
        }

        mutating func flag(_ message: String) {
            if hazard == nil { hazard = (line, message) }
        }

        static func endsBareValue(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: ","),
                UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "#"),
                UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "="):
                true
            default: false
            }
        }

        /// Any of TOML's four string forms, starting at its opening quote; returns its content
        /// (escapes decoded for the forms used in keys).
        mutating func string() -> String {
            guard let quote = peek() else { return "" }
            let isBasic = quote == UInt8(ascii: "\"")
            let delimiter = isBasic ? "\"\"\"" : "'''"
            let multiline = isAt(delimiter)
            advance(multiline ? 3 : 1)
            var content: [UInt8] = []
            while let byte = peek() {
                if byte == quote && (!multiline || isAt(delimiter)) {
                    if multiline {
                        advance(3)
                        // Up to two more quotes belong to the content (`""""` ends with one `"`).
                        var extra = 0
                        while extra < 2 && peek() == quote {
                            content.append(quote)
                            advance()
                            extra += 1
                        }
                    } else {
                        advance()
                    }
                    break
                }
                if byte == UInt8(ascii: "\n") && !multiline { break }  // invalid; stop here
                if isBasic && byte == UInt8(ascii: "\\") {
                    advance()
                    content += decodeEscape()
                    continue
                }
                content.append(byte)
                advance()
            }
            return String(decoding: content, as: UTF8.self)
        }

        /// After a backslash in a basic string.
        mutating func decodeEscape() -> [UInt8] {
            guard let byte = peek() else { return [] }
            advance()
            switch byte {
            case UInt8(ascii: "n"): return [0x0A]
            case UInt8(ascii: "t"): return [0x09]
            case UInt8(ascii: "r"): return [0x0D]
            case UInt8(ascii: "b"): return [0x08]
            case UInt8(ascii: "f"): return [0x0C]
            case UInt8(ascii: "u"), UInt8(ascii: "U"):
                let count = byte == UInt8(ascii: "u") ? 4 : 8
                var hex = ""
                for _ in 0..<count {
                    guard let digit = peek() else { break }
                    hex.unicodeScalars.append(Unicode.Scalar(digit))
                    advance()
                }
                guard let value = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(value) else { return [] }
                if value == 0 && escapedNulLine == nil { escapedNulLine = line }
                return Array(String(Character(scalar)).utf8)
            default:
                return [byte]  // \" and \\, and a line-ending backslash's newline (content unused)
            }
        }
    }
}

/// The shapes of TOML's unquoted values (TOML 1.0): booleans, integers (decimal, hex, octal,
/// binary, with single underscores between digits), floats (with exponent, inf, nan), and
/// dates, times and date-times. Range checks (month 13, integer overflow) are left to toml++,
/// which reports them; only the shape matters here.
enum BareValue {
    static func isWellFormed(_ token: ArraySlice<UInt8>) -> Bool {
        let text = String(decoding: token, as: UTF8.self)
        if text == "true" || text == "false" { return true }
        var body = Substring(text)
        if let first = body.first, first == "+" || first == "-" {
            body = body.dropFirst()
            if body == "inf" || body == "nan" { return true }
            return isDecimal(body)
        }
        if body == "inf" || body == "nan" { return true }
        if body.hasPrefix("0x") { return isDigits(body.dropFirst(2), \.isHexDigit) }
        if body.hasPrefix("0o") { return isDigits(body.dropFirst(2)) { ("0"..."7").contains($0) } }
        if body.hasPrefix("0b") { return isDigits(body.dropFirst(2)) { $0 == "0" || $0 == "1" } }
        return isDecimal(body) || isDateOrTime(body)
    }

    /// `1`, `1_000`, `0`, `3.14`, `6e-3`, `1.5E+10` (no sign, no leading zero).
    static func isDecimal(_ text: Substring) -> Bool {
        var rest = text
        let integer = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
        rest = rest.dropFirst(integer.count)
        guard isDigits(integer, isDecimalDigit), integer == "0" || integer.first != "0" else { return false }
        if rest.first == "." {
            let fraction = rest.dropFirst().prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
            guard isDigits(fraction, isDecimalDigit) else { return false }
            rest = rest.dropFirst(1 + fraction.count)
        }
        if let e = rest.first, e == "e" || e == "E" {
            rest = rest.dropFirst()
            if let sign = rest.first, sign == "+" || sign == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix { $0.isASCII && ($0.isNumber || $0 == "_") }
            guard isDigits(exponent, isDecimalDigit) else { return false }
            rest = rest.dropFirst(exponent.count)
        }
        return rest.isEmpty
    }

    /// Digits with single underscores between them.
    static func isDigits(_ text: Substring, _ isDigit: (Character) -> Bool) -> Bool {
        guard let first = text.first, let last = text.last, isDigit(first), isDigit(last) else { return false }
        var previousWasUnderscore = false
        for character in text {
            if character == "_" {
                if previousWasUnderscore { return false }
                previousWasUnderscore = true
            } else {
                guard isDigit(character) else { return false }
                previousWasUnderscore = false
            }
        }
        return true
    }

    static func isDecimalDigit(_ character: Character) -> Bool {
        character.isASCII && character.isNumber
    }

    /// `1979-05-27`, `07:32:00`, `07:32:00.5`, `1979-05-27T07:32:00Z`, `…T07:32:00-07:00`;
    /// a date-time written with a space is two tokens, each checked here.
    static func isDateOrTime(_ text: Substring) -> Bool {
        var rest = text
        func take(_ pattern: String) -> Bool {
            // `d` is a digit; anything else must match itself.
            guard rest.count >= pattern.count else { return false }
            for (expected, actual) in zip(pattern, rest) {
                if expected == "d" ? !isDecimalDigit(actual) : expected != actual { return false }
            }
            rest = rest.dropFirst(pattern.count)
            return true
        }
        func time() -> Bool {
            guard take("dd:dd:dd") else { return false }
            if rest.first == "." {
                rest = rest.dropFirst()
                let digits = rest.prefix(while: isDecimalDigit)
                guard !digits.isEmpty else { return false }
                rest = rest.dropFirst(digits.count)
            }
            if let zone = rest.first, zone == "Z" || zone == "z" {
                rest = rest.dropFirst()
            } else if let sign = rest.first, sign == "+" || sign == "-" {
                rest = rest.dropFirst()
                guard take("dd:dd") else { return false }
            }
            return rest.isEmpty
        }
        if take("dddd-dd-dd") {
            if rest.isEmpty { return true }
            guard let separator = rest.first, separator == "T" || separator == "t" else { return false }
            rest = rest.dropFirst()
            return time()
        }
        rest = text
        return time()
    }
}
