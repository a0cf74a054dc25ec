#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import P2MPClient
import P2MPKeys
import Testing

@Suite("Fleet files")
struct FleetFileTests {
    static func targets(_ text: String, defaultPort: Int = 7735) throws -> [FleetTarget] {
        try FleetFile.parse(text, path: "fleet.txt", defaultPort: defaultPort).get()
    }

    static func errors(_ text: String) -> [String] {
        switch FleetFile.parse(text, path: "fleet.txt", defaultPort: 7735) {
        case .success(let targets): ["unexpected success: \(targets)"]
        case .failure(let errors): errors.errors.map(\.description)
        }
    }

    @Test("one target per line, with default and explicit ports")
    func plain() throws {
        #expect(
            try Self.targets("web-01\nweb-02:9000\n10.0.0.3\n") == [
                FleetTarget(host: "web-01", port: 7735, text: "web-01", line: 1),
                FleetTarget(host: "web-02", port: 9000, text: "web-02:9000", line: 2),
                FleetTarget(host: "10.0.0.3", port: 7735, text: "10.0.0.3", line: 3),
            ])
    }

    @Test("a target may be followed by its host key, which is kept as written for the caller to decode")
    func hostKeys() throws {
        let key = "p2mp-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
        #expect(
            try Self.targets("web-01 \(key) root@web-01  # pinned\nweb-02\n") == [
                FleetTarget(host: "web-01", port: 7735, text: "web-01", line: 1, hostKey: key + " root@web-01"),
                FleetTarget(host: "web-02", port: 7735, text: "web-02", line: 2),
            ])
        #expect(FleetFile.hostKeyType == PublicKeyLine.keyType)
    }

    @Test("comments, blank lines and surrounding whitespace are ignored; line numbers still count them")
    func commentsAndBlanks() throws {
        let text = """
            # the web tier
              web-01   # rack 1
            \t
            web-02\t#rack 2

               # indented comment
            \tweb-03:7736\t
            """
        #expect(try Self.targets(text).map { "\($0.line) \($0.host):\($0.port)" } == [
            "2 web-01:7735", "4 web-02:7735", "7 web-03:7736",
        ])
    }

    @Test("CRLF and CR line ends")
    func lineEnds() throws {
        #expect(try Self.targets("a\r\nb\rc\n").map { "\($0.line) \($0.host)" } == ["1 a", "2 b", "3 c"])
    }

    @Test("a leading byte-order mark is ignored")
    func byteOrderMark() throws {
        #expect(try Self.targets("\u{FEFF}web-01\n").map(\.host) == ["web-01"])
    }

    @Test("a byte-order mark or a control character inside a host is an error with its code point")
    func nonASCIIHost() {
        #expect(
            Self.errors("web-01\n\u{FEFF}d\nweb\u{7}x:9000\n") == [
                "fleet.txt:2: '\u{FEFF}d' has a character no host name or address has (U+FEFF)",
                "fleet.txt:3: 'web\u{7}x:9000' has a character no host name or address has (U+0007)",
            ])
    }

    @Test("IPv6 with and without brackets")
    func ipv6() throws {
        let targets = try Self.targets("::1\n[fe80::1%eth0]\n[2001:db8::7]:9000\n2001:db8::8\n")
        #expect(
            targets.map { "\($0.host) \($0.port)" } == [
                "::1 7735", "fe80::1%eth0 7735", "2001:db8::7 9000", "2001:db8::8 7735",
            ])
    }

    @Test("the default port is the one given")
    func defaultPort() throws {
        #expect(try Self.targets("a\n[::1]\n", defaultPort: 8000).map(\.port) == [8000, 8000])
    }

    @Test(
        "bad targets and ports",
        arguments: [
            "web-01:99999", "web-01:0", "web-01:", "web-01:http", "[::1]:", "[::1]x", "[::1", "[]:80", ":80", "a:-1",
        ])
    func badTarget(_ target: String) {
        #expect(
            Self.errors("ok\n\(target)\n") == [
                "fleet.txt:2: '\(target)' is not HOST, HOST:PORT or [IPV6]:PORT with a port in 1-65535"
            ])
    }

    @Test("duplicates name both lines; hosts compare without case, ports must match")
    func duplicates() {
        let text = "web-01\nweb-02\nweb-03\n[::1]:7735\nWEB-02\nweb-02:7735\nweb-02:7736\n::1\n"
        #expect(
            Self.errors(text) == [
                "fleet.txt:5: 'WEB-02' is listed twice (first on line 2)",
                "fleet.txt:6: 'web-02:7735' is listed twice (first on line 2)",
                "fleet.txt:8: '::1' is listed twice (first on line 4)",
            ])
    }

    @Test("several words on a line")
    func severalWords() {
        #expect(
            Self.errors("web-01 web-02\nweb-03\tweb-04  # two\n") == [
                "fleet.txt:1: 'web-01 web-02' has 2 words (expected one target per line: HOST, HOST:PORT or [IPV6]:PORT, optionally followed by its host key, p2mp-ed25519 BASE64)",
                "fleet.txt:2: 'web-03 web-04' has 2 words (expected one target per line: HOST, HOST:PORT or [IPV6]:PORT, optionally followed by its host key, p2mp-ed25519 BASE64)",
            ])
    }

    @Test("'#' inside a word is not a comment")
    func hashInsideWord() {
        #expect(
            Self.errors("web-01#old\n") == [
                "fleet.txt:1: 'web-01#old' contains '#' (a comment starts with '#' at the beginning of a line or after a space)"
            ])
    }

    @Test("every error is reported, in line order")
    func allErrors() {
        let text = "a:0\nb\nb\nc d\n"
        #expect(Self.errors(text).map { $0.split(separator: ":").prefix(2).joined(separator: ":") } == [
            "fleet.txt:1", "fleet.txt:3", "fleet.txt:4",
        ])
    }

    @Test("a fleet without targets is an error", arguments: ["", "\n\n", "# only a comment\n   \n"])
    func empty(_ text: String) {
        #expect(Self.errors(text) == ["fleet.txt: no targets (expected one HOST[:PORT] per line)"])
    }

    @Test("loading reads the file")
    func load() throws {
        var template = Array("/tmp/p2mp-fleet-XXXXXX".utf8CString)
        let descriptor = mkstemp(&template)
        try #require(descriptor >= 0)
        let path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        defer { unlink(path) }
        let text = Array("# fleet\nweb-01\n[::1]:9000\n".utf8)
        #expect(write(descriptor, text, text.count) == text.count)
        close(descriptor)
        let targets = try FleetFile.load(path: path, defaultPort: 7735).get()
        #expect(targets.map(\.text) == ["web-01", "[::1]:9000"])
        #expect(targets.map(\.line) == [2, 3])
    }

    @Test("an unreadable path is one error without a line")
    func unreadable() {
        #expect(
            FleetFile.load(path: "/nonexistent/fleet.txt", defaultPort: 7735)
                == .failure(
                    FleetErrors([
                        FleetError(
                            path: "/nonexistent/fleet.txt", line: nil, message: "cannot read: No such file or directory")
                    ])))
        guard case .failure(let errors) = FleetFile.load(path: "/", defaultPort: 7735) else {
            Issue.record("a directory read as a fleet")
            return
        }
        #expect(errors.description == "/: cannot read: Is a directory")
    }

    @Test("FleetErrors prints one error per line")
    func description() {
        let errors = FleetErrors([
            FleetError(path: "f", line: 3, message: "x"), FleetError(path: "f", line: nil, message: "y"),
        ])
        #expect(errors.description == "f:3: x\nf: y")
    }

    @Test(
        "splitTarget: HOST, HOST:PORT, [IPV6]:PORT, [IPV6], bare IPv6",
        arguments: [
            ("host", "host", 7735), ("host:1", "host", 1), ("host:65535", "host", 65535), ("1.2.3.4:80", "1.2.3.4", 80),
            ("[::1]:80", "::1", 80), ("[::1]", "::1", 7735), ("::", "::", 7735), ("fe80::1:2", "fe80::1:2", 7735),
        ])
    func splitTarget(_ text: String, host: String, port: Int) throws {
        let split = try #require(FleetFile.splitTarget(text, defaultPort: 7735))
        #expect(split.host == host)
        #expect(split.port == port)
    }

    @Test("splitTarget rejects", arguments: ["", "host:65536", "host:0", "[::1]:x", "[::1", ":80", "[]"])
    func splitTargetRejects(_ text: String) {
        #expect(FleetFile.splitTarget(text, defaultPort: 7735) == nil)
    }
}
