/// The fields of a p2mpd stderr line (`… [p2mp_event=loss p2mp_lost_segments=3 …]`, the
/// format of `StderrRecord`), values unquoted.
enum LogFields {
    static func parse(_ line: String) -> [String: String] {
        guard line.hasSuffix("]"), let open = line.range(of: " [", options: .backwards) else { return [:] }
        var fields: [String: String] = [:]
        var key = ""
        var value = ""
        var inValue = false
        var quoted = false
        var escaped = false
        func finish() {
            if !key.isEmpty { fields[key] = value }
            key = ""
            value = ""
            inValue = false
        }
        for character in line[open.upperBound..<line.index(before: line.endIndex)] {
            if !inValue {
                if character == "=" {
                    inValue = true
                } else if character != " " {
                    key.append(character)
                }
            } else if escaped {
                value.append(character)
                escaped = false
            } else if quoted {
                if character == "\\" { escaped = true } else if character == "\"" { quoted = false } else { value.append(character) }
            } else if character == "\"" {
                quoted = true
            } else if character == " " {
                finish()
            } else {
                value.append(character)
            }
        }
        finish()
        return fields
    }
}
