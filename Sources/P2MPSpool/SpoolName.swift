/// A file name received from the network, checked to stay beneath the spool root.
///
/// A valid name is a relative UTF-8 path of 1...32 components separated by "/": no empty,
/// "." or ".." component, no component starting with "-", no control character (C0, DEL or
/// C1) and no invisible or bidirectional formatting character (U+200E, U+200F, U+202A–U+202E,
/// U+2066–U+2069, U+061C, U+FEFF), each component at most 255 bytes, the whole at most 4096
/// bytes, and not inside the spool's own `.p2mp` state (in any ASCII case, which a
/// case-insensitive file system would alias). Validation is purely textual; `Spool` also
/// refuses symbolic links while resolving.
///
/// Equality compares bytes, not Unicode canonical equivalence, as the file system does: the
/// NFC and NFD spellings of one name are two names (docs/HARDENING.md says why).
public struct SpoolName: Hashable, Sendable, CustomStringConvertible {
    /// The most bytes in one component (NAME_MAX).
    public static let maximumComponentLength = 255
    /// The most bytes in the whole name (PATH_MAX).
    public static let maximumLength = 4096
    /// The most components: a commit creates at most this many directories less one, and a
    /// listing descends no deeper.
    public static let maximumComponents = 32
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
        for scalar in name.unicodeScalars {
            if Self.isControl(scalar) { throw fail(.controlCharacter) }
            if Self.isFormatting(scalar) { throw fail(.formattingCharacter) }
        }
        guard bytes[0] != UInt8(ascii: "/") else { throw fail(.absolute) }
        let parts = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard parts.count <= Self.maximumComponents else { throw fail(.tooDeep) }
        for part in parts {
            guard !part.isEmpty else { throw fail(.emptyComponent) }
            guard !part.elementsEqual(".".utf8), !part.elementsEqual("..".utf8) else { throw fail(.dotComponent) }
            guard part.count <= Self.maximumComponentLength else { throw fail(.componentTooLong) }
            guard part.first != UInt8(ascii: "-") else { throw fail(.leadingDash) }
        }
        guard !Self.isReserved(parts[0]) else { throw fail(.reserved) }
        self.rawValue = name
        self.components = parts.map { String(decoding: $0, as: UTF8.self) }
    }

    /// C0 controls, DEL and the C1 controls (U+0080–U+009F: U+009B is a terminal's CSI).
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }

    /// Characters that are invisible or reorder what a terminal or a log shows, so that a
    /// name could pass for another ("invoice\u{202E}fdp.exe"): the bidirectional marks,
    /// embeddings, overrides and isolates, and the byte-order mark.
    static func isFormatting(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x061C, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0xFEFF: true
        default: false
        }
    }

    /// `.p2mp` in any ASCII case.
    private static func isReserved(_ component: ArraySlice<UInt8>) -> Bool {
        component.count == reservedComponent.utf8.count
            && zip(component, reservedComponent.utf8).allSatisfy { $0 | 0x20 == $1 | 0x20 }
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
