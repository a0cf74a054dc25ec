import P2MPConfiguration
import Testing

@Suite("listen addresses")
struct SocketAddressSpecTests {
    @Test(
        "valid ADDRESS:PORT",
        arguments: [
            ("0.0.0.0:7735", [UInt8]([0, 0, 0, 0]), UInt16(7735), SocketAddressSpec.Family.ipv4, "0.0.0.0"),
            ("127.0.0.1:1", [127, 0, 0, 1], 1, .ipv4, "127.0.0.1"),
            ("[::]:7735", [UInt8](repeating: 0, count: 16), 7735, .ipv6, "::"),
            ("[::1]:65535", [UInt8](repeating: 0, count: 15) + [1], 65535, .ipv6, "::1"),
            (
                "[FD00:0:0:0:0:0:0:1]:80", [0xFD, 0] + [UInt8](repeating: 0, count: 13) + [1], 80, .ipv6,
                "fd00::1"
            ),
            ("[::ffff:10.1.2.3]:7735", [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, 10, 1, 2, 3], 7735, .ipv6, "::ffff:10.1.2.3"),
        ]
    )
    func valid(text: String, address: [UInt8], port: UInt16, family: SocketAddressSpec.Family, ip: String) throws {
        let spec = try SocketAddressSpec.parse(text).get()
        #expect(spec.address == address)
        #expect(spec.port == port)
        #expect(spec.family == family)
        #expect(spec.ip == ip)
        #expect(try SocketAddressSpec.parse(spec.description).get() == spec)
    }

    @Test(
        "invalid ADDRESS:PORT says what is wrong",
        arguments: [
            ("0.0.0.0", "has no port"),
            ("0.0.0.0:", "has port ''"),
            ("0.0.0.0:0", "has port '0', expected a port in [1, 65535]"),
            ("0.0.0.0:65536", "has port '65536'"),
            ("0.0.0.0:+80", "has port '+80'"),
            ("0.0.0.0:http", "has port 'http'"),
            ("localhost:7735", "'localhost', which is not a literal IP address (host names are not resolved)"),
            ("256.0.0.1:7735", "'256.0.0.1', which is not a literal IP address"),
            ("010.0.0.1:7735", "'010.0.0.1', which is not a literal IP address"),
            ("::1:7735", "IPv6 address without brackets"),
            ("[::1]", "has no port"),
            ("[::1]7735", "has no port"),
            ("[::1:7735", "no closing ']'"),
            ("[10.0.0.1]:7735", "'10.0.0.1', which is not an IPv6 address"),
            ("[fe80::1%eth0]:7735", "which is not an IPv6 address"),
            ("[1:2:3:4:5:6:7:8:9]:7735", "which is not an IPv6 address"),
            ("[1::2::3]:7735", "which is not an IPv6 address"),
            ("[12345::]:7735", "which is not an IPv6 address"),
            ("", "has no port"),
        ]
    )
    func invalid(text: String, reason: String) {
        guard case .failure(let error) = SocketAddressSpec.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(error.reason.contains(reason), "\(error.reason)")
    }
}

@Suite("CIDR networks and allows(ipAddress:)")
struct CIDRTests {
    static let v6Loopback = [UInt8](repeating: 0, count: 15) + [1]
    static func mapped(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> [UInt8] {
        [UInt8](repeating: 0, count: 10) + [0xFF, 0xFF, a, b, c, d]
    }

    @Test(
        "parsing",
        arguments: [
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("0.0.0.0/0", "0.0.0.0/0"),
            ("192.0.2.7", "192.0.2.7/32"),
            ("192.0.2.7/32", "192.0.2.7/32"),
            ("::/0", "::/0"),
            ("::1", "::1/128"),
            ("FD00::/8", "fd00::/8"),
            ("2001:db8:0:0:1:0:0:0/80", "2001:db8:0:0:1::/80"),
            ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ]
    )
    func parsing(text: String, canonical: String) throws {
        #expect(try CIDR.parse(text).get().description == canonical)
    }

    @Test(
        "bad networks",
        arguments: [
            ("10.0.0.0/33", "prefix length '33', expected a prefix length in [0, 32]"),
            ("::/129", "prefix length '129', expected a prefix length in [0, 128]"),
            ("10.0.0.0/", "prefix length ''"),
            ("10.0.0.0/-1", "prefix length '-1'"),
            ("10.0.0.0/8/8", "prefix length '8/8'"),
            ("10.0.0.1/8", #"has host bits set, expected a network address such as "10.0.0.0/8""#),
            ("fd00::1/8", #"such as "fd00::/8""#),
            ("example.com/8", "'example.com', which is not an IP address"),
            ("", "'', which is not an IP address"),
        ]
    )
    func bad(text: String, reason: String) {
        guard case .failure(let error) = CIDR.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        #expect(error.reason.contains(reason), "\(error.reason)")
    }

    @Test("IPv4 membership, /0 and /32")
    func ipv4() throws {
        let net = try CIDR.parse("10.0.0.0/8").get()
        #expect(net.contains([10, 255, 0, 1]))
        #expect(!net.contains([11, 0, 0, 0]))
        #expect(net.contains(Self.mapped(10, 1, 2, 3)))
        #expect(!net.contains(Self.v6Loopback))
        #expect(!net.contains([10, 0, 0]))
        let host = try CIDR.parse("192.0.2.7/32").get()
        #expect(host.contains([192, 0, 2, 7]))
        #expect(!host.contains([192, 0, 2, 6]))
        let all = try CIDR.parse("0.0.0.0/0").get()
        #expect(all.contains([255, 255, 255, 255]))
        #expect(all.contains(Self.mapped(1, 2, 3, 4)))
        #expect(!all.contains(Self.v6Loopback))
        let odd = try CIDR.parse("172.16.0.0/12").get()
        #expect(odd.contains([172, 31, 255, 255]))
        #expect(!odd.contains([172, 32, 0, 0]))
    }

    @Test("IPv6 membership; mapped IPv4 peers are IPv4")
    func ipv6() throws {
        let all = try CIDR.parse("::/0").get()
        #expect(all.contains(Self.v6Loopback))
        #expect(!all.contains([127, 0, 0, 1]))
        #expect(!all.contains(Self.mapped(127, 0, 0, 1)))
        let loopback = try CIDR.parse("::1/128").get()
        #expect(loopback.contains(Self.v6Loopback))
        #expect(!loopback.contains([UInt8](repeating: 0, count: 16)))
        let ula = try CIDR.parse("fd00::/8").get()
        #expect(ula.contains([0xFD, 0x12] + [UInt8](repeating: 0, count: 14)))
        #expect(!ula.contains([0xFC] + [UInt8](repeating: 0, count: 15)))
        let mappedNet = try CIDR.parse("::ffff:10.0.0.0/104").get()
        #expect(mappedNet.contains([10, 9, 9, 9]))
        #expect(mappedNet.contains(Self.mapped(10, 9, 9, 9)))
    }

    @Test("allows and allowsManagement use allow and manage_allow")
    func allows() throws {
        var configuration = DaemonConfiguration.defaults
        #expect(configuration.allows(ipAddress: [203, 0, 113, 9]))
        #expect(configuration.allows(ipAddress: Self.v6Loopback))
        #expect(configuration.allows(ipAddress: Self.mapped(203, 0, 113, 9)))
        #expect(!configuration.allows(ipAddress: [1, 2, 3]))
        #expect(!configuration.allowsManagement(ipAddress: [127, 0, 0, 1]))
        configuration.allow = [try CIDR.parse("127.0.0.0/8").get(), try CIDR.parse("::1/128").get()]
        configuration.manageAllow = [try CIDR.parse("192.0.2.10/32").get()]
        #expect(configuration.allows(ipAddress: [127, 0, 0, 1]))
        #expect(configuration.allows(ipAddress: Self.mapped(127, 0, 0, 1)))
        #expect(configuration.allows(ipAddress: Self.v6Loopback))
        #expect(!configuration.allows(ipAddress: [10, 0, 0, 1]))
        #expect(configuration.allowsManagement(ipAddress: [192, 0, 2, 10]))
        #expect(!configuration.allowsManagement(ipAddress: [192, 0, 2, 11]))
    }
}

@Suite("sizes")
struct ByteSizeTests {
    static let validSizes: [(String, UInt64)] = [
        ("0", 0), ("4096", 4096), ("1B", 1), ("1K", 1024), ("1k", 1024), ("1KiB", 1024),
        ("512M", 512 * 1_048_576), ("64G", 64 * 1_073_741_824), ("64 GiB", 64 * 1_073_741_824),
        ("1g", 1_073_741_824), ("2T", 2 * 1_099_511_627_776), ("2tib", 2 * 1_099_511_627_776),
        ("16777215T", 16_777_215 * 1_099_511_627_776),
    ]

    @Test("valid sizes", arguments: validSizes)
    func valid(text: String, bytes: UInt64) throws {
        #expect(try ByteSize.parse(text).get().bytes == bytes)
    }

    @Test("invalid sizes", arguments: ["1.5G", "64GB", "G", "-1", "", "64X", "0x10", "1 2", "16777216T"])
    func invalid(text: String) {
        guard case .failure(let error) = ByteSize.parse(text) else {
            Issue.record("\(text) parsed")
            return
        }
        if text == "1.5G" { #expect(error.reason.contains(#"fractions are not accepted: write "1536M""#)) }
        if text == "16777216T" { #expect(error.reason.contains("too large")) }
    }

    @Test("description is the shortest exact form")
    func description() {
        #expect(ByteSize.gibibytes(64).description == "64G")
        #expect(ByteSize.mebibytes(1536).description == "1536M")
        #expect(ByteSize(bytes: 1000).description == "1000")
        #expect(ByteSize(bytes: 0).description == "0")
        #expect(ByteSize.tebibytes(3).description == "3T")
    }
}
