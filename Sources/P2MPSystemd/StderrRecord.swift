import Glibc
import Logging

/// The one-line text form of a log record, for stderr when not running under journald:
///
///     2026-11-21T20:00:00Z info p2mpd: transfer complete [p2mp_event=complete p2mp_file=app.tar]
///
/// UTC timestamp to the second, level, identifier, message, then the metadata sorted by
/// key (omitted when empty). Control characters in the message and in values are escaped
/// (`\n`, `\t`, `\r`, `\u{…}`) so that a record stays on one line; a value that is empty
/// or contains a space, `"`, `\`, `=`, `[` or `]` is double-quoted.
public enum StderrRecord {
    public static func line(
        level: Logger.Level,
        message: Logger.Message,
        metadata: Logger.Metadata,
        identifier: String,
        secondsSinceEpoch: Int = Int(time(nil))
    ) -> String {
        var line = timestamp(secondsSinceEpoch: secondsSinceEpoch) + " " + level.rawValue + " "
        if !identifier.isEmpty { line += identifier + ": " }
        line += escaped(message.description)
        if !metadata.isEmpty {
            let pairs = metadata.sorted { $0.key < $1.key }.map { key, value in
                escaped(key) + "=" + quotedIfNeeded(LogMetadataMerge.text(of: value))
            }
            line += " [" + pairs.joined(separator: " ") + "]"
        }
        return line
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` in UTC.
    public static func timestamp(secondsSinceEpoch: Int) -> String {
        var seconds = time_t(secondsSinceEpoch)
        var parts = tm()
        guard gmtime_r(&seconds, &parts) != nil else { return "\(secondsSinceEpoch)" }
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2) + "Z"
    }

    /// `text` with control characters escaped; with `quoting`, also `\` and `"`.
    static func escaped(_ text: String, quoting: Bool = false) -> String {
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case "\\" where quoting: result += "\\\\"
            case "\"" where quoting: result += "\\\""
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                result += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func quotedIfNeeded(_ value: String) -> String {
        let special: Set<Unicode.Scalar> = [" ", "\"", "\\", "=", "[", "]"]
        guard value.isEmpty || value.unicodeScalars.contains(where: special.contains) else { return escaped(value) }
        return "\"" + escaped(value, quoting: true) + "\""
    }
}
