import P2MPSpool

/// Names from the network (`SpoolName`). An accepted name never escapes the spool: it is
/// relative, has no empty, "." or ".." component, no control character, no component over
/// 255 bytes, is at most 4096 bytes, does not start with the state directory, and resolved
/// beneath a root it stays there, as deep as its components; its directories are valid
/// names too (the listing walks them). A refused name's message is one printable line.
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
                !error.description.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F },
                "the message for \(hex(bytes)) holds a control character")
            try require(error.name.utf8.count <= 200 * 4 + 3, "the message for \(hex(bytes)) is not shortened")
        }
    }

    static func checkAccepted(_ name: SpoolName, bytes: [UInt8]) throws(PropertyViolation) {
        let shown = name.rawValue
        try require(Array(name.rawValue.utf8) == bytes, "\(shown) is not the bytes received")
        try require(!bytes.isEmpty && bytes.count <= SpoolName.maximumLength, "\(shown): length \(bytes.count)")
        try require(bytes.first != UInt8(ascii: "/"), "\(shown) is absolute")
        try require(!bytes.contains { $0 < 0x20 || $0 == 0x7F }, "\(shown) holds a control character")
        let components = name.components.map { Array($0.utf8) }
        let slash = [UInt8(ascii: "/")]
        try require(Array(components.joined(separator: slash)) == bytes, "\(shown): components do not make the name")
        for component in components {
            try require(
                !component.isEmpty && component != Array(".".utf8) && component != Array("..".utf8),
                "\(shown): component '\(hex(component))'")
            try require(!component.contains(UInt8(ascii: "/")), "\(shown): a component holds '/'")
            try require(component.count <= SpoolName.maximumComponentLength, "\(shown): component too long")
        }
        try require(components[0] != Array(SpoolName.reservedComponent.utf8), "\(shown) is in the state directory")
        let resolved = resolve(bytes, under: root)
        try require(resolved == root + components, "\(shown) resolves outside its place under the root")
        try require(Array(name.leaf.utf8) == components[components.count - 1], "\(shown): leaf")
        if !name.directories.isEmpty {
            let directories = name.directories.joined(separator: "/")
            try require((try? SpoolName(validating: directories)) != nil, "\(shown): its directories \(directories) are refused")
        }
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
