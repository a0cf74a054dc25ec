import Foundation
import P2MPConfiguration
import Testing

/// A fresh temporary directory, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.path + "/p2mp-config-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        let file = path + "/" + name
        let directory = (file as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: file, atomically: false, encoding: .utf8)
        return file
    }
}

extension Result where Success == (configuration: DaemonConfiguration, sources: [String]), Failure == ConfigurationErrors {
    var errors: [ConfigurationError] {
        if case .failure(let errors) = self { errors.errors } else { [] }
    }
}

@Suite("loading files, drop-ins and overrides")
struct LoaderTests {
    @Test("no files: the embedded defaults")
    func defaults() throws {
        let directory = try TemporaryDirectory()
        let (configuration, sources) = try ConfigurationLoader.load(mainFile: directory.path + "/p2mpd.toml").get()
        #expect(configuration == DaemonConfiguration.defaults)
        #expect(sources == [])
        #expect(configuration.listen.map(\.description) == ["0.0.0.0:7735"])
        #expect(configuration.spool == "/var/lib/p2mp/spool")
        #expect(configuration.loss == 0)
        #expect(configuration.maxFileSize == .gibibytes(64))
        #expect(configuration.minFreeSpace == .gibibytes(1))
        #expect(configuration.maxTransfers == 64)
        #expect(configuration.idleTimeout == .seconds(30))
        #expect(configuration.logLevel == .info)
        #expect(configuration.allow.map(\.description) == ["0.0.0.0/0", "::/0"])
        #expect(configuration.conflict == .reject)
        #expect(configuration.partialMaxAge == .seconds(604_800))
        #expect(configuration.postReceive == nil)
        #expect(configuration.postReceiveTimeout == .seconds(60))
        #expect(configuration.manageAllow == [])
    }

    @Test("main file, then drop-ins in name order, key by key")
    func dropIns() throws {
        let directory = try TemporaryDirectory()
        let main = try directory.write("p2mpd.toml", "loss = 0.1\nmax_transfers = 8\nspool = \"/srv/main\"\n")
        let second = try directory.write("p2mpd.toml.d/20-site.toml", "max_transfers = 16\nlog_level = \"debug\"\n")
        let first = try directory.write("p2mpd.toml.d/10-base.toml", "max_transfers = 12\nloss = 0.2\nconflict = \"replace\"\n")
        try directory.write("p2mpd.toml.d/.hidden.toml", "loss = 0.9\n")
        try directory.write("p2mpd.toml.d/30-notes.txt", "this is not TOML\n")
        try directory.write("p2mpd.toml.d/p2mpd.toml.dpkg-old", "loss = 0.9\n")
        let (configuration, sources) = try ConfigurationLoader.load(mainFile: main).get()
        #expect(sources == [main, first, second])
        #expect(configuration.loss == 0.2)
        #expect(configuration.maxTransfers == 16)
        #expect(configuration.spool == "/srv/main")
        #expect(configuration.logLevel == .debug)
        #expect(configuration.conflict == .replace)
        #expect(configuration.idleTimeout == DaemonConfiguration.defaults.idleTimeout)
    }

    @Test("drop-ins apply without a main file")
    func dropInsWithoutMain() throws {
        let directory = try TemporaryDirectory()
        let dropIn = try directory.write("p2mpd.toml.d/50-loss.toml", "loss = 0.5\n")
        let (configuration, sources) = try ConfigurationLoader.load(mainFile: directory.path + "/p2mpd.toml").get()
        #expect(sources == [dropIn])
        #expect(configuration.loss == 0.5)
    }

    @Test("--config PATH reads PATH and PATH.d/, not the default location's drop-ins")
    func configPath() throws {
        let directory = try TemporaryDirectory()
        try directory.write("etc/p2mpd.toml", "loss = 0.9\n")
        try directory.write("etc/p2mpd.toml.d/10.toml", "loss = 0.8\n")
        let custom = try directory.write("custom/test.toml", "loss = 0.3\nmax_transfers = 3\n")
        let customDropIn = try directory.write("custom/test.toml.d/10.toml", "max_transfers = 4\n")
        let (configuration, sources) = try ConfigurationLoader.load(mainFile: custom, mainFileRequired: true).get()
        #expect(sources == [custom, customDropIn])
        #expect(configuration.loss == 0.3)
        #expect(configuration.maxTransfers == 4)
        #expect(ConfigurationLoader.dropInDirectory(for: "/etc/p2mp/p2mpd.toml") == "/etc/p2mp/p2mpd.toml.d")
    }

    @Test("a required main file that is missing is an error")
    func missingRequired() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/nope.toml"
        let result = ConfigurationLoader.load(mainFile: path, mainFileRequired: true)
        #expect(result.errors == [ConfigurationError(file: path, line: nil, message: "does not exist")])
        #expect(result.errors.first?.description == "\(path): does not exist")
    }

    @Test("a main file that is a directory is an error")
    func directoryAsFile() throws {
        let directory = try TemporaryDirectory()
        try directory.write("p2mpd.toml/x", "")
        let result = ConfigurationLoader.load(mainFile: directory.path + "/p2mpd.toml")
        #expect(result.errors.map(\.message) == ["is a directory, expected a file"])
    }

    @Test("errors of every file are collected, each with its file and line")
    func errorsAcrossFiles() throws {
        let directory = try TemporaryDirectory()
        let main = try directory.write("p2mpd.toml", "# main\nspool_dri = \"/srv\"\nloss = 0.5\n")
        let dropIn = try directory.write("p2mpd.toml.d/10.toml", "\n\nmax_transfers = 0\nlog_level = \"loud\"\n")
        let broken = try directory.write("p2mpd.toml.d/20.toml", "loss = \n")
        let result = ConfigurationLoader.load(mainFile: main, overrides: .init(loss: 7))
        let errors = result.errors
        #expect(errors.map(\.file) == [main, dropIn, dropIn, broken, "command line"])
        #expect(errors.map(\.line) == [2, 3, 4, 1, nil])
        #expect(errors[0].description.hasPrefix("\(main):2: unknown key 'spool_dri' (expected one of: listen, spool,"))
        #expect(errors[3].message.hasPrefix("TOML syntax error: "))
        #expect(errors[4].description == "command line: '--loss' is 7.0, expected a probability in [0, 1]")
        guard case .failure(let all) = result else { return }
        #expect(all.description.split(separator: "\n").count == 5)
    }

    @Test("command-line overrides beat every file")
    func overrides() throws {
        let directory = try TemporaryDirectory()
        let main = try directory.write("p2mpd.toml", "loss = 0.1\nspool = \"/srv/file\"\nlog_level = \"error\"\n")
        try directory.write("p2mpd.toml.d/10.toml", "listen = [\"127.0.0.1:9\"]\n")
        let overrides = ConfigurationOverrides(
            listen: ["[::1]:7000", "127.0.0.1:7000"], spool: "/srv/flag", loss: 0.4, logLevel: "trace")
        let (configuration, _) = try ConfigurationLoader.load(mainFile: main, overrides: overrides).get()
        #expect(configuration.listen.map(\.description) == ["[::1]:7000", "127.0.0.1:7000"])
        #expect(configuration.spool == "/srv/flag")
        #expect(configuration.loss == 0.4)
        #expect(configuration.logLevel == .trace)
    }

    @Test("bad override values are reported, one error each, naming the flag")
    func badOverrides() throws {
        let directory = try TemporaryDirectory()
        let overrides = ConfigurationOverrides(listen: ["nowhere", "0.0.0.0:7735", "0.0.0.0:99999"], spool: "rel", loss: -1, logLevel: "loud")
        let result = ConfigurationLoader.load(mainFile: directory.path + "/p2mpd.toml", overrides: overrides)
        #expect(result.errors.map(\.description) == [
            #"command line: '--listen' entry 1 ("nowhere") has no port, expected ADDRESS:PORT with a literal IP address, such as "0.0.0.0:7735" or "[::]:7735""#,
            #"command line: '--listen' entry 3 ("0.0.0.0:99999") has port '99999', expected a port in [1, 65535]"#,
            #"command line: '--spool' is "rel", a relative path: paths in configuration files must be absolute (p2mpd --spool resolves a relative one against the working directory), expected an absolute directory path (a string), such as "/var/lib/p2mp/spool""#,
            "command line: '--loss' is -1.0, expected a probability in [0, 1]",
            "command line: '--log-level' is \"loud\", expected one of trace, debug, info, notice, warning, error, critical",
        ])
    }

    @Test("a file that is not UTF-8 or holds a NUL byte is refused with its line")
    func notText() throws {
        let directory = try TemporaryDirectory()
        let main = directory.path + "/p2mpd.toml"
        try Data("loss = 0.5\nspool = \"/x\u{FF}\"\n".utf8.map { $0 == 0xBF ? 0xFF : $0 }).write(to: URL(fileURLWithPath: main))
        #expect(ConfigurationLoader.load(mainFile: main).errors.map(\.description) == ["\(main):2: is not valid UTF-8, expected UTF-8 text"])
        try Data("\n\nloss = 0\0\n".utf8).write(to: URL(fileURLWithPath: main))
        #expect(ConfigurationLoader.load(mainFile: main).errors.map(\.description) == ["\(main):3: contains a NUL byte, expected UTF-8 text"])
    }

    /// The shipped default file, found from this source file's path.
    static let shippedFile: String = {
        var components = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)  // Tests/P2MPConfigurationTests/LoaderTests.swift
        return (components + ["etc", "p2mp", "p2mpd.toml"]).joined(separator: "/")
    }()

    /// The defaults with the two keys the package sets: secure by default (issue 14).
    static var shippedConfiguration: DaemonConfiguration {
        var configuration = DaemonConfiguration.defaults
        configuration.trustedSenders = "/etc/p2mp/trusted-senders"
        configuration.hostKey = "/var/lib/p2mp/host_key"
        return configuration
    }

    @Test("the shipped etc/p2mp/p2mpd.toml parses cleanly and sets only trusted_senders and host_key")
    func shippedFile() throws {
        let (configuration, sources) = try ConfigurationLoader.load(mainFile: Self.shippedFile, mainFileRequired: true).get()
        #expect(sources == [Self.shippedFile])
        #expect(configuration == Self.shippedConfiguration)
    }

    @Test("the shipped file documents every key, with the default as its value")
    func shippedFileDocumentsDefaults() throws {
        let text = try String(contentsOfFile: Self.shippedFile, encoding: .utf8)
        // Uncomment `#key = value` lines (not the `# Example: …` ones): still the defaults.
        var keys: [String] = []
        let uncommented = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            guard line.hasPrefix("#"), let first = line.dropFirst().first, first.isLetter else { return line }
            keys.append(String(line.dropFirst().prefix(while: { $0 != " " })))
            return line.dropFirst()
        }.joined(separator: "\n")
        #expect(keys == [
            "listen", "spool", "loss", "max_file_size", "min_free_space", "max_transfers", "max_partials",
            "max_partials_per_sender", "idle_timeout",
            "log_level", "loss_event_interval", "allow", "conflict", "partial_max_age", "post_receive", "post_receive_timeout",
            "manage_allow",
        ])
        #expect(text.contains("\ntrusted_senders = \"/etc/p2mp/trusted-senders\"\n"))
        #expect(text.contains("\nhost_key = \"/var/lib/p2mp/host_key\"\n"))
        var configuration = DaemonConfiguration.defaults
        configuration.loss = 0.5
        configuration.postReceive = "/bin/true"
        configuration.manageAllow = [try CIDR.parse("10.0.0.0/8").get()]
        let errors = ConfigurationLoader.parse(text: uncommented, file: "p2mpd.toml", into: &configuration)
        #expect(errors == [])
        #expect(configuration == Self.shippedConfiguration)
    }

    @Test("the man page documents every key")
    func manPage() throws {
        var components = Self.shippedFile.split(separator: "/", omittingEmptySubsequences: false)
        components.removeLast(3)
        let manPage = (components + ["docs", "p2mpd.toml.5"]).joined(separator: "/")
        let text = try String(contentsOfFile: manPage, encoding: .utf8)
        for key in [
            "listen", "spool", "loss", "max_file_size", "min_free_space", "max_transfers", "max_partials",
            "max_partials_per_sender", "idle_timeout",
            "log_level", "loss_event_interval", "allow", "conflict", "partial_max_age", "post_receive", "post_receive_timeout",
            "manage_allow",
            "trusted_senders", "host_key",
        ] {
            #expect(text.contains(".TP\n.B \(key)\n"), "\(key)")
        }
    }
}
