/// Why a name from the network is not accepted as a spool file name.
public struct SpoolNameError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Reason: Equatable, Sendable {
        case empty
        case absolute
        /// A "." or ".." component.
        case dotComponent
        /// "a//b", or a leading or trailing "/".
        case emptyComponent
        /// NUL, a byte below 0x20, DEL, or a C1 control (U+0080–U+009F).
        case controlCharacter
        /// An invisible or bidirectional formatting character (`SpoolName.isFormatting`).
        case formattingCharacter
        case componentTooLong
        case tooLong
        /// More than `SpoolName.maximumComponents` components.
        case tooDeep
        /// A component starts with "-" (a hook's command would read it as an option).
        case leadingDash
        /// The first component is `.p2mp` (in any case), the spool's internal state.
        case reserved
        case invalidUTF8

        /// What the rule is, for a person.
        public var message: String {
            switch self {
            case .empty: "the name is empty"
            case .absolute: "absolute paths are not allowed, the name must be relative to the spool"
            case .dotComponent: "'.' and '..' components are not allowed"
            case .emptyComponent: "empty path components ('//', or a trailing '/') are not allowed"
            case .controlCharacter: "NUL and control characters are not allowed"
            case .formattingCharacter: "invisible and bidirectional formatting characters (U+200E, U+202E, U+FEFF, ...) are not allowed"
            case .componentTooLong: "a path component is longer than \(SpoolName.maximumComponentLength) bytes"
            case .tooLong: "the name is longer than \(SpoolName.maximumLength) bytes"
            case .tooDeep: "the name has more than \(SpoolName.maximumComponents) components"
            case .leadingDash: "a path component may not start with '-'"
            case .reserved: "'\(SpoolName.reservedComponent)' (in any case) is reserved for the spool's internal state"
            case .invalidUTF8: "the name is not valid UTF-8"
            }
        }
    }

    public var reason: Reason
    /// The offending name, printable: control characters and invalid bytes escaped,
    /// shortened to 200 bytes.
    public var name: String

    public init(_ reason: Reason, name bytes: [UInt8]) {
        self.reason = reason
        self.name = Self.printable(bytes)
    }

    public var description: String {
        "file name '\(name)': \(reason.message)"
    }

    /// `bytes` as text safe for a log line: ASCII control bytes and bytes that are not
    /// UTF-8 become `\xNN`, C1 controls and formatting characters `\u{NNNN}`; long names
    /// are cut with "…".
    static func printable(_ bytes: [UInt8]) -> String {
        let limit = 200
        let shown = bytes.prefix(limit)
        var output = ""
        var start = shown.startIndex
        while start < shown.endIndex {
            // Decode the longest valid UTF-8 run, escape the byte that stops it.
            var end = start
            var iterator = shown[start...].makeIterator()
            var decoder = UTF8()
            var scalars = ""
            decoding: while true {
                switch decoder.decode(&iterator) {
                case .scalarValue(let scalar):
                    end += UTF8.width(scalar)
                    if scalar.value < 0x20 || scalar.value == 0x7F {
                        scalars += "\\x" + Hex.byte(UInt8(scalar.value))
                    } else if SpoolName.isControl(scalar) || SpoolName.isFormatting(scalar) {
                        scalars += "\\u{" + String(scalar.value, radix: 16) + "}"
                    } else {
                        scalars.unicodeScalars.append(scalar)
                    }
                case .emptyInput, .error:
                    break decoding
                }
            }
            output += scalars
            if end < shown.endIndex {
                output += "\\x" + Hex.byte(shown[end])
                end += 1
            }
            start = end
        }
        return bytes.count > limit ? output + "…" : output
    }
}
