/// The JSON the spool writes and reads: one object whose values are strings, numbers or
/// null, no nesting. Small enough to keep Foundation out of the spool; the reader accepts
/// any whitespace and escape a JSON writer may produce, so files edited by hand still parse.
enum FlatJSON {
    enum Value: Equatable {
        case string(String)
        /// The number's text, converted by the accessor that wants it.
        case number(String)
        case bool(Bool)
        case null
    }

    // MARK: writing

    /// `fields` as one JSON object on one line, in order, with a final newline.
    static func encode(_ fields: [(String, Value)]) -> String {
        var text = "{"
        for (index, (key, value)) in fields.enumerated() {
            if index > 0 { text += "," }
            text += quoted(key) + ":"
            switch value {
            case .string(let string): text += quoted(string)
            case .number(let number): text += number
            case .bool(let bool): text += bool ? "true" : "false"
            case .null: text += "null"
            }
        }
        return text + "}\n"
    }

    static func number(_ value: UInt64) -> Value { .number(String(value)) }
    static func number(_ value: Int64) -> Value { .number(String(value)) }
    /// Non-finite values are not JSON; they are written as null.
    static func number(_ value: Double) -> Value { value.isFinite ? .number(String(value)) : .null }

    private static func quoted(_ string: String) -> String {
        var text = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                text += "\\u00" + Hex.byte(UInt8(scalar.value))
            default: text.unicodeScalars.append(scalar)
            }
        }
        return text + "\""
    }

    // MARK: reading

    /// The fields of a flat JSON object, nil for anything else (including duplicate keys).
    static func decode(_ bytes: [UInt8]) -> [String: Value]? {
        var parser = Parser(bytes: bytes)
        return parser.object()
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) {
            self.bytes = bytes
        }

        mutating func object() -> [String: Value]? {
            skipSpace()
            guard take(UInt8(ascii: "{")) else { return nil }
            var fields: [String: Value] = [:]
            skipSpace()
            if !take(UInt8(ascii: "}")) {
                repeat {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard take(UInt8(ascii: ":")), let value = value(), fields[key] == nil else { return nil }
                    fields[key] = value
                    skipSpace()
                } while take(UInt8(ascii: ","))
                guard take(UInt8(ascii: "}")) else { return nil }
            }
            skipSpace()
            return index == bytes.count ? fields : nil
        }

        private mutating func value() -> Value? {
            skipSpace()
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""): return string().map(Value.string)
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            default: return number()
            }
        }

        private mutating func number() -> Value? {
            let start = index
            while index < bytes.count, isNumberByte(bytes[index]) { index += 1 }
            guard index > start else { return nil }
            return .number(String(decoding: bytes[start..<index], as: UTF8.self))
        }

        private func isNumberByte(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "+"),
                UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"):
                true
            default: false
            }
        }

        private mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            var utf8: [UInt8] = []
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return String(validating: utf8, as: UTF8.self)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count else { return nil }
                    let escape = bytes[index]
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escape)
                    case UInt8(ascii: "b"): utf8.append(0x08)
                    case UInt8(ascii: "f"): utf8.append(0x0C)
                    case UInt8(ascii: "n"): utf8.append(0x0A)
                    case UInt8(ascii: "r"): utf8.append(0x0D)
                    case UInt8(ascii: "t"): utf8.append(0x09)
                    case UInt8(ascii: "u"):
                        guard let scalar = unicodeEscape() else { return nil }
                        utf8.append(contentsOf: String(Character(scalar)).utf8)
                    default: return nil
                    }
                case 0..<0x20:
                    return nil
                default:
                    utf8.append(byte)
                }
            }
            return nil
        }

        /// After "\u": four hex digits, or a surrogate pair written as two escapes.
        private mutating func unicodeEscape() -> Unicode.Scalar? {
            guard let first = hex4() else { return nil }
            if (0xD800..<0xDC00).contains(first) {
                guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let second = hex4(),
                    (0xDC00..<0xE000).contains(second)
                else { return nil }
                return Unicode.Scalar(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00))
            }
            return Unicode.Scalar(first)
        }

        private mutating func hex4() -> UInt32? {
            guard index + 4 <= bytes.count,
                let digits = Hex.decode(String(decoding: bytes[index..<index + 4], as: UTF8.self))
            else { return nil }
            index += 4
            return UInt32(digits[0]) << 8 | UInt32(digits[1])
        }

        private mutating func literal(_ word: String) -> Bool {
            let utf8 = Array(word.utf8)
            guard index + utf8.count <= bytes.count, bytes[index..<index + utf8.count].elementsEqual(utf8) else {
                return false
            }
            index += utf8.count
            return true
        }

        private mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        private mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }
    }
}

extension [String: FlatJSON.Value] {
    func string(_ key: String) -> String? {
        if case .string(let value) = self[key] { value } else { nil }
    }

    func unsigned(_ key: String) -> UInt64? {
        if case .number(let text) = self[key] { UInt64(text) } else { nil }
    }

    func signed(_ key: String) -> Int64? {
        if case .number(let text) = self[key] { Int64(text) } else { nil }
    }

    /// A number, or NaN for null (a non-finite value was written).
    func double(_ key: String) -> Double? {
        switch self[key] {
        case .number(let text): Double(text)
        case .null: .nan
        default: nil
        }
    }
}
