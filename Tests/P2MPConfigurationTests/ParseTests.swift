import P2MPConfiguration
import Testing

/// Parses `text` as `p2mpd.toml` over the defaults.
func parse(_ text: String) -> (DaemonConfiguration, [ConfigurationError]) {
    var configuration = DaemonConfiguration.defaults
    let errors = ConfigurationLoader.parse(text: text, file: "p2mpd.toml", into: &configuration)
    return (configuration, errors)
}

@Suite("one file's keys")
struct ParseTests {
    @Test("every key, valid")
    func everyKey() throws {
        let (configuration, errors) = parse(
            """
            listen = ["127.0.0.1:9000", "[::1]:9000"]
            spool = "/srv/p2mp"
            loss = 0.25
            max_file_size = "2T"
            min_free_space = 1048576
            max_transfers = 100000
            idle_timeout = 2.5
            log_level = "debug"
            loss_event_interval = 1.5
            allow = ["10.0.0.0/8", "fd00::/8"]
            conflict = "keep-both"
            partial_max_age = 3600
            post_receive = "/usr/local/bin/on-receive --quiet"
            post_receive_timeout = 5
            manage_allow = ["192.0.2.10"]
            """)
        #expect(errors == [])
        #expect(configuration.listen.map(\.description) == ["127.0.0.1:9000", "[::1]:9000"])
        #expect(configuration.spool == "/srv/p2mp")
        #expect(configuration.loss == 0.25)
        #expect(configuration.maxFileSize == .tebibytes(2))
        #expect(configuration.minFreeSpace == .mebibytes(1))
        #expect(configuration.maxTransfers == 100_000)
        #expect(configuration.idleTimeout == .milliseconds(2500))
        #expect(configuration.logLevel == .debug)
        #expect(configuration.lossEventInterval == .milliseconds(1500))
        #expect(configuration.allow.map(\.description) == ["10.0.0.0/8", "fd00::/8"])
        #expect(configuration.conflict == .keepBoth)
        #expect(configuration.partialMaxAge == .seconds(3600))
        #expect(configuration.postReceive == "/usr/local/bin/on-receive --quiet")
        #expect(configuration.postReceiveTimeout == .seconds(5))
        #expect(configuration.manageAllow.map(\.description) == ["192.0.2.10/32"])
    }

    @Test("the largest sizes are 1024T")
    func largestSizes() {
        let (configuration, errors) = parse("max_file_size = \"1024T\"\nmin_free_space = 1125899906842624\n")
        #expect(errors == [])
        #expect(configuration.maxFileSize == .tebibytes(1024))
        #expect(configuration.minFreeSpace == .tebibytes(1024))
    }

    @Test("an empty file and a comment-only file change nothing")
    func empty() {
        #expect(parse("") == (DaemonConfiguration.defaults, []))
        #expect(parse("# nothing\n\n   # still nothing\n") == (DaemonConfiguration.defaults, []))
    }

    @Test("post_receive = \"\" unsets a command set earlier")
    func unsetPostReceive() {
        var configuration = DaemonConfiguration.defaults
        configuration.postReceive = "/bin/true"
        #expect(ConfigurationLoader.parse(text: #"post_receive = """#, file: "x", into: &configuration) == [])
        #expect(configuration.postReceive == nil)
    }

    @Test(
        "a wrong type or an out-of-range value names the file, the line, the value and what was expected",
        arguments: [
            ("loss = 1.5", "'loss' is 1.5, expected a probability in [0, 1]"),
            ("loss = -0.1", "'loss' is -0.1, expected a probability in [0, 1]"),
            ("loss = nan", "'loss' is nan, expected a probability in [0, 1]"),
            (#"loss = "0.5""#, #"'loss' is a string ("0.5"), expected a probability in [0, 1]"#),
            (
                #"listen = "0.0.0.0:7735""#,
                #"'listen' is a string ("0.0.0.0:7735"), expected an array of "ADDRESS:PORT" strings, such as ["0.0.0.0:7735", "[::]:7735"]"#
            ),
            (
                #"listen = ["0.0.0.0:0"]"#,
                #"'listen' entry 1 ("0.0.0.0:0") has port '0', expected a port in [1, 65535]"#
            ),
            (
                #"listen = ["localhost:7735"]"#,
                #"'listen' entry 1 ("localhost:7735") has 'localhost', which is not a literal IP address (host names are not resolved), expected ADDRESS:PORT with a literal IP address, such as "0.0.0.0:7735" or "[::]:7735""#
            ),
            ("listen = [7735]", #"'listen' entry 1 is an integer (7735), expected an "ADDRESS:PORT" string"#),
            ("listen = []", "'listen' is empty, expected at least one address"),
            (
                #"listen = ["0.0.0.0:7735", "0.0.0.0:7735"]"#,
                "'listen' entry 2 (\"0.0.0.0:7735\") repeats 0.0.0.0:7735, expected each address once"
            ),
            ("spool = 5", "'spool' is an integer (5), expected an absolute directory path (a string)"),
            (
                #"spool = "spool""#,
                #"'spool' is "spool", a relative path: paths in configuration files must be absolute (p2mpd --spool resolves a relative one against the working directory), expected an absolute directory path"#
            ),
            (#"spool = """#, #"'spool' is "", expected an absolute directory path"#),
            (
                #"max_file_size = "1.5G""#,
                #"'max_file_size' ("1.5G") is not a size (fractions are not accepted: write "1536M", not "1.5G"), expected a size"#
            ),
            ("max_file_size = 0", "'max_file_size' is 0, expected a size"),
            ("max_file_size = -1", "'max_file_size' is -1, expected a size"),
            ("max_file_size = true", "'max_file_size' is a boolean (true), expected a size"),
            ("max_file_size = 1.5", "'max_file_size' is a floating-point number (1.5), expected a size"),
            (#"min_free_space = "lots""#, #"'min_free_space' ("lots") is not a size, expected a size"#),
            (
                #"min_free_space = "18446744073709551615""#,
                #"'min_free_space' is "18446744073709551615", expected a size: an integer number of bytes or a string such as "512K", "64M", "64G" (K, M, G, T are powers of 1024), at most 1024T"#
            ),
            (#"min_free_space = "1025T""#, #"'min_free_space' is "1025T", expected a size"#),
            (#"min_free_space = "99999999999999999999K""#, #"'min_free_space' is "99999999999999999999K", expected a size"#),
            ("min_free_space = 1125899906842625", "'min_free_space' is 1125899906842625, expected a size"),
            (
                "max_file_size = 9223372036854775807",
                "'max_file_size' is 9223372036854775807, expected a size: an integer number of bytes or a string such as \"512K\", \"64M\", \"64G\" (K, M, G, T are powers of 1024), from 1 byte to 1024T"
            ),
            ("max_transfers = 0", "'max_transfers' is 0, expected an integer in [1, 100000]"),
            ("max_transfers = 100001", "'max_transfers' is 100001, expected an integer in [1, 100000]"),
            ("max_transfers = 64.0", "'max_transfers' is a floating-point number (64.0), expected an integer in [1, 100000]"),
            (#"max_transfers = "64""#, #"'max_transfers' is a string ("64"), expected an integer"#),
            ("idle_timeout = 0", "'idle_timeout' is 0, expected a number of seconds in (0, 86400]"),
            ("idle_timeout = 86401", "'idle_timeout' is 86401, expected a number of seconds in (0, 86400]"),
            ("idle_timeout = inf", "'idle_timeout' is inf, expected a number of seconds in (0, 86400]"),
            (#"idle_timeout = "30s""#, #"'idle_timeout' is a string ("30s"), expected a number of seconds"#),
            ("idle_timeout = 00:00:30", "'idle_timeout' is a time, expected a number of seconds"),
            ("idle_timeout = 2024-01-01", "'idle_timeout' is a date, expected a number of seconds"),
            (
                #"log_level = "verbose""#,
                #"'log_level' is "verbose", expected one of trace, debug, info, notice, warning, error, critical"#
            ),
            (#"log_level = "INFO""#, #"'log_level' is "INFO", expected one of trace"#),
            ("log_level = 3", "'log_level' is an integer (3), expected one of trace"),
            (
                #"allow = "10.0.0.0/8""#,
                #"'allow' is a string ("10.0.0.0/8"), expected an array of networks in CIDR notation"#
            ),
            (
                #"allow = ["10.0.0.0/33"]"#,
                #"'allow' entry 1 ("10.0.0.0/33") has prefix length '33', expected a prefix length in [0, 32]"#
            ),
            (
                #"allow = ["10.0.0.1/8"]"#,
                #"'allow' entry 1 ("10.0.0.1/8") has host bits set, expected a network address such as "10.0.0.0/8""#
            ),
            ("allow = [{ net = \"10.0.0.0/8\" }]", "'allow' entry 1 is a table, expected a network in CIDR notation"),
            (#"conflict = "overwrite""#, #"'conflict' is "overwrite", expected one of reject, replace, keep-both"#),
            ("conflict = true", "'conflict' is a boolean (true), expected one of reject, replace, keep-both"),
            ("partial_max_age = 0", "'partial_max_age' is 0, expected a number of seconds in (0, 315360000]"),
            ("partial_max_age = -5", "'partial_max_age' is -5, expected a number of seconds"),
            ("post_receive = 1", #"'post_receive' is an integer (1), expected a command line (a string), or "" for none"#),
            ("post_receive = [\"/bin/true\"]", "'post_receive' is an array, expected a command line (a string)"),
            ("post_receive_timeout = 0", "'post_receive_timeout' is 0, expected a number of seconds in (0, 86400]"),
            ("loss_event_interval = 0.5", "'loss_event_interval' is 0.5, expected a number of seconds in [1, 3600]"),
            ("loss_event_interval = 3601", "'loss_event_interval' is 3601, expected a number of seconds in [1, 3600]"),
            (#"loss_event_interval = "5s""#, #"'loss_event_interval' is a string ("5s"), expected a number of seconds"#),
            (
                #"manage_allow = ["::1/129"]"#,
                #"'manage_allow' entry 1 ("::1/129") has prefix length '129', expected a prefix length in [0, 128]"#
            ),
            ("manage_allow = \"\"", #"'manage_allow' is a string (""), expected an array of networks"#),
            ("spool = { path = \"/srv\" }", "'spool' is a table, expected an absolute directory path"),
            ("spool.path = \"/srv\"", "'spool' is a table, expected an absolute directory path"),
        ]
    )
    func badValue(line: String, message: String) throws {
        // A valid key after the bad one, which must still be applied.
        let other = line.hasPrefix("log_level") ? "max_transfers = 7" : #"log_level = "debug""#
        let (configuration, errors) = parse("# p2mpd.toml\n\n\(line)\n\(other)\n")
        try #require(errors.count == 1, "\(errors)")
        #expect(errors[0].file == "p2mpd.toml")
        #expect(errors[0].line == 3)
        #expect(errors[0].message.hasPrefix(message), "\(errors[0].message)")
        #expect(errors[0].description == "p2mpd.toml:3: \(errors[0].message)")
        // The bad key keeps its previous value; the good one after it is applied.
        var expected = DaemonConfiguration.defaults
        if line.hasPrefix("log_level") { expected.maxTransfers = 7 } else { expected.logLevel = .debug }
        #expect(configuration == expected)
    }

    @Test("every bad array entry is reported")
    func badEntries() {
        let (configuration, errors) = parse(
            """
            listen = [
                "0.0.0.0:0",
                "[::]:7735",
                "nowhere",
            ]
            """)
        #expect(errors.map(\.line) == [1, 1])
        #expect(errors.map { $0.message.prefix(20) } == ["'listen' entry 1 (\"0", "'listen' entry 3 (\"n"])
        #expect(configuration.listen == DaemonConfiguration.defaults.listen)
    }

    @Test("an unknown key is reported with its line, the known keys and a likely match")
    func unknownKey() {
        let (_, errors) = parse("loss = 0\n\n  spool_dri = \"/srv\"\n")
        #expect(
            errors == [
                ConfigurationError(
                    file: "p2mpd.toml", line: 3,
                    message:
                        "unknown key 'spool_dri' (expected one of: listen, spool, loss, max_file_size, min_free_space, max_transfers, max_partials, max_partials_per_sender, idle_timeout, log_level, loss_event_interval, allow, conflict, partial_max_age, post_receive, post_receive_timeout, manage_allow, trusted_senders, host_key); did you mean 'spool'?"
                )
            ])
        #expect(errors[0].description.hasPrefix("p2mpd.toml:3: unknown key 'spool_dri' (expected one of: listen, spool,"))
    }

    @Test(
        "likely matches for unknown keys",
        arguments: [
            ("idle-timeout", "idle_timeout"), ("max_transfer", "max_transfers"), ("loglevel", "log_level"),
            ("Listen", "listen"), ("alow", "allow"), ("spool_dir", "spool"),
        ]
    )
    func suggestions(key: String, suggestion: String) {
        let (_, errors) = parse("\(key) = 1")
        #expect(errors.count == 1)
        #expect(errors.first?.message.hasSuffix("did you mean '\(suggestion)'?") == true, "\(errors)")
    }

    @Test("no suggestion for a key like no other")
    func noSuggestion() {
        let (_, errors) = parse("colour = 1")
        #expect(errors.first?.message.hasSuffix(")") == true, "\(errors)")
    }

    @Test("quoted keys are found on their line")
    func quotedKeys() {
        let (configuration, errors) = parse("\n\"loss\" = 0.5\n'max_transfers' = 0\n\"sp\\u006Fol\" = \"x\"\n\"odd key\" = 1\n")
        #expect(configuration.loss == 0.5)
        #expect(errors.map(\.line) == [3, 4, 5])
        #expect(errors.map { String($0.message.prefix(16)) } == ["'max_transfers' ", "'spool' is \"x\", ", "unknown key \"odd"])
    }

    @Test("all errors of a file are collected, in line order")
    func multipleErrors() {
        let text = """
            # three mistakes
            listen = ["0.0.0.0:7735"]
            loss = 2
            log_level = "loud"
            spool = "/srv/p2mp"
            zzz = 1
            aaa = 1
            """
        let (configuration, errors) = parse(text)
        #expect(errors.map(\.line) == [3, 4, 6, 7])
        let prefixes = [
            "p2mpd.toml:3: 'loss' is 2, expected",
            "p2mpd.toml:4: 'log_level' is \"loud\", expected",
            "p2mpd.toml:6: unknown key 'zzz'",
            "p2mpd.toml:7: unknown key 'aaa'",
        ]
        #expect(errors.count == prefixes.count)
        for (error, prefix) in zip(errors, prefixes) {
            #expect(error.description.hasPrefix(prefix), "\(error)")
        }
        #expect(configuration.spool == "/srv/p2mp")
    }

    @Test("keys inside multi-line strings and arrays are not mistaken for statements")
    func layout() {
        let text = """
            post_receive = '''
            loss = 2
            '''
            allow = [
              "10.0.0.0/8", # max_transfers = 0
              "192.0.2.0/24",
            ]
            x = \"\"\"a \\\"\"\"
            loss = 3\"\"\"
            loss = 7
            """
        let (_, errors) = parse(text)
        #expect(errors.map(\.line) == [8, 10], "\(errors)")
        #expect(errors.map { String($0.message.prefix(12)) } == ["unknown key ", "'loss' is 7,"])
    }

    @Test("a TOML syntax error gives the file, the line and the parser's message")
    func syntaxError() throws {
        let (configuration, errors) = parse("loss = 0.5\nspool = \"/srv\n")
        try #require(errors.count == 1)
        #expect(errors[0].file == "p2mpd.toml")
        #expect(errors[0].line == 2)
        #expect(errors[0].message.hasPrefix("TOML syntax error: "))
        #expect(configuration == DaemonConfiguration.defaults)  // nothing applied
    }

    @Test("a duplicate key is a syntax error on its second line")
    func duplicate() throws {
        let (_, errors) = parse("loss = 0.5\n\nloss = 0.1\n")
        try #require(errors.count == 1)
        #expect(errors[0].line == 3)
        #expect(errors[0].message.hasPrefix("TOML syntax error: "))
    }

    @Test("tables are rejected at their header, and their keys are not applied")
    func tables() {
        let text = """
            loss = 0.5
            [server]
            spool = "/elsewhere"

            [[peers]]
            name = "a"
            [ "quoted" . inner ]
            """
        let (configuration, errors) = parse(text)
        #expect(errors.map(\.line) == [2, 5, 7])
        #expect(
            errors.first?.message
                == "tables are not supported ([server]): p2mpd.toml is flat, expected every key at the top level")
        #expect(errors.dropFirst().first?.message.hasPrefix("tables are not supported ([[peers]])") == true)
        #expect(errors.last?.message.hasPrefix("tables are not supported ([quoted.inner])") == true)
        #expect(configuration.loss == 0.5)
        #expect(configuration.spool == DaemonConfiguration.defaults.spool)
    }

    @Test("a table named like a key is still a table")
    func tableNamedLikeKey() {
        let (_, errors) = parse("\n[listen]\naddress = \"0.0.0.0:1\"\n")
        #expect(errors.count == 1)
        #expect(errors.first?.line == 2)
        #expect(errors.first?.message.hasPrefix("tables are not supported ([listen])") == true)
    }

    @Test("a byte-order mark is ignored and lines still count from 1")
    func byteOrderMark() {
        let (configuration, errors) = parse("\u{FEFF}loss = 0.5\nmax_transfers = 0\n")
        #expect(configuration.loss == 0.5)
        #expect(errors.map(\.line) == [2])
    }

    @Test("CRLF line endings")
    func crlf() {
        let (configuration, errors) = parse("loss = 0.5\r\n\r\nmax_transfers = 0\r\n")
        #expect(configuration.loss == 0.5)
        #expect(errors.map(\.line) == [3])
    }
}
