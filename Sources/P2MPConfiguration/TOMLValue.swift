/// A TOML 1.0 value as `TOMLParser` returns it.
enum TOMLValue {
    case string(String)
    /// TOML integers are 64-bit; larger literals are syntax errors.
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case dateTime(TOMLDateTime)
    case array([TOMLValue])
    case table(TOMLTable)
}

/// A table's keys in the order they were defined, and their values.
struct TOMLTable {
    var keys: [String] = []
    var values: [String: TOMLValue] = [:]
}

/// An offset date-time, a local date-time, a local date or a local time; every field is in
/// range (the day exists in its month, hours 0-23, minutes and seconds 0-59).
struct TOMLDateTime: Equatable {
    enum Kind: Equatable {
        case offsetDateTime, localDateTime, localDate, localTime
    }

    var kind: Kind
    var year = 0, month = 0, day = 0
    var hour = 0, minute = 0, second = 0
    /// The digits after the decimal point of the seconds, as written ("" for none).
    var fraction = ""
    /// Minutes east of UTC, for an offset date-time (0 for `Z`).
    var offsetMinutes = 0
}

/// Where and why a text is not TOML. The line is 1-based.
struct TOMLSyntaxError: Error, Equatable {
    var line: Int
    var message: String
}

/// A parsed document: the root table, and what the configuration loader reports about its
/// layout (the line of each top-level key, every table header).
struct TOMLDocument {
    struct Header: Equatable {
        /// The key's parts: `["a", "b"]` for `[a.b]`.
        var path: [String]
        /// `[[name]]` rather than `[name]`.
        var isArray: Bool
        var line: Int
    }

    var root: TOMLTable
    /// The line of the statement that first set each key of the root table. A key that only
    /// headers created (`[a.b]` creates `a`) has none.
    var rootKeyLines: [String: Int]
    var headers: [Header]
}
