@testable import P2MPConfiguration

/// TOML text for parsed values, written another way than the input was (every key quoted,
/// every table inline), so that parsing it again checks the parser against itself.
enum TOMLRendering {
    static func document(_ root: TOMLTable) -> String {
        root.keys.map { "\(key($0)) = \(value(root.values[$0] ?? .boolean(false)))\n" }.joined()
    }

    static func key(_ key: String) -> String { string(key) }

    static func value(_ value: TOMLValue) -> String {
        switch value {
        case .string(let text): string(text)
        case .integer(let number): "\(number)"
        case .float(let number) where number.isNaN: "nan"
        case .float(let number) where number.isInfinite: number < 0 ? "-inf" : "inf"
        case .float(let number): "\(number)"
        case .boolean(let flag): "\(flag)"
        case .dateTime(let dateTime): self.dateTime(dateTime)
        case .array(let items): "[" + items.map(self.value).joined(separator: ", ") + "]"
        case .table(let table):
            "{" + table.keys.map { "\(key($0)) = \(self.value(table.values[$0] ?? .boolean(false)))" }
                .joined(separator: ", ") + "}"
        }
    }

    /// A basic string: quotes, backslashes and control characters escaped.
    static func string(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let digits = String(scalar.value, radix: 16, uppercase: true)
                result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    static func dateTime(_ value: TOMLDateTime) -> String {
        func two(_ number: Int) -> String { number < 10 ? "0\(number)" : "\(number)" }
        let date = String(repeating: "0", count: 4 - "\(value.year)".count) + "\(value.year)-\(two(value.month))-\(two(value.day))"
        let time = "\(two(value.hour)):\(two(value.minute)):\(two(value.second))" + (value.fraction.isEmpty ? "" : "." + value.fraction)
        let offset = abs(value.offsetMinutes)
        let zone = value.offsetMinutes == 0 ? "Z" : (value.offsetMinutes < 0 ? "-" : "+") + "\(two(offset / 60)):\(two(offset % 60))"
        return switch value.kind {
        case .localDate: date
        case .localTime: time
        case .localDateTime: date + "T" + time
        case .offsetDateTime: date + "T" + time + zone
        }
    }

    /// How deeply the rendering nests arrays and inline tables.
    static func depth(_ value: TOMLValue) -> Int {
        switch value {
        case .array(let items): 1 + (items.map(depth).max() ?? 0)
        case .table(let table): 1 + (table.keys.compactMap { table.values[$0].map(depth) }.max() ?? 0)
        default: 0
        }
    }

    /// Equal values, NaN equal to NaN and floats compared bit for bit.
    static func same(_ lhs: TOMLValue, _ rhs: TOMLValue) -> Bool {
        switch (lhs, rhs) {
        case (.string(let a), .string(let b)): Array(a.utf8) == Array(b.utf8)
        case (.integer(let a), .integer(let b)): a == b
        case (.float(let a), .float(let b)): (a.isNaN && b.isNaN) || a.bitPattern == b.bitPattern
        case (.boolean(let a), .boolean(let b)): a == b
        case (.dateTime(let a), .dateTime(let b)): a == b
        case (.array(let a), .array(let b)): a.count == b.count && zip(a, b).allSatisfy(same)
        case (.table(let a), .table(let b)):
            a.keys.map { Array($0.utf8) } == b.keys.map { Array($0.utf8) }
                && a.keys.allSatisfy { key in
                    guard let left = a.values[key], let right = b.values[key] else { return false }
                    return same(left, right)
                }
        default: false
        }
    }
}
