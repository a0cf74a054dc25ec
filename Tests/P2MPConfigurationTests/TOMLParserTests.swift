@testable import P2MPConfiguration
import Testing

/// A compact rendering of a value: `{a=1,b=[2.5,"x"],c=date:1979-05-27}`.
func render(_ value: TOMLValue) -> String {
    switch value {
    case .string(let text): "\"\(text)\""
    case .integer(let number): "\(number)"
    case .float(let number): "\(number)"
    case .boolean(let flag): "\(flag)"
    case .dateTime(let dateTime): "\(dateTime.kind):\(dateTime)"
    case .array(let items): "[" + items.map(render).joined(separator: ",") + "]"
    case .table(let table):
        "{" + table.keys.map { "\($0)=\(table.values[$0].map(render) ?? "?")" }.joined(separator: ",") + "}"
    }
}

func parsedRoot(_ text: String) -> String {
    switch TOMLParser.parse(text) {
    case .success(let document): render(.table(document.root))
    case .failure(let error): "error at line \(error.line): \(error.message)"
    }
}

@Suite("the TOML parser")
struct TOMLParserTests {
    @Test(
        "valid documents",
        arguments: [
            ("a = 1\nb = -0\n", "{a=1,b=0}"),
            ("a = 0x7FFF_FFFF_FFFF_FFFF\nb = -9223372036854775808", "{a=9223372036854775807,b=-9223372036854775808}"),
            ("a = 0o17\nb = 0b101\nc = +1_000", "{a=15,b=5,c=1000}"),
            ("a = 1e3\nb = -1.5E-1\nc = 1_0.0_1\nd = -inf", "{a=1000.0,b=-0.15,c=10.01,d=-inf}"),
            (#"a = "t\tq\"\\\u00e9\U0001F600""#, "{a=\"t\tq\"\\é😀\"}"),
            ("a = '''\nx\r\ny'''", "{a=\"x\ny\"}"),
            ("a = \"\"\"\\\n   b \\\n\n c\"\"\"\"\"", "{a=\"b c\"\"\"}"),
            ("a = 'C:\\x'", "{a=\"C:\\x\"}"),
            ("a.b = 1\na.c = 2\n\"a\" . 'd' = 3", "{a={b=1,c=2,d=3}}"),
            ("a = [1, 'x', [2], { b = 3 }, ]", "{a=[1,\"x\",[2],{b=3}]}"),
            ("a = [\n  1, # one\n  2,\n]", "{a=[1,2]}"),
            ("[t]\nx = 1\n[u.v]\n[u]\nw = 2", "{t={x=1},u={v={},w=2}}"),
            ("[[p]]\nn = 1\n[p.q]\nm = 1\n[[p]]\nn = 2", "{p=[{n=1,q={m=1}},{n=2}]}"),
            ("[a.b.c]\n[a]\nb.d = 1", "{a={b={c={},d=1}}}"),
            ("x = { a.b = 1, a.c = 2 }", "{x={a={b=1,c=2}}}"),
        ]
    )
    func valid(text: String, expected: String) {
        #expect(parsedRoot(text) == expected)
    }

    @Test(
        "dates and times of every kind",
        arguments: [
            ("1979-05-27T07:32:00Z", TOMLDateTime.Kind.offsetDateTime),
            ("1979-05-27 07:32:00.999999-07:30", .offsetDateTime),
            ("1979-05-27t07:32:00", .localDateTime),
            ("2000-02-29", .localDate),
            ("23:59:59.5", .localTime),
        ]
    )
    func dates(text: String, kind: TOMLDateTime.Kind) throws {
        let document = try TOMLParser.parse("d = \(text)").get()
        guard case .dateTime(let value) = document.root.values["d"] else {
            Issue.record("not a date-time: \(parsedRoot("d = \(text)"))")
            return
        }
        #expect(value.kind == kind)
    }

    @Test(
        "invalid documents fail on the line of the problem",
        arguments: [
            ("a = 1\na = 2", 2, "'a' is defined twice"),
            ("[a]\n[a]", 2, "'a' is defined twice"),
            ("a.b = 1\n[a.b]", 2, "'a.b' is a value"),
            ("a.b.c = 1\n[a.b]", 2, "[a.b] redefines a table that dotted keys made"),
            ("[a]\nb.c = 1\n[a.b]", 3, "[a.b] redefines a table that dotted keys made"),
            ("[a.b]\n[a]\nb.c = 1", 3, "dotted key 'b' reaches into a table defined by a [header]"),
            ("a = {}\n[a]", 2, "'a' is a value"),
            ("a = [{}]\n[[a]]", 2, "'a' is a value"),
            ("[a]\n[[a]]", 2, "[[a]] names a table"),
            ("[[a]]\n[a]", 2, "[a] names an array of tables"),
            ("x = { a = {}, a.b = 1 }", 1, "'a' is a value"),
            ("x = { a = 1, }", 1, "no trailing comma"),
            ("x = { a = 1\n}", 1, "must end on the line it starts"),
            ("x = 9223372036854775808", 1, "out of range"),
            ("x = 0x8000000000000000", 1, "out of range"),
            ("x = 01", 1, "invalid value '01'"),
            ("x = 1979-02-29", 1, "invalid value"),
            ("x = 24:00:00", 1, "invalid value"),
            ("x = 07:32", 1, "invalid value"),
            ("x = \"a\u{1}\"", 1, "control character \\x01 in a string"),
            ("x = 1 # \u{7F}", 1, "control character \\x7f in a comment"),
            ("x = 1\ry = 2", 1, "carriage return"),
            ("x = \"\\q\"", 1, "invalid escape '\\q'"),
            ("x = \"\\uD800\"", 1, "not a Unicode scalar value"),
            ("x = \"\\u12\"", 1, "exactly 4 hex digits"),
            ("x = \"\"\"\na\nb", 3, "unterminated string"),
            ("x = [\n1\n2]", 3, "expected ',' or ']'"),
            ("x = 1 y = 2", 1, "after the statement"),
            ("x\n= 1", 1, "expected '=' after the key 'x'"),
            ("x =\n1", 1, "expected a value on the same line"),
            ("[]", 1, "a table header must start with a key"),
            ("[a", 1, "expected ']'"),
            ("[[a]", 1, "expected ']]'"),
            ("= 1", 1, "cannot start a statement"),
        ]
    )
    func invalid(text: String, line: Int, message: String) {
        guard case .failure(let error) = TOMLParser.parse(text) else {
            Issue.record("parsed: \(parsedRoot(text))")
            return
        }
        #expect(error.line == line)
        #expect(error.message.contains(message), "\(error.message)")
    }

    @Test("nesting deeper than the limit is an error, not a deep recursion")
    func depth() {
        let depth = TOMLParser.maximumDepth
        #expect(parsedRoot("x = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).hasPrefix("{x="))
        #expect(parsedRoot("x = " + String(repeating: "[", count: depth + 1)).contains("nested deeper"))
        let deepest = Array(repeating: "a", count: depth).joined(separator: ".")
        #expect(parsedRoot("[\(deepest)]").hasPrefix("{a={a="))
        #expect(parsedRoot("[\(deepest)]\nx = 1").contains("nested deeper"))
        for text in [
            "x = " + String(repeating: "[", count: 100_000),
            "x = " + String(repeating: "{a=", count: 100_000),
            "[" + Array(repeating: "a", count: depth + 1).joined(separator: ".") + "]",
            Array(repeating: "a", count: depth + 1).joined(separator: ".") + " = 1",
        ] {
            #expect(parsedRoot(text).contains("nested deeper than \(depth) levels"), "\(text.prefix(20))")
        }
    }

    @Test("the root keys' lines and the headers are reported")
    func layout() throws {
        let document = try TOMLParser.parse("a = 1\n\nb.c = 2\n[t]\nd = 3\n[[u.v]]\n").get()
        #expect(document.rootKeyLines == ["a": 1, "b": 3])
        #expect(
            document.headers == [
                .init(path: ["t"], isArray: false, line: 4), .init(path: ["u", "v"], isArray: true, line: 6),
            ])
    }
}
