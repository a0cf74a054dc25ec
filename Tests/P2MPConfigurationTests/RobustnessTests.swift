import P2MPConfiguration
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// toml++ (inside TOMLKit 0.6.0, which the loader used before its own parser) asserted, and so
/// aborted the process, on these shapes of malformed input; they stay syntax errors with a line.
@Suite("malformed files get errors, never a crash")
struct RobustnessTests {
    @Test(
        "shapes toml++ aborted on are syntax errors with their line",
        arguments: [
            ("allow = [ \"10.0.0.0/8\", } ]", "'}' does not match its opening bracket"),
            ("x = { a = 1 ]", "']' does not match its opening bracket"),
            ("[/t]", "a table header must start with a key"),
            ("[[ =x]]", "a table header must start with a key"),
            ("d = 1979-05-27Tn7:32:00Z", "invalid value '1979-05-27Tn7:32:00Z'"),
            ("d = [1979-05-27T]", "invalid value '1979-05-27T'"),
            ("loss = 0.5x", "invalid value '0.5x'"),
            ("loss = 1__0", "invalid value '1__0'"),
            ("loss = .5", "invalid value '.5'"),
            ("max_transfers = +0x10", "invalid value '+0x10'"),
        ]
    )
    func hazards(statement: String, message: String) throws {
        let (configuration, errors) = parse("# p2mpd.toml\n\n\(statement)\n")
        try #require(errors.count == 1, "\(errors)")
        #expect(errors[0].line == 3)
        #expect(errors[0].message.hasPrefix("TOML syntax error: \(message)"), "\(errors[0].message)")
        #expect(configuration == DaemonConfiguration.defaults)
    }

    @Test("the line of a hazard in a multi-line array is its own")
    func hazardLine() {
        let (_, errors) = parse("allow = [\n  \"10.0.0.0/8\",\n  }\n]\n")
        #expect(errors.map(\.line) == [3])
    }

    @Test(
        "well-formed values of every TOML kind parse",
        arguments: [
            "0", "-0", "+17", "1_000", "0x1F", "0xdead_beef", "0o17", "0b1010", "3.14", "-1.5e-3", "6E+10",
            "1e5", "inf", "-inf", "+nan", "true", "false", "1979-05-27", "07:32:00", "07:32:00.999",
            "1979-05-27T07:32:00Z", "1979-05-27t07:32:00.5+05:30", "1979-05-27 07:32:00", "[]", "[[1], ['a']]",
            "{ x = 1, 'y' = \"2\", z.w = [3] }", "{}",
        ]
    )
    func wellFormed(value: String) {
        let (_, errors) = parse("x = \(value)\n")
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.message.hasPrefix("unknown key 'x'") == true, "\(errors)")
    }

    /// Seeded mutations (replace, insert, delete bytes) of files that use every TOML form.
    @Test("random mutations of valid files never crash")
    func mutations() {
        let bases = [
            """
            listen = ["0.0.0.0:7735", "[::]:7735"]
            "spool" = '/srv'
            loss = 0.5e0
            max_file_size = "64G"
            allow = [ "10.0.0.0/8", { a = 1 }, [1, 2] ]
            [t]
            "x\\u0041" = 1_000
            post_receive = \"\"\"a
            b\"\"\"
            """,
            """
            a = 0x1F
            b = -0o17 # c
            c = +1.5e-3
            d = 1979-05-27T07:32:00Z
            e = 07:32:00
            f = { x = [1, 2], y = "z", 'w' = true }
            [[g]]
            h.i = inf
            [ "j" . k ]
            l = [ [ 1 ], [ "a" ], ]
            m = '''multi
            line'''
            """,
        ].map { Array($0.utf8) }
        let alphabet = Array("[]{}\"'\\=.,#\n\r\t u0:/-_+abcefinxtTZ1e\u{7F}\u{01}".utf8)
        let iterations = getenv("P2MP_CONFIG_FUZZ_ITERATIONS").flatMap { Int(String(cString: $0)) } ?? 2000
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        for iteration in 0..<iterations {
            var bytes = bases[iteration % bases.count]
            for _ in 0..<(1 + Int(next() % 4)) {
                let position = Int(next() % UInt64(bytes.count))
                let replacement = alphabet[Int(next() % UInt64(alphabet.count))]
                switch next() % 3 {
                case 0: bytes[position] = replacement
                case 1: bytes.insert(replacement, at: position)
                default: bytes.remove(at: position)
                }
            }
            let (_, errors) = parse(String(decoding: bytes, as: UTF8.self))
            #expect(errors.allSatisfy { $0.line == nil || $0.line! >= 1 })
        }
    }
}
