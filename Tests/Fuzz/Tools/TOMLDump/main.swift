// toml-dump DIRECTORY: parses every file of DIRECTORY with TOMLParser and prints, per file in
// name order, `NAME<TAB>JSON`: {"ok": VALUE} or {"error": LINE}. VALUE is tagged as by the
// toml-test suite ({"type": "integer", "value": "1"}), floats as their IEEE bits in hex and
// date-times as Python's isoformat, so that scripts/toml-differential.py can compare it with
// Python's tomllib. Compiled together with Sources/P2MPConfiguration by that script.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

func json(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case _ where scalar.value < 0x20:
            let digits = String(scalar.value, radix: 16)
            result += "\\u" + String(repeating: "0", count: 4 - digits.count) + digits
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

func tagged(_ type: String, _ value: String) -> String {
    "{\"type\": \(json(type)), \"value\": \(json(value))}"
}

func two(_ number: Int) -> String { number < 10 ? "0\(number)" : "\(number)" }

func isoformat(_ value: TOMLDateTime) -> String {
    let date = String(repeating: "0", count: 4 - "\(value.year)".count) + "\(value.year)-\(two(value.month))-\(two(value.day))"
    let micro = String((value.fraction + "000000").prefix(6))
    var time = "\(two(value.hour)):\(two(value.minute)):\(two(value.second))"
    if micro != "000000" { time += "." + micro }
    let offset = abs(value.offsetMinutes)
    let zone = (value.offsetMinutes < 0 ? "-" : "+") + "\(two(offset / 60)):\(two(offset % 60))"
    return switch value.kind {
    case .localDate: date
    case .localTime: time
    case .localDateTime: date + "T" + time
    case .offsetDateTime: date + "T" + time + zone
    }
}

func dump(_ value: TOMLValue) -> String {
    switch value {
    case .string(let text): return tagged("string", text)
    case .integer(let number): return tagged("integer", "\(number)")
    case .float(let number):
        let bits = String(number.bitPattern, radix: 16)
        return tagged("float", number.isNaN ? "nan" : String(repeating: "0", count: 16 - bits.count) + bits)
    case .boolean(let flag): return tagged("bool", "\(flag)")
    case .dateTime(let dateTime):
        let type =
            switch dateTime.kind {
            case .offsetDateTime: "datetime"
            case .localDateTime: "datetime-local"
            case .localDate: "date-local"
            case .localTime: "time-local"
            }
        return tagged(type, isoformat(dateTime))
    case .array(let items): return "[" + items.map(dump).joined(separator: ", ") + "]"
    case .table(let table):
        return "{" + table.keys.map { "\(json($0)): \(dump(table.values[$0] ?? .boolean(false)))" }.joined(separator: ", ") + "}"
    }
}

let arguments = CommandLine.arguments
guard arguments.count == 2, case .success(let names?) = FileAccess.names(in: arguments[1]) else {
    print("usage: toml-dump DIRECTORY")
    exit(2)
}
for name in names.sorted() {
    guard case .contents(let bytes) = FileAccess.read(arguments[1] + "/" + name) else { continue }
    guard let text = String(validating: bytes, as: UTF8.self) else {
        print("\(name)\t{\"error\": 0}")
        continue
    }
    switch TOMLParser.parse(text) {
    case .success(let document): print("\(name)\t{\"ok\": \(dump(.table(document.root)))}")
    case .failure(let error): print("\(name)\t{\"error\": \(error.line)}")
    }
}
