// TOML's four string forms and comments. The text is valid UTF-8 (the loader checked), so
// bytes other than the delimiters are copied as they are; control characters other than
// tab must be escaped in basic strings and cannot appear in literal strings or comments.

extension TOMLParser {
    /// `"..."`, with escapes; at the opening quote.
    mutating func basicString() throws(TOMLSyntaxError) -> String {
        advance()
        var content: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string, expected '\"'") }
            switch byte {
            case UInt8(ascii: "\""):
                advance()
                return String(decoding: content, as: UTF8.self)
            case UInt8(ascii: "\\"):
                advance()
                try escape(into: &content)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error("unterminated string: a basic string ends on its line, expected '\"' (or '\"\"\"' for several lines)")
            default:
                try checkStringByte(byte)
                content.append(byte)
                advance()
            }
        }
    }

    /// `"""..."""`: escapes, newlines kept (CRLF as LF), a newline right after the opening
    /// quotes dropped, and a backslash at the end of a line removing the line break and the
    /// whitespace after it.
    mutating func multilineBasicString() throws(TOMLSyntaxError) -> String {
        advance(3)
        try skipNewlineAfterOpening()
        var content: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string, expected '\"\"\"'") }
            switch byte {
            case UInt8(ascii: "\""):
                if isAt("\"\"\"") {
                    advance(3)
                    closingQuotes(UInt8(ascii: "\""), into: &content)
                    return String(decoding: content, as: UTF8.self)
                }
                content.append(byte)
                advance()
            case UInt8(ascii: "\\"):
                advance()
                if let next = peek(), Self.startsLineEndingBackslash(next) {
                    try lineEndingBackslash()
                } else {
                    try escape(into: &content)
                }
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
                content.append(UInt8(ascii: "\n"))
            default:
                try checkStringByte(byte)
                content.append(byte)
                advance()
            }
        }
    }

    /// `'...'`, taken as written; at the opening quote.
    mutating func literalString() throws(TOMLSyntaxError) -> String {
        advance()
        let start = index
        while true {
            guard let byte = peek() else { throw error("unterminated string, expected \"'\"") }
            switch byte {
            case UInt8(ascii: "'"):
                let content = String(decoding: bytes[start..<index], as: UTF8.self)
                advance()
                return content
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                throw error("unterminated string: a literal string ends on its line, expected \"'\" (or \"'''\" for several lines)")
            default:
                try checkStringByte(byte)
                advance()
            }
        }
    }

    /// `'''...'''`, taken as written but for CRLF (kept as LF) and a newline right after the
    /// opening quotes.
    mutating func multilineLiteralString() throws(TOMLSyntaxError) -> String {
        advance(3)
        try skipNewlineAfterOpening()
        var content: [UInt8] = []
        while true {
            guard let byte = peek() else { throw error("unterminated string, expected \"'''\"") }
            switch byte {
            case UInt8(ascii: "'") where isAt("'''"):
                advance(3)
                closingQuotes(UInt8(ascii: "'"), into: &content)
                return String(decoding: content, as: UTF8.self)
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                try newline()
                content.append(UInt8(ascii: "\n"))
            default:
                try checkStringByte(byte)
                content.append(byte)
                advance()
            }
        }
    }

    /// A comment, from `#` to the end of its line (not included).
    mutating func comment() throws(TOMLSyntaxError) {
        while let byte = peek(), byte != UInt8(ascii: "\n") {
            if byte == UInt8(ascii: "\r") && peek(1) == UInt8(ascii: "\n") { return }
            guard !Self.isControl(byte) else {
                throw error("control character \(Self.display(byte)) in a comment, expected text")
            }
            advance()
        }
    }

    // MARK: Pieces

    private mutating func skipNewlineAfterOpening() throws(TOMLSyntaxError) {
        if peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") { try newline() }
    }

    /// Up to two quotes right after the closing three belong to the content (`""""` ends a
    /// string with one `"`).
    private mutating func closingQuotes(_ quote: UInt8, into content: inout [UInt8]) {
        for _ in 0..<2 where peek() == quote {
            content.append(quote)
            advance()
        }
    }

    /// Tab is the only control character a string may hold unescaped.
    private func checkStringByte(_ byte: UInt8) throws(TOMLSyntaxError) {
        guard !Self.isControl(byte) else {
            throw error("control character \(Self.display(byte)) in a string, expected it escaped (such as \\u0001)")
        }
    }

    /// U+0000-U+001F but tab, and DEL.
    static func isControl(_ byte: UInt8) -> Bool {
        (byte < 0x20 && byte != UInt8(ascii: "\t")) || byte == 0x7F
    }

    private static func startsLineEndingBackslash(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\n")
            || byte == UInt8(ascii: "\r")
    }

    /// After a backslash followed by whitespace: only spaces may stand before the newline;
    /// the newline and every space and newline after it are dropped.
    private mutating func lineEndingBackslash() throws(TOMLSyntaxError) {
        skipWhitespace()
        guard peek() == UInt8(ascii: "\n") || peek() == UInt8(ascii: "\r") else {
            throw error("a backslash in a string must start an escape or end its line")
        }
        while let byte = peek() {
            switch byte {
            case UInt8(ascii: " "), UInt8(ascii: "\t"): advance()
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try newline()
            default: return
            }
        }
    }

    /// After a backslash: one of `\b \t \n \f \r \" \\ \uXXXX \UXXXXXXXX`.
    private mutating func escape(into content: inout [UInt8]) throws(TOMLSyntaxError) {
        guard let byte = peek() else { throw error("unterminated string after a backslash") }
        advance()
        switch byte {
        case UInt8(ascii: "b"): content.append(0x08)
        case UInt8(ascii: "t"): content.append(0x09)
        case UInt8(ascii: "n"): content.append(0x0A)
        case UInt8(ascii: "f"): content.append(0x0C)
        case UInt8(ascii: "r"): content.append(0x0D)
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): content.append(byte)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = byte == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for _ in 0..<digits {
                guard let digit = peek().flatMap(Self.hexValue) else {
                    throw error("\\\(Character(Unicode.Scalar(byte))) takes exactly \(digits) hex digits")
                }
                value = value << 4 | UInt32(digit)
                advance()
            }
            guard let scalar = Unicode.Scalar(value) else {
                let code = String(value, radix: 16, uppercase: true)
                throw error("escape of U+\(code), which is not a Unicode scalar value")
            }
            content += Array(String(Character(scalar)).utf8)
        default:
            throw error(
                "invalid escape '\\\(Self.display(byte))', expected one of \\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX")
        }
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
