@testable import P2MPConfiguration

/// The TOML parser alone, and one configuration file. Any bytes give a document or errors
/// whose lines are lines of the text, in order; a document rendered another way (keys
/// quoted, tables inline) parses to the same values, or, nested beyond the parser's limit,
/// to the depth error; a file the loader accepts leaves a valid configuration.
enum TOMLProperties {
    static func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        let lineCount = bytes.count(where: { $0 == UInt8(ascii: "\n") }) + 1
        var configuration = DaemonConfiguration.defaults
        let errors = ConfigurationLoader.parse(bytes: bytes, file: "p2mpd.toml", into: &configuration)
        var previous = 1
        for error in errors {
            try require(error.file == "p2mpd.toml", "error for another file: \(error)")
            let line = error.line ?? lineCount
            try require((previous...lineCount).contains(line), "error line \(line) after \(previous) of \(lineCount): \(error)")
            previous = line
        }
        if errors.isEmpty { try ConfigurationProperties.checkValid(configuration) }

        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        switch TOMLParser.parse(text) {
        case .failure(let error):
            try require((1...lineCount).contains(error.line), "syntax error on line \(error.line) of \(lineCount)")
        case .success(let document):
            try require(document.rootKeyLines.values.allSatisfy { (1...lineCount).contains($0) }, "a key's line is out of range")
            try require(document.headers.map(\.line) == document.headers.map(\.line).sorted(), "headers out of order")
            try checkRendering(document.root)
        }
    }

    static func checkRendering(_ root: TOMLTable) throws(PropertyViolation) {
        let rendered = TOMLRendering.document(root)
        let depth = TOMLRendering.depth(.table(root)) - 1
        switch TOMLParser.parse(rendered) {
        case .success(let again):
            try require(depth <= TOMLParser.maximumDepth, "nested \(depth) deep, yet parsed: \(rendered)")
            try require(TOMLRendering.same(.table(again.root), .table(root)), "rendered differently: \(rendered)")
        case .failure(let error):
            try require(
                depth > TOMLParser.maximumDepth && error.message.contains("nested deeper"),
                "the rendering does not parse (\(error)): \(rendered)")
        }
    }
}
