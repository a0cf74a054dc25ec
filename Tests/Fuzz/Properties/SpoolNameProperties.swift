import P2MPSpool

/// Names from the network (`SpoolName`). An accepted name never escapes the spool: it is
/// relative, has 1...32 components, none empty, ".", "..", over 255 bytes or starting with
/// "-", no control character (C0, DEL, C1) and no invisible or bidirectional formatting
/// character, is at most 4096 bytes, does not start with the state directory in any ASCII
/// case, and resolved beneath a root it stays there, as deep as its components; its
/// directories are valid names too (the listing walks them). A refused name's message is
/// one printable line, without controls or formatting characters.
enum SpoolNameProperties {
    static let root = ["var", "lib", "p2mp", "spool"].map { Array($0.utf8) }

    static func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        let fromBytes = Result { () throws(SpoolNameError) in try SpoolName(validatingUTF8: bytes) }
        if let text = String(validating: bytes, as: UTF8.self) {
            let fromText = Result { () throws(SpoolNameError) in try SpoolName(validating: text) }
            try require(fromText == fromBytes, "validating the text and the bytes disagree for \(hex(bytes))")
        }
        switch fromBytes {
        case .success(let name): try checkAccepted(name, bytes: bytes)
        case .failure(let error):
            try require(
                !error.description.unicodeScalars.contains { isControl($0) || isFormatting($0) },
                "the message for \(hex(bytes)) holds a control or formatting character")
            try require(error.name.utf8.count <= 200 * 4 + 3, "the message for \(hex(bytes)) is not shortened")
        }
    }

    static func checkAccepted(_ name: SpoolName, bytes: [UInt8]) throws(PropertyViolation) {
        let shown = name.rawValue
        try require(Array(name.rawValue.utf8) == bytes, "\(shown) is not the bytes received")
        try require(!bytes.isEmpty && bytes.count <= SpoolName.maximumLength, "\(shown): length \(bytes.count)")
        try require(bytes.first != UInt8(ascii: "/"), "\(shown) is absolute")
        try require(
            !name.rawValue.unicodeScalars.contains { isControl($0) || isFormatting($0) },
            "\(shown) holds a control or formatting character")
        let components = name.components.map { Array($0.utf8) }
        try require(components.count <= 32, "\(shown) has \(components.count) components")
        let slash = [UInt8(ascii: "/")]
        try require(Array(components.joined(separator: slash)) == bytes, "\(shown): components do not make the name")
        for component in components {
            try require(
                !component.isEmpty && component != Array(".".utf8) && component != Array("..".utf8),
                "\(shown): component '\(hex(component))'")
            try require(!component.contains(UInt8(ascii: "/")), "\(shown): a component holds '/'")
            try require(component.count <= SpoolName.maximumComponentLength, "\(shown): component too long")
            try require(component.first != UInt8(ascii: "-"), "\(shown): a component starts with '-'")
        }
        try require(
            String(decoding: components[0], as: UTF8.self).lowercased() != SpoolName.reservedComponent,
            "\(shown) is in the state directory")
        let resolved = resolve(bytes, under: root)
        try require(resolved == root + components, "\(shown) resolves outside its place under the root")
        try require(Array(name.leaf.utf8) == components[components.count - 1], "\(shown): leaf")
        if !name.directories.isEmpty {
            let directories = name.directories.joined(separator: "/")
            try require((try? SpoolName(validating: directories)) != nil, "\(shown): its directories \(directories) are refused")
        }
    }

    /// C0, DEL and C1 controls, written out here rather than taken from `SpoolName`.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool { scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) }

    /// The bidirectional marks, embeddings, overrides and isolates, and the byte-order mark.
    static func isFormatting(_ scalar: Unicode.Scalar) -> Bool {
        [0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069, 0xFEFF]
            .contains(scalar.value)
    }

    /// POSIX resolution of a relative path without links, on bytes: "." stays, ".." goes up
    /// (never above "/"), empty components are skipped.
    static func resolve(_ path: [UInt8], under root: [[UInt8]]) -> [[UInt8]] {
        var resolved = root
        for component in path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            if component.isEmpty || component.elementsEqual(".".utf8) { continue }
            if component.elementsEqual("..".utf8) {
                _ = resolved.popLast()
            } else {
                resolved.append(Array(component))
            }
        }
        return resolved
    }
}
