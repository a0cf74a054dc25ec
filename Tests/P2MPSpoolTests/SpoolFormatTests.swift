@testable import P2MPSpool
import Testing

@Suite("Sidecar and state file formats")
struct SpoolFormatTests {
    @Test("flat JSON round-trips strings with quotes, escapes, control characters and Unicode")
    func jsonRoundTrip() throws {
        let strings = ["plain", "quote \" backslash \\ slash /", "line\nbreak\ttab\r\u{01}\u{7F}", "été 日本 🚀", ""]
        let fields = strings.enumerated().map { ("k\($0.offset)", FlatJSON.Value.string($0.element)) }
        let text = FlatJSON.encode(fields + [("n", FlatJSON.number(UInt64.max)), ("d", FlatJSON.number(-0.5))])
        #expect(!text.dropLast().contains("\n"))
        let decoded = try #require(FlatJSON.decode(Array(text.utf8)))
        for (index, string) in strings.enumerated() {
            #expect(decoded.string("k\(index)") == string)
        }
        #expect(decoded.unsigned("n") == .max)
        #expect(decoded.double("d") == -0.5)
    }

    @Test("flat JSON reads what other writers produce")
    func jsonReading() throws {
        let text = " {\n  \"a\" : \"\\u00e9\\ud83d\\ude80\\/\" ,\"b\":null, \"c\": true, \"d\" : 1.5e3 }\n"
        let decoded = try #require(FlatJSON.decode(Array(text.utf8)))
        #expect(decoded.string("a") == "é🚀/")
        #expect(decoded["b"] == .null)
        #expect(decoded["c"] == .bool(true))
        #expect(decoded.double("d") == 1500)
        #expect(FlatJSON.decode(Array("{}".utf8))?.isEmpty == true)
    }

    @Test(
        "flat JSON rejects anything else",
        arguments: [
            "", "[]", "{", "{\"a\":1,}", "{\"a\":{}}", "{\"a\":[1]}", "{\"a\":1,\"a\":2}", "{\"a\":1} x",
            "{\"a\":\"\\ud800\"}", "{\"a\":\"raw\nnewline\"}", "{a:1}", "{\"a\":\"\\x\"}", "{\"a\":nul}",
        ])
    func jsonRejects(_ text: String) {
        #expect(FlatJSON.decode(Array(text.utf8)) == nil)
    }

    @Test("a sidecar round-trips, and is believed only for the file it describes")
    func sidecar() throws {
        let name = try SpoolName(validating: "a/b")
        let metadata = FileMetadata(
            sender: "192.0.2.1:1", transferID: 7, size: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", startTime: 1.5,
            endTime: 2.25, senderKey: nil)
        let sidecar = MetadataSidecar(
            name: "a/b", inode: 99, size: 3, modificationSeconds: 1_700_000_000, modificationNanoseconds: 123,
            metadata: metadata)
        let decoded = try #require(MetadataSidecar(decoding: Array(sidecar.encoded().utf8)))
        #expect(decoded == sidecar)

        let identity = FileIdentity(
            device: 1, inode: 99, size: 3, modified: .init(seconds: 1_700_000_000, nanoseconds: 123),
            changed: .init(seconds: 1_700_000_001, nanoseconds: 0))
        #expect(decoded.digest(ifDescribing: identity, named: name) == Hex.decode(metadata.sha256))
        var moved = identity
        moved.inode = 100
        #expect(decoded.digest(ifDescribing: moved, named: name) == nil)
        var touched = identity
        touched.modified.nanoseconds = 124
        #expect(decoded.digest(ifDescribing: touched, named: name) == nil)
        #expect(decoded.digest(ifDescribing: identity, named: try SpoolName(validating: "a/c")) == nil)
        #expect(MetadataSidecar.fileName(for: name).utf8.count == 69)
    }

    @Test("a partial's state file round-trips")
    func state() {
        let state = PartialState(size: 1 << 40, prefix: 12345)
        #expect(PartialState(decoding: Array(state.encoded().utf8)) == state)
    }

    @Test("hex encodes lowercase and decodes either case")
    func hex() {
        #expect(Hex.encode([0x00, 0xAB, 0xFF]) == "00abff")
        #expect(Hex.decode("00ABff") == [0x00, 0xAB, 0xFF])
        #expect(Hex.decode("abc") == nil)
        #expect(Hex.decode("zz") == nil)
    }
}
