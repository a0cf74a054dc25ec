#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import P2MPConfiguration

/// The loader over real files: a main file and drop-ins, then a reload of a second set.
/// The input's NUL bytes split it into up to eight files: the first half are the first set
/// (main file, then drop-ins in order), the rest the second. Loading never traps; every
/// error names a file of its set and a line of that file; loading is a function of the files
/// (the same set loads the same after the other set was loaded); the result is each file
/// applied in order over the defaults; and an accepted configuration is valid and, written
/// back as TOML, reads back the same.
enum ConfigurationProperties {
    /// A directory of this process's own, made once, in memory where there is a tmpfs.
    static let directory: String = {
        var status = stat()
        let parent = stat("/dev/shm", &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR ? "/dev/shm" : "/tmp"
        var template = Array("\(parent)/p2mp-fuzz-config-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { return "/tmp" }
        atexit { ConfigurationProperties.removeFiles() }
        return String(cString: made)
    }()

    static let setNames = ["first", "second"]

    /// Removes what `loadAndCheck` wrote, and the directory.
    static func removeFiles() {
        for name in setNames {
            let dropIns = ConfigurationLoader.dropInDirectory(for: mainFile(name))
            for index in 1..<8 { unlink(dropIns + "/\(index).toml") }
            rmdir(dropIns)
            unlink(mainFile(name))
        }
        rmdir(directory)
    }

    static func check(_ bytes: [UInt8]) throws(PropertyViolation) {
        let parts = Array(bytes.split(separator: 0, omittingEmptySubsequences: false).prefix(8).map(Array.init))
        let half = (parts.count + 1) / 2
        let first = Array(parts[..<half])
        let initial = try loadAndCheck(first, as: setNames[0])
        _ = try loadAndCheck(Array(parts[half...]), as: setNames[1])
        let reloaded = ConfigurationLoader.load(mainFile: mainFile(setNames[0]))
        let same =
            switch (initial, reloaded) {
            case (.success(let a), .success(let b)): a.configuration == b.configuration && a.sources == b.sources
            case (.failure(let a), .failure(let b)): a == b
            default: false
            }
        try require(same, "the same files loaded differently after another set")
    }

    static func mainFile(_ name: String) -> String { directory + "/" + name + ".toml" }

    typealias Loaded = Result<(configuration: DaemonConfiguration, sources: [String]), ConfigurationErrors>

    /// Writes `files` (main, then drop-ins) under `name` and loads them, checking the result.
    static func loadAndCheck(_ files: [[UInt8]], as name: String) throws(PropertyViolation) -> Loaded {
        let main = mainFile(name)
        let dropIns = ConfigurationLoader.dropInDirectory(for: main)
        mkdir(dropIns, 0o700)
        for index in 1..<8 { unlink(dropIns + "/\(index).toml") }
        var paths: [String] = []
        for (index, contents) in files.enumerated() {
            let path = index == 0 ? main : dropIns + "/\(index).toml"
            try write(contents, to: path)
            paths.append(path)
        }
        if files.isEmpty { unlink(main) }
        let loaded = ConfigurationLoader.load(mainFile: main)

        var layered = DaemonConfiguration.defaults
        var layeredErrors: [ConfigurationError] = []
        for (path, contents) in zip(paths, files) {
            layeredErrors += ConfigurationLoader.parse(bytes: contents, file: path, into: &layered)
        }
        switch loaded {
        case .success(let result):
            try require(layeredErrors.isEmpty && result.configuration == layered, "loading is not the files applied in order")
            try require(result.sources == paths, "sources \(result.sources), expected \(paths)")
            try checkValid(result.configuration)
            try checkRoundTrip(result.configuration)
        case .failure(let errors):
            try require(errors.errors == layeredErrors, "the errors are not those of each file in order")
            for error in errors.errors {
                guard let index = paths.firstIndex(of: error.file) else {
                    throw PropertyViolation("an error names no file of the set: \(error)")
                }
                let lines = files[index].count(where: { $0 == UInt8(ascii: "\n") }) + 1
                try require(error.line.map { (1...lines).contains($0) } ?? true, "line out of the file: \(error)")
            }
        }
        return loaded
    }

    static func write(_ contents: [UInt8], to path: String) throws(PropertyViolation) {
        // A new file rather than a truncated one, which ext4 flushes to disk on close.
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw PropertyViolation("cannot write \(path)") }
        defer { close(descriptor) }
        let written = contents.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
        try require(written == contents.count, "short write to \(path)")
    }

    /// Every value in its documented range, and the sums the daemon makes in range.
    static func checkValid(_ configuration: DaemonConfiguration) throws(PropertyViolation) {
        let c = configuration
        try require(!c.listen.isEmpty && Set(c.listen).count == c.listen.count, "listen \(c.listen)")
        try require(c.spool.hasPrefix("/") && !c.spool.utf8.contains(0), "spool \(c.spool)")
        try require((0...1).contains(c.loss), "loss \(c.loss)")
        try require(
            (1...ConfigurationKey.largestSize.bytes).contains(c.maxFileSize.bytes)
                && c.minFreeSpace <= ConfigurationKey.largestSize,
            "sizes \(c.maxFileSize) \(c.minFreeSpace)")
        try require(!c.maxFileSize.bytes.addingReportingOverflow(c.minFreeSpace.bytes).overflow, "size sum overflows")
        for count in [c.maxTransfers, c.maxPartials, c.maxPartialsPerSender] {
            try require(ConfigurationKey.maxTransfersRange.contains(count), "a count of \(count)")
        }
        for (duration, limit) in [
            (c.idleTimeout, ConfigurationKey.idleTimeoutLimit), (c.partialMaxAge, ConfigurationKey.partialMaxAgeLimit),
            (c.postReceiveTimeout, ConfigurationKey.postReceiveTimeoutLimit),
        ] {
            try require(duration > .zero && duration <= .seconds(limit), "duration \(duration) over \(limit)")
        }
        let interval = ConfigurationKey.lossEventIntervalRange
        try require(
            c.lossEventInterval >= .seconds(interval.lowerBound) && c.lossEventInterval <= .seconds(interval.upperBound),
            "loss_event_interval \(c.lossEventInterval) outside \(interval)")
        if let command = c.postReceive {
            try require(!command.utf8.contains(0) && command.contains { $0 != " " && $0 != "\t" }, "post_receive \(command)")
        }
    }

    /// The configuration written as p2mpd.toml and read again over the defaults.
    static func checkRoundTrip(_ configuration: DaemonConfiguration) throws(PropertyViolation) {
        let c = configuration
        func strings(_ items: [some CustomStringConvertible]) -> String {
            "[" + items.map { TOMLRendering.string($0.description) }.joined(separator: ", ") + "]"
        }
        func seconds(_ duration: Duration) -> String {
            let (whole, fraction) = duration.components
            return fraction == 0 ? "\(whole)" : "\(Double(whole) + Double(fraction) * 1e-18)"
        }
        let text = """
            listen = \(strings(c.listen))
            spool = \(TOMLRendering.string(c.spool))
            loss = \(c.loss)
            max_file_size = \(c.maxFileSize.bytes)
            min_free_space = \(TOMLRendering.string(c.minFreeSpace.description))
            max_transfers = \(c.maxTransfers)
            max_partials = \(c.maxPartials)
            max_partials_per_sender = \(c.maxPartialsPerSender)
            idle_timeout = \(seconds(c.idleTimeout))
            log_level = "\(c.logLevel.rawValue)"
            loss_event_interval = \(seconds(c.lossEventInterval))
            allow = \(strings(c.allow))
            conflict = "\(c.conflict.rawValue)"
            partial_max_age = \(seconds(c.partialMaxAge))
            post_receive = \(TOMLRendering.string(c.postReceive ?? ""))
            post_receive_timeout = \(seconds(c.postReceiveTimeout))
            manage_allow = \(strings(c.manageAllow))
            trusted_senders = \(TOMLRendering.string(c.trustedSenders ?? ""))
            \(c.hostKey.map { "host_key = \(TOMLRendering.string($0))" } ?? "")
            """
        var again = DaemonConfiguration.defaults
        let errors = ConfigurationLoader.parse(text: text, file: "rendered", into: &again)
        try require(errors.isEmpty, "the configuration written back is refused: \(errors) in\n\(text)")
        func close(_ a: Duration, _ b: Duration) -> Bool { a - b < .microseconds(1) && b - a < .microseconds(1) }
        var exact = again
        exact.idleTimeout = c.idleTimeout
        exact.partialMaxAge = c.partialMaxAge
        exact.postReceiveTimeout = c.postReceiveTimeout
        exact.lossEventInterval = c.lossEventInterval
        try require(
            exact == c && close(again.idleTimeout, c.idleTimeout) && close(again.partialMaxAge, c.partialMaxAge)
                && close(again.postReceiveTimeout, c.postReceiveTimeout) && close(again.lossEventInterval, c.lossEventInterval),
            "written back and read again: \(again)\nwas: \(c)\n\(text)")
    }
}

/// `write(2)`, named apart from `ConfigurationProperties.write`.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, buffer, count)
    #else
    Darwin.write(descriptor, buffer, count)
    #endif
}
