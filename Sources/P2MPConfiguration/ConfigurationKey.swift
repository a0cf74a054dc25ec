/// A value as written in a source, before validation: TOML's types, so that
/// files and command-line flags go through the same rules.
enum ConfigValue {
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    case array([ConfigValue])
    case table
    /// Dates and times, which no key accepts.
    case other(typeName: String)

    /// `a string ("0.5")`, `an integer (42)`, `a table`: how a wrong-typed value is named.
    var typeAndValue: String {
        switch self {
        case .string(let text): "a string (\(quoted(text)))"
        case .integer(let value): "an integer (\(value))"
        case .float(let value): "a floating-point number (\(value))"
        case .boolean(let value): "a boolean (\(value))"
        case .array: "an array"
        case .table: "a table"
        case .other(let typeName): "a \(typeName)"
        }
    }

    /// The value itself, for range errors: `1.5`, `"verbose"`.
    var rendered: String {
        switch self {
        case .string(let text): quoted(text)
        case .integer(let value): "\(value)"
        case .float(let value): "\(value)"
        default: typeAndValue
        }
    }
}

/// Double-quoted with control characters escaped, so a message stays on one line.
func quoted(_ text: String) -> String {
    var result = "\""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\"": result += "\\\""
        case "\\": result += "\\\\"
        case "\n": result += "\\n"
        case "\t": result += "\\t"
        case _ where scalar.value < 0x20 || scalar.value == 0x7F:
            result += "\\u{\(String(scalar.value, radix: 16))}"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result + "\""
}

/// The keys of p2mpd.toml, in documentation order. Each one knows what it expects and how to
/// store a valid value; `apply` returns one message per problem (several for arrays).
enum ConfigurationKey: String, CaseIterable {
    case listen
    case spool
    case loss
    case maxFileSize = "max_file_size"
    case minFreeSpace = "min_free_space"
    case maxTransfers = "max_transfers"
    case maxPartials = "max_partials"
    case maxPartialsPerSender = "max_partials_per_sender"
    case idleTimeout = "idle_timeout"
    case logLevel = "log_level"
    case lossEventInterval = "loss_event_interval"
    case allow
    case conflict
    case partialMaxAge = "partial_max_age"
    case postReceive = "post_receive"
    case postReceiveTimeout = "post_receive_timeout"
    case manageAllow = "manage_allow"
    case trustedSenders = "trusted_senders"
    case hostKey = "host_key"

    static let maxTransfersRange = 1...100_000
    /// The largest size either size key takes: far beyond any disk, and small enough that
    /// the daemon's sums of a file size and the free-space floor cannot overflow.
    static let largestSize = ByteSize.tebibytes(1024)
    static let idleTimeoutLimit = 86_400.0
    static let partialMaxAgeLimit = 315_360_000.0  // ten years
    static let postReceiveTimeoutLimit = 86_400.0
    static let lossEventIntervalRange = 1.0...3_600.0

    static let names = allCases.map(\.rawValue).joined(separator: ", ")

    /// What a valid value looks like, the end of every message about this key.
    var expected: String {
        switch self {
        case .listen: #"an array of "ADDRESS:PORT" strings, such as ["0.0.0.0:7735", "[::]:7735"]"#
        case .spool: #"an absolute directory path (a string), such as "/var/lib/p2mp/spool""#
        case .loss: "a probability in [0, 1]"
        case .maxFileSize: ByteSize.expected + ", from 1 byte to \(Self.largestSize)"
        case .minFreeSpace: ByteSize.expected + ", at most \(Self.largestSize)"
        case .maxTransfers, .maxPartials, .maxPartialsPerSender:
            "an integer in [\(Self.maxTransfersRange.lowerBound), \(Self.maxTransfersRange.upperBound)]"
        case .idleTimeout: "a number of seconds in (0, \(Int(Self.idleTimeoutLimit))]"
        case .logLevel: "one of " + LogLevel.allCases.map(\.rawValue).joined(separator: ", ")
        case .lossEventInterval:
            "a number of seconds in [\(Int(Self.lossEventIntervalRange.lowerBound)), \(Int(Self.lossEventIntervalRange.upperBound))]"
        case .allow, .manageAllow: #"an array of networks in CIDR notation, such as ["10.0.0.0/8", "fd00::/8"]"#
        case .conflict: "one of " + ConflictPolicy.allCases.map(\.rawValue).joined(separator: ", ")
        case .partialMaxAge: "a number of seconds in (0, \(Int(Self.partialMaxAgeLimit))]"
        case .postReceive: #"a command line (a string), or "" for none"#
        case .postReceiveTimeout: "a number of seconds in (0, \(Int(Self.postReceiveTimeoutLimit))]"
        case .trustedSenders: #"an absolute file path (a string), such as "/etc/p2mp/trusted-senders", or "" for none"#
        case .hostKey: #"an absolute file path (a string), such as "/var/lib/p2mp/host_key""#
        }
    }

    /// Validates `value` and stores it in `configuration`; on any problem nothing is stored
    /// and the messages say why. `name` is how the value is called in them (`'loss'`,
    /// `'--loss'`).
    func apply(_ value: ConfigValue, named name: String, to configuration: inout DaemonConfiguration) -> [String] {
        // Built only when needed: most values are valid.
        var wrongType: [String] { ["\(name) is \(value.typeAndValue), expected \(expected)"] }
        var outOfRange: [String] { ["\(name) is \(value.rendered), expected \(expected)"] }
        switch self {
        case .listen:
            guard case .array(let items) = value else { return wrongType }
            if items.isEmpty { return ["\(name) is empty, expected at least one address: \(expected)"] }
            var addresses: [SocketAddressSpec] = []
            var problems: [String] = []
            for (index, item) in items.enumerated() {
                let entry = "\(name) entry \(index + 1)"
                guard case .string(let text) = item else {
                    problems.append(#"\#(entry) is \#(item.typeAndValue), expected an "ADDRESS:PORT" string"#)
                    continue
                }
                switch SocketAddressSpec.parse(text) {
                case .success(let address):
                    if addresses.contains(address) {
                        problems.append("\(entry) (\(quoted(text))) repeats \(address), expected each address once")
                    } else {
                        addresses.append(address)
                    }
                case .failure(let invalid): problems.append("\(entry) (\(quoted(text))) \(invalid.reason)")
                }
            }
            guard problems.isEmpty else { return problems }
            configuration.listen = addresses
        case .spool, .hostKey, .trustedSenders:
            guard case .string(let path) = value else { return wrongType }
            if self == .trustedSenders, path.isEmpty {
                configuration.trustedSenders = nil
                return []
            }
            guard !path.isEmpty, !path.contains("\0") else { return outOfRange }
            // A file has no working directory to resolve against; p2mpd resolves its flags
            // before they get here.
            guard path.hasPrefix("/") else {
                return [
                    "\(name) is \(value.rendered), a relative path: paths in configuration files must be absolute "
                        + "(p2mpd --\(rawValue.replacingUnderscores) resolves a relative one against the working directory), "
                        + "expected \(expected)"
                ]
            }
            switch self {
            case .spool: configuration.spool = path
            case .hostKey: configuration.hostKey = path
            default: configuration.trustedSenders = path
            }
        case .loss:
            guard let number = value.number else { return wrongType }
            guard (0...1).contains(number) else { return outOfRange }
            configuration.loss = number
        case .maxFileSize, .minFreeSpace:
            let size: ByteSize
            switch value {
            case .integer(let bytes):
                guard bytes >= 0 else { return outOfRange }
                size = ByteSize(bytes: UInt64(bytes))
            case .string(let text):
                switch ByteSize.parse(text) {
                case .success(let parsed): size = parsed
                case .failure(ByteSize.tooLarge): return outOfRange
                case .failure(let invalid): return ["\(name) (\(quoted(text))) \(invalid.reason)"]
                }
            default: return wrongType
            }
            guard size <= Self.largestSize else { return outOfRange }
            if self == .maxFileSize {
                guard size.bytes >= 1 else { return outOfRange }
                configuration.maxFileSize = size
            } else {
                configuration.minFreeSpace = size
            }
        case .maxTransfers, .maxPartials, .maxPartialsPerSender:
            guard case .integer(let count) = value else { return wrongType }
            guard Self.maxTransfersRange.contains(count) else { return outOfRange }
            switch self {
            case .maxTransfers: configuration.maxTransfers = count
            case .maxPartials: configuration.maxPartials = count
            default: configuration.maxPartialsPerSender = count
            }
        case .idleTimeout, .partialMaxAge, .postReceiveTimeout:
            guard let seconds = value.number else { return wrongType }
            let limit =
                switch self {
                case .idleTimeout: Self.idleTimeoutLimit
                case .partialMaxAge: Self.partialMaxAgeLimit
                default: Self.postReceiveTimeoutLimit
                }
            guard seconds > 0, seconds <= limit else { return outOfRange }
            let duration: Duration =
                if case .integer(let whole) = value { .seconds(whole) } else { .seconds(seconds) }
            switch self {
            case .idleTimeout: configuration.idleTimeout = duration
            case .partialMaxAge: configuration.partialMaxAge = duration
            default: configuration.postReceiveTimeout = duration
            }
        case .lossEventInterval:
            guard let seconds = value.number else { return wrongType }
            guard Self.lossEventIntervalRange.contains(seconds) else { return outOfRange }
            configuration.lossEventInterval = if case .integer(let whole) = value { .seconds(whole) } else { .seconds(seconds) }
        case .logLevel:
            guard case .string(let text) = value else { return wrongType }
            guard let level = LogLevel(rawValue: text) else { return outOfRange }
            configuration.logLevel = level
        case .conflict:
            guard case .string(let text) = value else { return wrongType }
            guard let policy = ConflictPolicy(rawValue: text) else { return outOfRange }
            configuration.conflict = policy
        case .allow, .manageAllow:
            guard case .array(let items) = value else { return wrongType }
            var networks: [CIDR] = []
            var problems: [String] = []
            for (index, item) in items.enumerated() {
                let entry = "\(name) entry \(index + 1)"
                guard case .string(let text) = item else {
                    problems.append("\(entry) is \(item.typeAndValue), expected a network in CIDR notation (a string)")
                    continue
                }
                switch CIDR.parse(text) {
                case .success(let network): networks.append(network)
                case .failure(let invalid): problems.append("\(entry) (\(quoted(text))) \(invalid.reason)")
                }
            }
            guard problems.isEmpty else { return problems }
            if self == .allow { configuration.allow = networks } else { configuration.manageAllow = networks }
        case .postReceive:
            guard case .string(let command) = value else { return wrongType }
            guard !command.contains("\0") else { return outOfRange }
            let trimmed = command.drop(while: { $0 == " " || $0 == "\t" })
            configuration.postReceive = trimmed.isEmpty ? nil : command
        }
        return []
    }

    /// For unknown keys: the closest known key, when it is close enough to be a likely typo.
    static func suggestion(for key: String) -> ConfigurationKey? {
        let lowered = key.lowercased().replacingHyphens()
        if let exact = ConfigurationKey(rawValue: lowered) { return exact }
        var best: (key: ConfigurationKey, distance: Int)?
        for candidate in allCases {
            let distance = editDistance(lowered, candidate.rawValue)
            if distance <= max(2, candidate.rawValue.count / 4), distance < (best?.distance ?? .max) {
                best = (candidate, distance)
            }
        }
        if let best { return best.key }
        return allCases.first { lowered.hasPrefix($0.rawValue) || $0.rawValue.hasPrefix(lowered) && lowered.count >= 4 }
    }
}

extension ConfigValue {
    /// Integers and floats both count as numbers (TOML writes `1` and `1.0` differently).
    var number: Double? {
        switch self {
        case .integer(let value): Double(value)
        case .float(let value): value
        default: nil
        }
    }
}

extension String {
    fileprivate func replacingHyphens() -> String {
        String(map { $0 == "-" ? "_" : $0 })
    }
}

/// Levenshtein distance over characters.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

extension String {
    /// `trusted_senders` → `trusted-senders`: a key's command-line flag.
    fileprivate var replacingUnderscores: String { String(map { $0 == "_" ? "-" : $0 }) }
}
