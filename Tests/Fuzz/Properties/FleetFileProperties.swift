import P2MPClient

/// `p2mpsend push --fleet FILE`. Any text parses to targets or to errors; errors come in
/// line order with lines of the file; every target is one word of its line that
/// `splitTarget` reads back to the same host and port, listed once; writing the targets
/// one per line parses to the same targets; a comment or a blank line changes nothing.
enum FleetFileProperties {
    static let defaultPort = 7735

    static func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        let text = String(decoding: bytes, as: UTF8.self)
        let lineCount = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }.count
        let result = FleetFile.parse(text, path: "fleet", defaultPort: defaultPort)
        let withComment = FleetFile.parse(text + "\n# a comment\n\n", path: "fleet", defaultPort: defaultPort)
        switch (result, withComment) {
        case (.success(let targets), .success(let again)):
            try require(targets == again, "a trailing comment changed the targets")
            try checkTargets(targets, lineCount: lineCount)
        case (.failure(let errors), .failure(let again)):
            try require(errors.errors.filter { $0.line != nil } == again.errors.filter { $0.line != nil }, "a trailing comment changed the errors")
            var previous = 0
            for error in errors.errors {
                guard let line = error.line else { continue }
                try require((1...lineCount).contains(line) && line >= previous, "error line \(line) of \(lineCount), after \(previous)")
                try require(error.description.hasPrefix("fleet:\(line): "), "error not as FILE:LINE: \(error)")
                previous = line
            }
        default:
            throw PropertyViolation("a trailing comment changed success into failure or back")
        }
    }

    static func checkTargets(_ targets: [FleetTarget], lineCount: Int) throws(PropertyViolation) {
        var seen = Set<String>()
        for target in targets {
            try require((1...lineCount).contains(target.line), "target line \(target.line) of \(lineCount)")
            try require(!target.host.isEmpty && (1...65_535).contains(target.port), "bad target \(target)")
            try require(!target.text.contains(where: { $0.isWhitespace || $0 == "#" }), "target text \(target.text) is not one word")
            let split = FleetFile.splitTarget(target.text, defaultPort: defaultPort)
            try require(split?.host == target.host && split?.port == target.port, "\(target.text) splits as \(String(describing: split))")
            try require(seen.insert("\(target.host.lowercased()) \(target.port)").inserted, "\(target.text) listed twice")
        }
        let rewritten = targets.map(\.text).joined(separator: "\n")
        guard !targets.isEmpty else { return }
        guard case .success(let again) = FleetFile.parse(rewritten, path: "fleet", defaultPort: defaultPort) else {
            throw PropertyViolation("the targets one per line do not parse: \(rewritten)")
        }
        try require(
            again.map { "\($0.host) \($0.port) \($0.text)" } == targets.map { "\($0.host) \($0.port) \($0.text)" }
                && again.map(\.line) == Array(1...targets.count),
            "the targets one per line parse differently")
    }
}
