import TOMLKit

/// Values from p2mpd's command-line flags, which beat every file. They are validated with the
/// same rules as the keys they replace, and their errors name the flag (`'--loss'`) in the
/// file `command line`.
public struct ConfigurationOverrides: Sendable, Equatable {
    /// `--listen` (repeatable): replaces `listen`.
    public var listen: [String]?
    /// `--spool`: replaces `spool`.
    public var spool: String?
    /// `--loss`: replaces `loss`.
    public var loss: Double?
    /// `--log-level`: replaces `log_level`.
    public var logLevel: String?

    public init(listen: [String]? = nil, spool: String? = nil, loss: Double? = nil, logLevel: String? = nil) {
        self.listen = listen
        self.spool = spool
        self.loss = loss
        self.logLevel = logLevel
    }

    /// The file name in errors about flags.
    public static let source = "command line"

    func apply(to configuration: inout DaemonConfiguration) -> [ConfigurationError] {
        var messages: [String] = []
        if let listen {
            messages += ConfigurationKey.listen.apply(
                .array(listen.map(ConfigValue.string)), named: "'--listen'", to: &configuration)
        }
        if let spool {
            messages += ConfigurationKey.spool.apply(.string(spool), named: "'--spool'", to: &configuration)
        }
        if let loss {
            messages += ConfigurationKey.loss.apply(.float(loss), named: "'--loss'", to: &configuration)
        }
        if let logLevel {
            messages += ConfigurationKey.logLevel.apply(.string(logLevel), named: "'--log-level'", to: &configuration)
        }
        return messages.map { ConfigurationError(file: Self.source, line: nil, message: $0) }
    }
}

/// Reads p2mpd's configuration: the main file, then its drop-ins, then the command line, each
/// layer overriding the one before key by key, over the embedded defaults.
///
/// - The main file is `/etc/p2mp/p2mpd.toml`, or the path given with `--config`. When it does
///   not exist the defaults apply (unless `mainFileRequired`, as for an explicit `--config`).
/// - Drop-ins are the `*.toml` files in `MAINFILE.d/`, read in byte order of their names;
///   names starting with `.` are skipped. The directory is optional.
/// - Every file is read to the end and every problem is reported, with file and line.
public enum ConfigurationLoader {
    public static let defaultMainFile = "/etc/p2mp/p2mpd.toml"

    public static func load(
        mainFile: String = defaultMainFile,
        mainFileRequired: Bool = false,
        overrides: ConfigurationOverrides = .init()
    ) -> Result<(configuration: DaemonConfiguration, sources: [String]), ConfigurationErrors> {
        var configuration = DaemonConfiguration.defaults
        var errors: [ConfigurationError] = []
        var sources: [String] = []

        func read(_ path: String, required: Bool) {
            switch FileAccess.read(path) {
            case .contents(let bytes):
                sources.append(path)
                errors += parse(bytes: bytes, file: path, into: &configuration)
            case .missing:
                if required {
                    errors.append(ConfigurationError(file: path, line: nil, message: "does not exist"))
                }
            case .failed(let reason):
                errors.append(ConfigurationError(file: path, line: nil, message: reason))
            }
        }

        read(mainFile, required: mainFileRequired)
        let directory = dropInDirectory(for: mainFile)
        switch FileAccess.names(in: directory) {
        case .success(let names?):
            let dropIns = names.filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") }
                .sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for name in dropIns {
                read(directory + "/" + name, required: true)
            }
        case .success(nil):
            break
        case .failure(let invalid):
            errors.append(ConfigurationError(file: directory, line: nil, message: invalid.reason))
        }
        errors += overrides.apply(to: &configuration)

        guard errors.isEmpty else { return .failure(ConfigurationErrors(errors)) }
        return .success((configuration, sources))
    }

    /// `/etc/p2mp/p2mpd.toml.d` for `/etc/p2mp/p2mpd.toml`.
    public static func dropInDirectory(for mainFile: String) -> String {
        var path = mainFile
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path + ".d"
    }

    /// One file's bytes: UTF-8 check, then `parse(text:file:into:)`.
    static func parse(bytes: [UInt8], file: String, into configuration: inout DaemonConfiguration)
        -> [ConfigurationError]
    {
        guard let text = String(validating: bytes, as: UTF8.self) else {
            var line = 1
            for lineBytes in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                if String(validating: lineBytes, as: UTF8.self) == nil { break }
                line += 1
            }
            return [ConfigurationError(file: file, line: line, message: "is not valid UTF-8, expected UTF-8 text")]
        }
        return parse(text: text, file: file, into: &configuration)
    }

    /// Applies one file's keys over `configuration` and returns every problem, in line order.
    /// Valid keys are applied even when others are wrong; a file with a syntax error applies
    /// nothing. `file` is only used in the errors.
    public static func parse(text: String, file: String, into configuration: inout DaemonConfiguration)
        -> [ConfigurationError]
    {
        let text = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
        if let nul = text.utf8.firstIndex(of: 0) {  // TOMLKit would stop reading there
            let line = text.utf8[..<nul].count(where: { $0 == UInt8(ascii: "\n") }) + 1
            return [ConfigurationError(file: file, line: line, message: "contains a NUL byte, expected UTF-8 text")]
        }
        let layout = TOMLLayout(text)
        if let hazard = layout.parserHazard {
            return [ConfigurationError(file: file, line: hazard.line, message: "TOML syntax error: \(hazard.message)")]
        }
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            let line = error.source.begin.line > 0 ? error.source.begin.line : nil
            return [ConfigurationError(file: file, line: line, message: "TOML syntax error: \(error.description)")]
        } catch {
            return [ConfigurationError(file: file, line: nil, message: "TOML syntax error: \(error)")]
        }
        if let line = layout.firstEscapedNulLine {
            let message = "contains an escaped NUL character (\\u0000), expected text without NUL"
            return [ConfigurationError(file: file, line: line, message: message)]
        }
        var errors: [ConfigurationError] = []

        var tableRoots = Set<String>()
        for header in layout.headers {
            let brackets = header.isArray ? ("[[", "]]") : ("[", "]")
            let name = header.path.map { isBareKey($0) ? $0 : quoted($0) }.joined(separator: ".")
            let message =
                "tables are not supported (\(brackets.0)\(name)\(brackets.1)): "
                + "p2mpd.toml is flat, expected every key at the top level"
            errors.append(ConfigurationError(file: file, line: header.line, message: message))
            if let root = header.path.first { tableRoots.insert(root) }
        }

        for (key, value) in table {
            let line = layout.rootKeyLines[key]
            let converted = configValue(value)
            if tableRoots.contains(key) && line == nil { continue }  // reported with its header
            guard let known = ConfigurationKey(rawValue: key) else {
                var message = "unknown key \(displayKey(key)) (expected one of: \(ConfigurationKey.names))"
                if let suggestion = ConfigurationKey.suggestion(for: key) {
                    message += "; did you mean '\(suggestion.rawValue)'?"
                }
                errors.append(ConfigurationError(file: file, line: line, message: message))
                continue
            }
            for message in known.apply(converted, named: "'\(key)'", to: &configuration) {
                errors.append(ConfigurationError(file: file, line: line, message: message))
            }
        }
        // Stable: within a line, in the order found (tables' keys come sorted by name).
        return errors.enumerated().sorted {
            ($0.element.line ?? .max, $0.offset) < ($1.element.line ?? .max, $1.offset)
        }.map(\.element)
    }

    static func configValue(_ value: any TOMLValueConvertible) -> ConfigValue {
        switch value.type {
        case .string: .string(value.string ?? "")
        case .int: .integer(value.int ?? 0)
        case .double: .float(value.double ?? .nan)
        case .bool: .boolean(value.bool ?? false)
        case .array: .array(value.array.map { $0.map(configValue) } ?? [])
        case .table: .table
        case .date: .other(typeName: "date")
        case .time: .other(typeName: "time")
        case .dateTime: .other(typeName: "date-time")
        }
    }

    /// A key as written in messages: `'key'` when it is a bare key, else double-quoted with
    /// escapes, so that odd characters cannot garble the line.
    static func displayKey(_ key: String) -> String {
        isBareKey(key) ? "'\(key)'" : quoted(key)
    }

    static func isBareKey(_ key: String) -> Bool {
        !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || $0 == "_" || $0 == "-"
            }
    }
}
