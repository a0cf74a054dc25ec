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
    /// `--trusted-senders`: replaces `trusted_senders`.
    public var trustedSenders: String?
    /// `--host-key`: replaces `host_key`.
    public var hostKey: String?
    /// `--metrics-listen`: replaces `metrics_listen`.
    public var metricsListen: String?

    public init(
        listen: [String]? = nil, spool: String? = nil, loss: Double? = nil, logLevel: String? = nil,
        trustedSenders: String? = nil, hostKey: String? = nil, metricsListen: String? = nil
    ) {
        self.listen = listen
        self.spool = spool
        self.loss = loss
        self.logLevel = logLevel
        self.trustedSenders = trustedSenders
        self.hostKey = hostKey
        self.metricsListen = metricsListen
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
        if let trustedSenders {
            messages += ConfigurationKey.trustedSenders.apply(
                .string(trustedSenders), named: "'--trusted-senders'", to: &configuration)
        }
        if let hostKey {
            messages += ConfigurationKey.hostKey.apply(.string(hostKey), named: "'--host-key'", to: &configuration)
        }
        if let metricsListen {
            messages += ConfigurationKey.metricsListen.apply(.string(metricsListen), named: "'--metrics-listen'", to: &configuration)
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
        if let nul = text.utf8.firstIndex(of: 0) {
            let line = text.utf8[..<nul].count(where: { $0 == UInt8(ascii: "\n") }) + 1
            return [ConfigurationError(file: file, line: line, message: "contains a NUL byte, expected UTF-8 text")]
        }
        let document: TOMLDocument
        switch TOMLParser.parse(text) {
        case .success(let parsed): document = parsed
        case .failure(let error):
            return [ConfigurationError(file: file, line: error.line, message: "TOML syntax error: \(error.message)")]
        }
        var errors: [ConfigurationError] = []
        for header in document.headers {
            let brackets = header.isArray ? ("[[", "]]") : ("[", "]")
            let name = header.path.map(displayKeyPart).joined(separator: ".")
            let message =
                "tables are not supported (\(brackets.0)\(name)\(brackets.1)): "
                + "p2mpd.toml is flat, expected every key at the top level"
            errors.append(ConfigurationError(file: file, line: header.line, message: message))
        }
        for key in document.root.keys {
            // A key that only headers created is reported with its header.
            guard let line = document.rootKeyLines[key], let value = document.root.values[key] else { continue }
            guard let known = ConfigurationKey(rawValue: key) else {
                var message = "unknown key \(displayKey(key)) (expected one of: \(ConfigurationKey.names))"
                if let suggestion = ConfigurationKey.suggestion(for: key) {
                    message += "; did you mean '\(suggestion.rawValue)'?"
                }
                errors.append(ConfigurationError(file: file, line: line, message: message))
                continue
            }
            for message in known.apply(configValue(value), named: "'\(key)'", to: &configuration) {
                errors.append(ConfigurationError(file: file, line: line, message: message))
            }
        }
        // Stable: within a line, in the order found.
        return errors.enumerated().sorted {
            ($0.element.line ?? .max, $0.offset) < ($1.element.line ?? .max, $1.offset)
        }.map(\.element)
    }

    static func configValue(_ value: TOMLValue) -> ConfigValue {
        switch value {
        case .string(let text): .string(text)
        case .integer(let number): .integer(number)
        case .float(let number): .float(number)
        case .boolean(let flag): .boolean(flag)
        case .array(let items): .array(items.map(configValue))
        case .table: .table
        case .dateTime(let dateTime):
            switch dateTime.kind {
            case .localDate: .other(typeName: "date")
            case .localTime: .other(typeName: "time")
            case .offsetDateTime, .localDateTime: .other(typeName: "date-time")
            }
        }
    }

    /// A key as written in messages: `'key'` when it is a bare key, else double-quoted with
    /// escapes, so that odd characters cannot garble the line.
    static func displayKey(_ key: String) -> String {
        isBareKey(key) ? "'\(key)'" : quoted(key)
    }

    /// One part of a dotted key or header as written in messages: bare, or double-quoted.
    static func displayKeyPart(_ key: String) -> String {
        isBareKey(key) ? key : quoted(key)
    }

    static func isBareKey(_ key: String) -> Bool {
        !key.isEmpty
            && key.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0)
                    || $0 == "_" || $0 == "-"
            }
    }
}
