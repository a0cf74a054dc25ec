// TOML's unquoted values: booleans, integers, floats, and dates and times. A value runs to
// the next delimiter and must be one of these shapes exactly.

extension TOMLParser {
    mutating func bareValue() throws(TOMLSyntaxError) -> TOMLValue {
        var token = bareToken()
        // A date-time may separate its date and time with a space.
        if token.count == 10, TOMLScalar.date(token) != nil, peek() == UInt8(ascii: " "),
            let first = peek(1), let second = peek(2), TOMLScalar.isDigit(first), TOMLScalar.isDigit(second),
            peek(3) == UInt8(ascii: ":")
        {
            advance()
            token += [UInt8(ascii: " ")] + bareToken()
        }
        guard let value = TOMLScalar.value(token) else {
            if let problem = TOMLScalar.rangeProblem(token) { throw error(problem) }
            let shown = String(decoding: token.prefix(40), as: UTF8.self)
            throw error("invalid value '\(shown)', expected a string, a number, true, false, an array or a date")
        }
        return value
    }

    private mutating func bareToken() -> [UInt8] {
        let start = index
        while let byte = peek(), !Self.endsBareValue(byte) { advance() }
        if index == start { advance() }  // a lone delimiter such as '=' is the token
        return Array(bytes[start..<index])
    }

    private static func endsBareValue(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"), UInt8(ascii: ","),
            UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: "#"),
            UInt8(ascii: "\""), UInt8(ascii: "'"), UInt8(ascii: "="):
            true
        default: false
        }
    }
}

/// The shapes of unquoted values (TOML 1.0), each read exactly or not at all.
enum TOMLScalar {
    static func value(_ token: [UInt8]) -> TOMLValue? {
        let text = String(decoding: token, as: UTF8.self)
        switch text {
        case "true": return .boolean(true)
        case "false": return .boolean(false)
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan": return .float(.nan)
        case "-nan": return .float(-.nan)
        default: break
        }
        if let dateTime = dateTime(token) { return .dateTime(dateTime) }
        if let integer = integer(token) { return .integer(integer) }
        if let float = float(token) { return .float(float) }
        return nil
    }

    /// Why a well-formed token is still no value (only integers can be out of range).
    static func rangeProblem(_ token: [UInt8]) -> String? {
        guard integerDigits(token) != nil else { return nil }
        return "integer \(String(decoding: token.prefix(40), as: UTF8.self)) is out of range, expected a 64-bit integer "
            + "(-9223372036854775808 to 9223372036854775807)"
    }

    static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    // MARK: Numbers

    /// `17`, `-0`, `1_000`, `0x1F`, `0o17`, `0b101`, within 64 bits.
    static func integer(_ token: [UInt8]) -> Int? {
        guard let (digits, radix) = integerDigits(token) else { return nil }
        return Int(String(decoding: digits, as: UTF8.self), radix: radix)
    }

    /// The digits of an integer literal (sign kept, underscores and prefix removed) and their
    /// radix, or nil when the token is not an integer's shape.
    private static func integerDigits(_ token: [UInt8]) -> ([UInt8], Int)? {
        let prefixes: [(UInt8, Int, (UInt8) -> Bool)] = [
            (UInt8(ascii: "x"), 16, { hexDigit($0) }), (UInt8(ascii: "o"), 8, { $0 >= 0x30 && $0 <= 0x37 }),
            (UInt8(ascii: "b"), 2, { $0 == 0x30 || $0 == 0x31 }),
        ]
        if token.count > 2, token[0] == UInt8(ascii: "0"),
            let (_, radix, isDigit) = prefixes.first(where: { $0.0 == token[1] })
        {
            return digitRun(token[2...], isDigit).map { ($0, radix) }
        }
        var rest = token[...]
        var sign: [UInt8] = []
        if let first = rest.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            sign = [first]
            rest = rest.dropFirst()
        }
        guard let digits = digitRun(rest, isDigit), digits.count == 1 || digits[0] != UInt8(ascii: "0") else {
            return nil
        }
        return (sign + digits, 10)
    }

    /// `3.14`, `-1e-3`, `6.02E+23`, `1_000.5`: a decimal integer part without leading
    /// zeros, then a fraction, an exponent or both.
    static func float(_ token: [UInt8]) -> Double? {
        var rest = token[...]
        var text: [UInt8] = []
        if let first = rest.first, first == UInt8(ascii: "+") || first == UInt8(ascii: "-") {
            text.append(first)
            rest = rest.dropFirst()
        }
        let integerPart = rest.prefix { isDigit($0) || $0 == UInt8(ascii: "_") }
        guard let integerDigits = digitRun(integerPart, isDigit),
            integerDigits.count == 1 || integerDigits[0] != UInt8(ascii: "0")
        else { return nil }
        text += integerDigits
        rest = rest.dropFirst(integerPart.count)
        var hasFraction = false
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            let part = rest.prefix { isDigit($0) || $0 == UInt8(ascii: "_") }
            guard let digits = digitRun(part, isDigit) else { return nil }
            text += [UInt8(ascii: ".")] + digits
            rest = rest.dropFirst(part.count)
            hasFraction = true
        }
        var hasExponent = false
        if let e = rest.first, e == UInt8(ascii: "e") || e == UInt8(ascii: "E") {
            rest = rest.dropFirst()
            text.append(UInt8(ascii: "e"))
            if let sign = rest.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                text.append(sign)
                rest = rest.dropFirst()
            }
            let part = rest.prefix { isDigit($0) || $0 == UInt8(ascii: "_") }
            guard let digits = digitRun(part, isDigit) else { return nil }
            text += digits
            rest = rest.dropFirst(part.count)
            hasExponent = true
        }
        guard rest.isEmpty, hasFraction || hasExponent else { return nil }
        return Double(String(decoding: text, as: UTF8.self))
    }

    /// Digits with single underscores between them, underscores removed; nil for any other
    /// shape (empty, a leading, trailing or doubled underscore, a foreign byte).
    private static func digitRun(_ bytes: ArraySlice<UInt8>, _ isDigit: (UInt8) -> Bool) -> [UInt8]? {
        var digits: [UInt8] = []
        var previousWasDigit = false
        for byte in bytes {
            if byte == UInt8(ascii: "_") {
                guard previousWasDigit else { return nil }
                previousWasDigit = false
            } else {
                guard isDigit(byte) else { return nil }
                digits.append(byte)
                previousWasDigit = true
            }
        }
        return previousWasDigit ? digits : nil
    }

    private static func hexDigit(_ byte: UInt8) -> Bool {
        TOMLParser.hexValue(byte) != nil
    }

    // MARK: Dates and times

    /// `1979-05-27`, `07:32:00.5`, `1979-05-27T07:32:00`, `1979-05-27 07:32:00-07:00`, with
    /// every field in range.
    static func dateTime(_ token: [UInt8]) -> TOMLDateTime? {
        if token.count > 2, token[2] == UInt8(ascii: ":") { return time(token[...], allowOffset: false) }
        if token.count == 10 { return date(token) }
        guard token.count > 11, var value = date(Array(token[..<10])) else { return nil }
        let separator = token[10]
        guard separator == UInt8(ascii: "T") || separator == UInt8(ascii: "t") || separator == UInt8(ascii: " "),
            let time = time(token[11...], allowOffset: true)
        else { return nil }
        value.kind = time.kind == .offsetDateTime ? .offsetDateTime : .localDateTime
        value.hour = time.hour
        value.minute = time.minute
        value.second = time.second
        value.fraction = time.fraction
        value.offsetMinutes = time.offsetMinutes
        return value
    }

    /// `YYYY-MM-DD`, a day that exists (year 1 and later).
    static func date(_ token: [UInt8]) -> TOMLDateTime? {
        guard token.count == 10, token[4] == UInt8(ascii: "-"), token[7] == UInt8(ascii: "-"),
            let year = number(token[0..<4]), let month = number(token[5..<7]), let day = number(token[8..<10]),
            year >= 1, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        return TOMLDateTime(kind: .localDate, year: year, month: month, day: day)
    }

    /// `HH:MM:SS[.fraction]`, and with `allowOffset` then `Z` or `+HH:MM`; the kind is
    /// `.offsetDateTime` when an offset was given, else `.localTime`.
    private static func time(_ token: ArraySlice<UInt8>, allowOffset: Bool) -> TOMLDateTime? {
        let start = token.startIndex
        guard token.count >= 8, token[start + 2] == UInt8(ascii: ":"), token[start + 5] == UInt8(ascii: ":"),
            let hour = number(token[start..<start + 2]), let minute = number(token[start + 3..<start + 5]),
            let second = number(token[start + 6..<start + 8]), hour <= 23, minute <= 59, second <= 59
        else { return nil }
        var value = TOMLDateTime(kind: .localTime, hour: hour, minute: minute, second: second)
        var rest = token[(start + 8)...]
        if rest.first == UInt8(ascii: ".") {
            let digits = rest.dropFirst().prefix(while: isDigit)
            guard !digits.isEmpty else { return nil }
            value.fraction = String(decoding: digits, as: UTF8.self)
            rest = rest.dropFirst(1 + digits.count)
        }
        guard allowOffset, let first = rest.first else { return rest.isEmpty ? value : nil }
        if first == UInt8(ascii: "Z") || first == UInt8(ascii: "z") {
            guard rest.count == 1 else { return nil }
        } else {
            let offset = rest.dropFirst()
            let base = offset.startIndex
            guard first == UInt8(ascii: "+") || first == UInt8(ascii: "-"), offset.count == 5,
                offset[base + 2] == UInt8(ascii: ":"), let hours = number(offset[base..<base + 2]),
                let minutes = number(offset[base + 3..<base + 5]), hours <= 23, minutes <= 59
            else { return nil }
            value.offsetMinutes = (first == UInt8(ascii: "-") ? -1 : 1) * (hours * 60 + minutes)
        }
        value.kind = .offsetDateTime
        return value
    }

    /// A fixed-width run of decimal digits.
    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for digit in digits {
            guard isDigit(digit) else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
