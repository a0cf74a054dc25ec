/// A file name received from the network, checked to stay beneath the spool root.
///
/// A valid name is a relative UTF-8 path of one or more components separated by "/":
/// no empty, "." or ".." component, no NUL or control character, each component at most
/// 255 bytes, the whole at most 4096 bytes, and not inside the spool's own `.p2mp` state.
/// Validation is purely textual; `Spool` also refuses symbolic links while resolving.
///
/// Equality compares bytes, not Unicode canonical equivalence, as the file system does.
public struct SpoolName: Hashable, Sendable, CustomStringConvertible {
    /// The most bytes in one component (NAME_MAX).
    public static let maximumComponentLength = 255
    /// The most bytes in the whole name (PATH_MAX).
    public static let maximumLength = 4096
    /// The first component reserved for the spool's internal state.
    public static let reservedComponent = ".p2mp"

    /// The name as received, e.g. "releases/app-1.4.tar.gz".
    public let rawValue: String
    /// The components, e.g. ["releases", "app-1.4.tar.gz"]; never empty.
    public let components: [String]

    /// Checks `name`; the error says which rule it breaks.
    public init(validating name: String) throws(SpoolNameError) {
        let bytes = Array(name.utf8)
        func fail(_ reason: SpoolNameError.Reason) -> SpoolNameError {
            SpoolNameError(reason, name: bytes)
        }
        guard !bytes.isEmpty else { throw fail(.empty) }
        guard bytes.count <= Self.maximumLength else { throw fail(.tooLong) }
        guard !bytes.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw fail(.controlCharacter) }
        guard bytes[0] != UInt8(ascii: "/") else { throw fail(.absolute) }
        let parts = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        for part in parts {
            guard !part.isEmpty else { throw fail(.emptyComponent) }
            guard !part.elementsEqual(".".utf8), !part.elementsEqual("..".utf8) else { throw fail(.dotComponent) }
            guard part.count <= Self.maximumComponentLength else { throw fail(.componentTooLong) }
        }
        guard !parts[0].elementsEqual(Self.reservedComponent.utf8) else { throw fail(.reserved) }
        self.rawValue = name
        self.components = parts.map { String(decoding: $0, as: UTF8.self) }
    }

    /// Checks raw bytes from a datagram: they must be valid UTF-8, then as `init(validating:)`.
    public init(validatingUTF8 bytes: some Collection<UInt8>) throws(SpoolNameError) {
        guard let name = String(validating: bytes, as: UTF8.self) else {
            throw SpoolNameError(.invalidUTF8, name: Array(bytes.prefix(Self.maximumLength + 1)))
        }
        try self.init(validating: name)
    }

    /// The directories leading to the file (all components but the last).
    public var directories: ArraySlice<String> { components.dropLast() }

    /// The last component.
    public var leaf: String { components[components.count - 1] }

    public var description: String { rawValue }

    public static func == (lhs: SpoolName, rhs: SpoolName) -> Bool {
        lhs.rawValue.utf8.elementsEqual(rhs.rawValue.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        for byte in rawValue.utf8 { hasher.combine(byte) }
    }
}
