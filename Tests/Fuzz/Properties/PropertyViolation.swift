/// A property of a fuzz target that an input broke. The fuzz binary prints it and aborts,
/// so libFuzzer keeps the input as a crash; the replay tests record it as an issue.
public struct PropertyViolation: Error, CustomStringConvertible {
    public var description: String

    init(_ description: String) {
        self.description = description
    }
}

/// Throws a violation with `message` unless `condition` holds.
func require(
    _ condition: Bool, _ message: @autoclosure () -> String
) throws(PropertyViolation) {
    if !condition { throw PropertyViolation(message()) }
}

/// `bytes` in hex, for messages about datagrams.
func hex(_ bytes: some Sequence<UInt8>) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
}
