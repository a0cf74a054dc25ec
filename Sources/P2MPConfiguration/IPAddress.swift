/// Parsing and formatting of IP address literals, in pure Swift (no resolver, no Foundation),
/// so that validation gives the same answer on every platform.
enum IPAddress {
    /// The first 12 bytes of an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`).
    static let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]

    /// Parses dotted-quad IPv4 (`192.0.2.1`): exactly four decimal parts in 0...255 and no
    /// leading zeros (`010` is octal to some parsers and decimal to others, so it is refused).
    static func parseIPv4<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(4)
        for part in parts {
            guard (1...3).contains(part.utf8.count), part.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                part.utf8.count == 1 || part.utf8.first != 0x30,
                let value = UInt8(part)
            else { return nil }
            bytes.append(value)
        }
        return bytes
    }

    /// Parses IPv6 text (RFC 4291 section 2.2): eight groups of 1 to 4 hex digits, at most one
    /// `::`, optionally ending in dotted-quad IPv4. Zone identifiers (`%eth0`) are not accepted.
    static func parseIPv6<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let text = Substring(text)
        guard !text.isEmpty, text.utf8.count <= 45 else { return nil }
        if let gap = text.firstRange(of: "::") {
            let head = text[..<gap.lowerBound]
            let tail = text[gap.upperBound...]
            guard tail.firstRange(of: "::") == nil,
                let headBytes = parseGroups(head, allowTrailingIPv4: false),
                let tailBytes = parseGroups(tail, allowTrailingIPv4: true),
                headBytes.count + tailBytes.count <= 14
            else { return nil }
            return headBytes + [UInt8](repeating: 0, count: 16 - headBytes.count - tailBytes.count) + tailBytes
        }
        guard let bytes = parseGroups(text, allowTrailingIPv4: true), bytes.count == 16 else { return nil }
        return bytes
    }

    /// Colon-separated hex groups (possibly none), the last of which may be IPv4.
    private static func parseGroups(_ text: Substring, allowTrailingIPv4: Bool) -> [UInt8]? {
        if text.isEmpty { return [] }
        let groups = text.split(separator: ":", omittingEmptySubsequences: false)
        var bytes: [UInt8] = []
        for (index, group) in groups.enumerated() {
            if group.contains(".") {
                guard allowTrailingIPv4, index == groups.count - 1, let v4 = parseIPv4(group) else { return nil }
                bytes += v4
                continue
            }
            guard (1...4).contains(group.utf8.count), group.allSatisfy(\.isHexDigit),
                let value = UInt16(group, radix: 16)
            else { return nil }
            bytes.append(UInt8(value >> 8))
            bytes.append(UInt8(value & 0xFF))
        }
        return bytes.count <= 16 ? bytes : nil
    }

    /// Whether 16 bytes are an IPv4-mapped IPv6 address.
    static func isMapped(_ bytes: [UInt8]) -> Bool {
        bytes.count == 16 && bytes.starts(with: mappedPrefix)
    }

    /// Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, longest zero run as `::`,
    /// mapped addresses as `::ffff:a.b.c.d`).
    static func format(_ bytes: [UInt8]) -> String {
        if bytes.count == 4 {
            return bytes.map(String.init).joined(separator: ".")
        }
        precondition(bytes.count == 16, "an IP address has 4 or 16 bytes")
        if isMapped(bytes) {
            return "::ffff:" + format(Array(bytes[12...]))
        }
        let groups = (0..<8).map { UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]) }
        // Longest run of zero groups (at least two), the first one on a tie.
        var bestStart = -1
        var bestLength = 1
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > bestLength {
                bestStart = index
                bestLength = end - index
            }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard bestStart >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<bestStart].joined(separator: ":")
        let tail = hex[(bestStart + bestLength)...].joined(separator: ":")
        return head + "::" + tail
    }
}
