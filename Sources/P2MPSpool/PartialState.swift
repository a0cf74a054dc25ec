/// The `.state` file beside a partial's data: which content it is and how long a prefix
/// of the data is known good. Three text lines:
///
///     p2mp-partial 1
///     size 1048576
///     prefix 524288
///
/// Anything else (a torn write, a hand edit) reads as nil, which resumes from zero.
struct PartialState: Equatable {
    var size: UInt64
    var prefix: UInt64

    static let maximumBytes = 256

    func encoded() -> String {
        "p2mp-partial 1\nsize \(size)\nprefix \(prefix)\n"
    }

    init(size: UInt64, prefix: UInt64) {
        self.size = size
        self.prefix = prefix
    }

    init?(decoding bytes: [UInt8]) {
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard lines.count == 4, lines[3].isEmpty, lines[0].elementsEqual("p2mp-partial 1".utf8),
            let size = Self.number(lines[1], named: "size"), let prefix = Self.number(lines[2], named: "prefix"),
            prefix <= size
        else { return nil }
        self.init(size: size, prefix: prefix)
    }

    private static func number(_ line: ArraySlice<UInt8>, named name: String) -> UInt64? {
        let label = Array((name + " ").utf8)
        guard line.starts(with: label) else { return nil }
        let digits = line.dropFirst(label.count)
        guard !digits.isEmpty, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else {
            return nil
        }
        return UInt64(String(decoding: digits, as: UTF8.self))
    }
}
