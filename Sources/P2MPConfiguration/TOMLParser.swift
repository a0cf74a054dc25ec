/// A parser of TOML 1.0 that is total: every input gives a document or a `TOMLSyntaxError`
/// with its line, never a trap, and its work and stack depth are bounded by the input size
/// and `maximumDepth`.
///
/// It is written by hand because no TOML package available to this project is total:
/// TOMLKit (toml++ underneath) asserts, and so aborts the process, on some malformed input,
/// which for p2mpd would mean a SIGHUP reload taking the daemon down. The whole language is
/// parsed (not only the flat subset p2mpd.toml uses) so that a file with tables, dates or
/// inline tables gets the loader's precise message, not a syntax error. Behaviour is
/// checked against Python's tomllib by `scripts/toml-differential.py` and fuzzed by
/// `Tests/Fuzz` (the `toml` and `config` targets).
struct TOMLParser {
    /// The deepest nesting of tables, arrays and inline tables; deeper input is refused
    /// rather than risking the stack. A table's depth is the number of parts of its full key
    /// (`[a.b]` is 2), an array or inline table is one deeper than the table holding it, and
    /// a key can name nothing deeper than this. The same document written with inline tables
    /// instead of headers has the same depths (the fuzz properties check it).
    static let maximumDepth = 64

    let bytes: [UInt8]
    var index = 0
    /// 1-based line of `bytes[index]`.
    var line = 1

    init(_ text: String) {
        bytes = Array(text.utf8)
    }

    /// Parses a whole document.
    static func parse(_ text: String) -> Result<TOMLDocument, TOMLSyntaxError> {
        var parser = TOMLParser(text)
        do {
            return .success(try parser.document())
        } catch {
            return .failure(error)
        }
    }

    // MARK: Statements

    private mutating func document() throws(TOMLSyntaxError) -> TOMLDocument {
        let root = TOMLTableBuilder(origin: .implicit)
        var section = root
        var sectionDepth = 0
        var rootKeyLines: [String: Int] = [:]
        var headers: [TOMLDocument.Header] = []
        while true {
            skipWhitespace()
            guard let byte = peek() else { break }
            let statementLine = line
            switch byte {
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "#"):
                break
            case UInt8(ascii: "["):
                let header = try tableHeader()
                do {
                    section = try header.isArray ? root.appendTable(header.path) : root.defineTable(header.path)
                } catch {
                    throw TOMLSyntaxError(line: statementLine, message: error.message)
                }
                sectionDepth = header.path.count
                headers.append(header)
            case _ where Self.startsKey(byte):
                let key = try self.key(depth: sectionDepth)
                try expectEquals(after: key)
                let value = try self.value(depth: sectionDepth + key.count - 1)
                do {
                    try section.setValue(value, at: key)
                } catch {
                    throw TOMLSyntaxError(line: statementLine, message: error.message)
                }
                if section === root, rootKeyLines[key[0]] == nil { rootKeyLines[key[0]] = statementLine }
            default:
                throw error("'\(Self.display(byte))' cannot start a statement, expected a key, a [table] header or a comment")
            }
            try endOfLine()
        }
        return TOMLDocument(root: root.table, rootKeyLines: rootKeyLines, headers: headers)
    }

    /// `[a.b]` or `[[a.b]]`, up to the closing bracket.
    private mutating func tableHeader() throws(TOMLSyntaxError) -> TOMLDocument.Header {
        let headerLine = line
        advance()
        let isArray = peek() == UInt8(ascii: "[")
        if isArray { advance() }
        skipWhitespace()
        guard let first = peek(), Self.startsKey(first) else { throw error("a table header must start with a key") }
        let path = try key(depth: 0)
        for _ in 0..<(isArray ? 2 : 1) {
            guard peek() == UInt8(ascii: "]") else {
                throw error(isArray ? "expected ']]' to end the array-of-tables header" : "expected ']' to end the table header")
            }
            advance()
        }
        return TOMLDocument.Header(path: path, isArray: isArray, line: headerLine)
    }

    /// After a statement: spaces, an optional comment, then a newline or the end.
    private mutating func endOfLine() throws(TOMLSyntaxError) {
        skipWhitespace()
        if peek() == UInt8(ascii: "#") { try comment() }
        guard let byte = peek() else { return }
        if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
            try newline()
            return
        }
        throw error("unexpected '\(Self.display(byte))' after the statement, expected a newline or a comment")
    }

    // MARK: Keys

    static func startsKey(_ byte: UInt8) -> Bool {
        isBareKeyByte(byte) || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'")
    }

    static func isBareKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            true
        default: false
        }
    }

    /// `a`, `"a b"`, `a . 'b' . c`: the parts, unquoted, with the spaces after the key skipped.
    /// `depth` is the nesting the key starts at, to bound the total.
    private mutating func key(depth: Int) throws(TOMLSyntaxError) -> [String] {
        var parts: [String] = []
        while true {
            skipWhitespace()
            guard let byte = peek() else { throw error("expected a key") }
            switch byte {
            case UInt8(ascii: "\""): parts.append(try basicString())
            case UInt8(ascii: "'"): parts.append(try literalString())
            case _ where Self.isBareKeyByte(byte):
                let start = index
                while let next = peek(), Self.isBareKeyByte(next) { advance() }
                parts.append(String(decoding: bytes[start..<index], as: UTF8.self))
            default:
                throw error("'\(Self.display(byte))' cannot start a key, expected a bare key (A-Z a-z 0-9 _ -) or a quoted one")
            }
            guard depth + parts.count <= Self.maximumDepth else {
                throw error("tables and keys nested deeper than \(Self.maximumDepth) levels")
            }
            skipWhitespace()
            guard peek() == UInt8(ascii: ".") else { return parts }
            advance()
        }
    }

    private mutating func expectEquals(after key: [String]) throws(TOMLSyntaxError) {
        guard peek() == UInt8(ascii: "=") else {
            let name = key.map(ConfigurationLoader.displayKeyPart).joined(separator: ".")
            throw error("expected '=' after the key '\(name)'")
        }
        advance()
        skipWhitespace()
    }

    // MARK: Values

    /// The value at the current position; `depth` is the nesting it sits at.
    mutating func value(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        guard let byte = peek() else { throw error("expected a value, found the end of the file") }
        switch byte {
        case UInt8(ascii: "\""): return .string(isAt("\"\"\"") ? try multilineBasicString() : try basicString())
        case UInt8(ascii: "'"): return .string(isAt("'''") ? try multilineLiteralString() : try literalString())
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "{"): return try inlineTable(depth: depth + 1)
        case UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "#"):
            throw error("expected a value on the same line")
        default: return try bareValue()
        }
    }

    private mutating func array(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        guard depth <= Self.maximumDepth else { throw error("arrays nested deeper than \(Self.maximumDepth) levels") }
        advance()
        var elements: [TOMLValue] = []
        while true {
            try skipArrayWhitespace()
            guard let byte = peek() else { throw error("unterminated array, expected ']'") }
            if byte == UInt8(ascii: "]") {
                advance()
                return .array(elements)
            }
            if byte == UInt8(ascii: "}") { throw mismatchedBracket(byte) }
            elements.append(try value(depth: depth))
            try skipArrayWhitespace()
            switch peek() {
            case UInt8(ascii: ","): advance()
            case UInt8(ascii: "]"):
                advance()
                return .array(elements)
            case UInt8(ascii: "}"): throw mismatchedBracket(UInt8(ascii: "}"))
            case nil: throw error("unterminated array, expected ']'")
            case let other?: throw error("unexpected '\(Self.display(other))' in an array, expected ',' or ']'")
            }
        }
    }

    /// `{ a = 1, b.c = "x" }`, on one line, without a trailing comma (TOML 1.0).
    private mutating func inlineTable(depth: Int) throws(TOMLSyntaxError) -> TOMLValue {
        guard depth <= Self.maximumDepth else { throw error("inline tables nested deeper than \(Self.maximumDepth) levels") }
        advance()
        let table = TOMLTableBuilder(origin: .implicit)
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            advance()
            return .table(table.table)
        }
        while true {
            skipWhitespace()
            guard let byte = peek(), Self.startsKey(byte) else {
                throw inlineTableError(expected: "a key (no trailing comma after the last value)")
            }
            let key = try self.key(depth: depth)
            try expectEquals(after: key)
            let value = try self.value(depth: depth + key.count - 1)
            do {
                try table.setValue(value, at: key)
            } catch {
                throw self.error(error.message)
            }
            skipWhitespace()
            switch peek() {
            case UInt8(ascii: ","): advance()
            case UInt8(ascii: "}"):
                advance()
                return .table(table.table)
            case UInt8(ascii: "]"): throw mismatchedBracket(UInt8(ascii: "]"))
            default: throw inlineTableError(expected: "',' or '}'")
            }
        }
    }

    private func inlineTableError(expected: String) -> TOMLSyntaxError {
        guard let byte = peek() else { return error("unterminated inline table, expected '}'") }
        if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
            return error("an inline table must end on the line it starts, expected \(expected)")
        }
        return error("unexpected '\(Self.display(byte))' in an inline table, expected \(expected)")
    }

    private func mismatchedBracket(_ byte: UInt8) -> TOMLSyntaxError {
        error(
            "'\(Self.display(byte))' does not match its opening bracket, "
                + "expected ']' to close an array and '}' an inline table")
    }

    // MARK: Scanning

    func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    func isAt(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        return text.withUTF8Buffer { $0.elementsEqual(bytes[index..<index + count]) }
    }

    /// Moves past one byte that is not a newline (`newline()` counts lines).
    mutating func advance(_ count: Int = 1) {
        index = min(index + count, bytes.count)
    }

    /// Moves past LF or CRLF; a lone CR is an error.
    mutating func newline() throws(TOMLSyntaxError) {
        if peek() == UInt8(ascii: "\r") {
            guard peek(1) == UInt8(ascii: "\n") else { throw error("a carriage return must be followed by a line feed") }
            advance()
        }
        advance()
        line += 1
    }

    mutating func skipWhitespace() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") { advance() }
    }

    /// Spaces, newlines and comments, as allowed between the elements of an array.
    private mutating func skipArrayWhitespace() throws(TOMLSyntaxError) {
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"): advance()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try newline()
            case UInt8(ascii: "#"): try comment()
            default: return
            }
        }
    }

    func error(_ message: String) -> TOMLSyntaxError {
        TOMLSyntaxError(line: line, message: message)
    }

    /// A byte for a message: itself when printable ASCII, else `\xNN`.
    static func display(_ byte: UInt8) -> String {
        if (0x20..<0x7F).contains(byte) { return String(Character(Unicode.Scalar(byte))) }
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
    }
}
