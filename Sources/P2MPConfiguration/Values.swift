/// Why a text is not a valid value: the rest of a sentence that starts with the value, such as
/// `has no port, expected ADDRESS:PORT such as "0.0.0.0:7735" or "[::]:7735"`.
public struct InvalidValue: Error, Sendable, Equatable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { reason }
}

/// A UDP address to listen on: a literal IP address and a port (no host names, no resolver).
/// Written `0.0.0.0:7735` for IPv4 and `[::]:7735` for IPv6.
public struct SocketAddressSpec: Sendable, Hashable, CustomStringConvertible {
    public enum Family: String, Sendable, Hashable {
        case ipv4, ipv6
    }

    /// The address in canonical text, without brackets (`0.0.0.0`, `::`, `fd00::1`).
    public var ip: String { IPAddress.format(address) }
    /// The address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public let address: [UInt8]
    /// In 1...65535.
    public let port: UInt16
    public var family: Family { address.count == 4 ? .ipv4 : .ipv6 }

    /// - Precondition: `address` has 4 or 16 bytes and `port` is not 0.
    public init(address: [UInt8], port: UInt16) {
        precondition(address.count == 4 || address.count == 16, "an IP address has 4 or 16 bytes")
        precondition(port != 0, "port 0 is not a listening port")
        self.address = address
        self.port = port
    }

    /// `0.0.0.0:7735` or `[::1]:7735`.
    public var description: String {
        family == .ipv4 ? "\(ip):\(port)" : "[\(ip)]:\(port)"
    }

    static let expected = #"ADDRESS:PORT with a literal IP address, such as "0.0.0.0:7735" or "[::]:7735""#

    /// Parses `ADDRESS:PORT`; IPv6 addresses are in brackets.
    public static func parse(_ text: String) -> Result<SocketAddressSpec, InvalidValue> {
        let host: Substring
        let portText: Substring
        let address: [UInt8]
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                return .failure(InvalidValue("has no closing ']', expected \(expected)"))
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":"), rest.count > 1 else {
                return .failure(InvalidValue("has no port, expected \(expected)"))
            }
            portText = rest.dropFirst()
            guard let ipv6 = IPAddress.parseIPv6(host) else {
                return .failure(InvalidValue("has '\(host)', which is not an IPv6 address, expected \(expected)"))
            }
            address = ipv6
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                return .failure(InvalidValue("has no port, expected \(expected)"))
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                let expectation = #"expected "[ADDRESS]:PORT" such as "[::]:7735""#
                return .failure(InvalidValue("has an IPv6 address without brackets, \(expectation)"))
            }
            guard let ipv4 = IPAddress.parseIPv4(host) else {
                let reason = "has '\(host)', which is not a literal IP address (host names are not resolved)"
                return .failure(InvalidValue("\(reason), expected \(expected)"))
            }
            address = ipv4
        }
        guard portText.utf8.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }), let port = Int(portText),
            (1...65535).contains(port)
        else {
            return .failure(InvalidValue("has port '\(portText)', expected a port in [1, 65535]"))
        }
        return .success(SocketAddressSpec(address: address, port: UInt16(port)))
    }
}

/// A network in CIDR notation (`10.0.0.0/8`, `fd00::/8`); a bare address is a /32 or /128.
/// IPv4-mapped IPv6 networks (`::ffff:10.0.0.0/104`) are stored as the IPv4 network they name.
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network address, host bits zero: 4 bytes for IPv4, 16 for IPv6.
    public let address: [UInt8]
    /// In 0...32 for IPv4, 0...128 for IPv6.
    public let prefixLength: Int

    public var family: SocketAddressSpec.Family { address.count == 4 ? .ipv4 : .ipv6 }

    /// - Precondition: 4 or 16 bytes, a prefix length that fits, and no host bits set.
    public init(address: [UInt8], prefixLength: Int) {
        precondition(address.count == 4 || address.count == 16, "an IP address has 4 or 16 bytes")
        precondition((0...address.count * 8).contains(prefixLength), "prefix length out of range")
        precondition(CIDR.masked(address, prefixLength) == address, "host bits set in a network address")
        self.address = address
        self.prefixLength = prefixLength
    }

    public var description: String { "\(IPAddress.format(address))/\(prefixLength)" }

    static let expected = #"a network in CIDR notation such as "10.0.0.0/8" or "fd00::/8""#

    public static func parse(_ text: String) -> Result<CIDR, InvalidValue> {
        let addressText: Substring
        var prefixText: Substring?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            prefixText = text[text.index(after: slash)...]
        } else {
            addressText = text[...]
        }
        guard var address = IPAddress.parseIPv4(addressText) ?? IPAddress.parseIPv6(addressText) else {
            return .failure(InvalidValue("has '\(addressText)', which is not an IP address, expected \(expected)"))
        }
        let bits = address.count * 8
        var prefixLength = bits
        if let prefixText {
            guard (1...3).contains(prefixText.utf8.count), prefixText.allSatisfy({ $0.isASCII && $0.isNumber }),
                let value = Int(prefixText), value <= bits
            else {
                let expectation = "expected a prefix length in [0, \(bits)]"
                return .failure(InvalidValue("has prefix length '\(prefixText)', \(expectation)"))
            }
            prefixLength = value
        }
        let network = masked(address, prefixLength)
        guard network == address else {
            let suggestion = CIDR(address: network, prefixLength: prefixLength)
            return .failure(InvalidValue("has host bits set, expected a network address such as \"\(suggestion)\""))
        }
        if IPAddress.isMapped(address) && prefixLength >= 96 {
            address = Array(address[12...])
            prefixLength -= 96
        }
        return .success(CIDR(address: address, prefixLength: prefixLength))
    }

    /// Whether the address (4 or 16 bytes, network order) is in this network. An IPv4-mapped
    /// IPv6 address (`::ffff:a.b.c.d`, as dual-stack sockets report IPv4 peers) is the IPv4
    /// address it maps: it matches IPv4 networks and no other IPv6 network (`::/0` included).
    public func contains(_ ipAddress: [UInt8]) -> Bool {
        let candidate = IPAddress.isMapped(ipAddress) ? Array(ipAddress[12...]) : ipAddress
        guard candidate.count == address.count else { return false }
        return CIDR.masked(candidate, prefixLength) == address
    }

    static func masked(_ bytes: [UInt8], _ prefixLength: Int) -> [UInt8] {
        var result = bytes
        for index in result.indices {
            let bitsKept = min(max(prefixLength - index * 8, 0), 8)
            let mask: UInt8 = bitsKept == 0 ? 0 : ~UInt8(0) << (8 - bitsKept)
            result[index] &= mask
        }
        return result
    }
}

/// A number of bytes. Written in the configuration as an integer (`1048576`) or a string with a
/// whole number and a binary suffix (`"512K"`, `"64M"`, `"64G"`, `"2T"`; `KiB`, `MiB`, `GiB`,
/// `TiB` and a plain `B` are accepted too, in any case). Fractions (`"1.5G"`) are refused:
/// write `"1536M"`.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) {
        self.bytes = bytes
    }

    public static func kibibytes(_ count: UInt64) -> ByteSize { ByteSize(bytes: count << 10) }
    public static func mebibytes(_ count: UInt64) -> ByteSize { ByteSize(bytes: count << 20) }
    public static func gibibytes(_ count: UInt64) -> ByteSize { ByteSize(bytes: count << 30) }
    public static func tebibytes(_ count: UInt64) -> ByteSize { ByteSize(bytes: count << 40) }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    /// The shortest exact form: `64G`, `1536M`, `100`.
    public var description: String {
        for (suffix, shift) in [("T", 40), ("G", 30), ("M", 20), ("K", 10)] as [(String, UInt64)]
        where bytes != 0 && bytes & ((1 << shift) - 1) == 0 {
            return "\(bytes >> shift)\(suffix)"
        }
        return "\(bytes)"
    }

    static let expected =
        #"a size: an integer number of bytes or a string such as "512K", "64M", "64G" (K, M, G, T are powers of 1024)"#

    private static let suffixes: [String: UInt64] = [
        "": 0, "b": 0, "k": 10, "kib": 10, "m": 20, "mib": 20, "g": 30, "gib": 30, "t": 40, "tib": 40,
    ]

    /// Why `parse` refuses a size that does not fit 64 bits.
    public static let tooLarge = InvalidValue("is too large, expected a size below 16 EiB")

    /// Parses `"64G"`, `"1536 MiB"`, `"4096"`.
    public static func parse(_ text: String) -> Result<ByteSize, InvalidValue> {
        let trimmed = text.drop(while: { $0 == " " })
        let digits = trimmed.prefix(while: { $0.isASCII && $0.isNumber })
        let suffix = trimmed.dropFirst(digits.count).drop(while: { $0 == " " }).lowercased()
        guard !digits.isEmpty, let shift = suffixes[suffix.trimmingSuffixSpaces()] else {
            let hint = suffix.hasPrefix(".") ? #" (fractions are not accepted: write "1536M", not "1.5G")"# : ""
            return .failure(InvalidValue("is not a size\(hint), expected \(expected)"))
        }
        guard let count = UInt64(digits), count <= UInt64.max >> shift else { return .failure(tooLarge) }
        return .success(ByteSize(bytes: count << shift))
    }
}

extension String {
    fileprivate func trimmingSuffixSpaces() -> String {
        var result = self
        while result.hasSuffix(" ") { result.removeLast() }
        return result
    }
}

/// How much the daemon logs; the names and order are swift-log's `Logger.Level`.
public enum LogLevel: String, Sendable, Hashable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// What happens when a pushed file's name already exists in the spool.
public enum ConflictPolicy: String, Sendable, Hashable, CaseIterable {
    /// The push of that file fails; the existing file stays.
    case reject
    /// The new file atomically replaces the existing one.
    case replace
    /// The new file is stored under a new, unused name; both stay.
    case keepBoth = "keep-both"
}
