/// One field of a journal entry: a name and the raw bytes of its value.
///
/// journald keeps a user field only when its name is made of `A-Z`, `0-9` and `_`, does
/// not start with `_` or a digit, and has at most 64 characters (see
/// ``JournalRecord/fieldName(forMetadataKey:)``). Values are arbitrary bytes: newlines and
/// NUL are carried verbatim.
public struct JournalField: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    public var value: [UInt8]

    public init(name: String, value: [UInt8]) {
        self.name = name
        self.value = value
    }

    /// A field whose value is the UTF-8 encoding of `string`.
    public init(name: String, string: String) {
        self.init(name: name, value: Array(string.utf8))
    }

    /// The bytes handed to `sd_journal_sendv`: `NAME=` followed by the value, verbatim.
    /// libsystemd switches to journald's binary-safe framing when the value contains a
    /// newline.
    public var encoded: [UInt8] {
        var bytes = Array(name.utf8)
        bytes.reserveCapacity(bytes.count + 1 + value.count)
        bytes.append(UInt8(ascii: "="))
        bytes.append(contentsOf: value)
        return bytes
    }

    public var description: String {
        "\(name)=\(String(decoding: value, as: UTF8.self))"
    }
}
