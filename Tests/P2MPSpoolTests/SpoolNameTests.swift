@testable import P2MPSpool
import Testing

@Suite("Spool names from the network")
struct SpoolNameTests {
    static func reason(_ name: String) -> SpoolNameError.Reason? {
        do {
            _ = try SpoolName(validating: name)
            return nil
        } catch {
            return error.reason
        }
    }

    @Test(
        "relative UTF-8 names, with subdirectories, are accepted",
        arguments: [
            "file", "app-1.4.tar.gz", "releases/app-1.4.tar.gz", "a/b/c/d/e", "données/été.tar",
            "日本語/ファイル.bin", "emoji 🚀.txt", ".hidden", "..x", "x..", "...", "a/.p2mp", ".p2mpx",
            "with space", "back\\slash",
        ])
    func accepted(_ name: String) throws {
        let validated = try SpoolName(validating: name)
        #expect(validated.rawValue == name)
        #expect(validated.components.joined(separator: "/") == name)
    }

    @Test(
        "the decisions of docs/HARDENING.md: C1 controls, formatting characters, a leading '-', .P2MP, depth",
        arguments: [
            ("next\u{85}line", .controlCharacter), ("csi\u{9B}31m", .controlCharacter),
            ("invoice\u{202E}fdp.exe", .formattingCharacter), ("\u{FEFF}bom", .formattingCharacter),
            ("a\u{2066}b", .formattingCharacter), ("lrm\u{200E}", .formattingCharacter),
            ("-rf", .leadingDash), ("dir/-x", .leadingDash), (".P2MP/x", .reserved), (".P2mp", .reserved),
            (Array(repeating: "d", count: 33).joined(separator: "/"), .tooDeep),
        ] as [(String, SpoolNameError.Reason)])
    func decisions(_ name: String, _ reason: SpoolNameError.Reason) {
        #expect(Self.reason(name) == reason)
    }

    @Test("32 components, a dash inside a component and both Unicode normal forms are accepted, as distinct names")
    func decidedAcceptable() throws {
        #expect(Self.reason(Array(repeating: "d", count: 32).joined(separator: "/")) == nil)
        #expect(Self.reason("a-b/c-") == nil)
        let composed = try SpoolName(validating: "caf\u{E9}")
        let decomposed = try SpoolName(validating: "cafe\u{301}")
        #expect(composed != decomposed, "names are bytes, as on the file system")
    }

    @Test("a refused name shows C1 controls and formatting characters escaped")
    func escapedInMessages() {
        #expect(SpoolNameError(.formattingCharacter, name: Array("a\u{202E}b\u{9B}".utf8)).name == "a\\u{202e}b\\u{9b}")
    }

    @Test("components, directories and leaf")
    func components() throws {
        let name = try SpoolName(validating: "releases/2024/app.tar.gz")
        #expect(name.components == ["releases", "2024", "app.tar.gz"])
        #expect(Array(name.directories) == ["releases", "2024"])
        #expect(name.leaf == "app.tar.gz")
    }

    @Test("the empty name is rejected")
    func empty() {
        #expect(Self.reason("") == .empty)
    }

    @Test("absolute names are rejected", arguments: ["/x", "/", "/etc/passwd", "//x"])
    func absolute(_ name: String) {
        #expect(Self.reason(name) == .absolute)
    }

    @Test(
        "'.' and '..' components are rejected",
        arguments: [".", "..", "../x", "a/../b", "a/..", "./a", "a/./b", "a/."])
    func dotComponents(_ name: String) {
        #expect(Self.reason(name) == .dotComponent)
    }

    @Test("empty components are rejected", arguments: ["a//b", "a/", "a/b/", "a///"])
    func emptyComponents(_ name: String) {
        #expect(Self.reason(name) == .emptyComponent)
    }

    @Test(
        "NUL and control characters are rejected",
        arguments: ["a\0b", "\0", "a\nb", "tab\there", "cr\r", "\u{1B}[31m", "del\u{7F}", "\u{01}"])
    func controlCharacters(_ name: String) {
        #expect(Self.reason(name) == .controlCharacter)
    }

    @Test("a component of 255 bytes is accepted, 256 rejected")
    func componentLength() throws {
        _ = try SpoolName(validating: String(repeating: "x", count: 255))
        _ = try SpoolName(validating: "dir/" + String(repeating: "é", count: 127) + "x")  // 255 bytes
        #expect(Self.reason(String(repeating: "x", count: 256)) == .componentTooLong)
        #expect(Self.reason("dir/" + String(repeating: "é", count: 128)) == .componentTooLong)
    }

    @Test("a name of 4096 bytes is accepted, 4097 rejected")
    func totalLength() throws {
        let components = Array(repeating: String(repeating: "x", count: 240), count: 17)
        let longest = components.joined(separator: "/")
        #expect(longest.utf8.count == 4096)
        _ = try SpoolName(validating: longest)
        #expect(Self.reason(longest + "x") == .tooLong)
        #expect(Self.reason(String(repeating: "a/", count: 3000) + "a") == .tooLong)
    }

    @Test("the spool's state directory is reserved", arguments: [".p2mp", ".p2mp/partial/x.data", ".p2mp/meta"])
    func reserved(_ name: String) {
        #expect(Self.reason(name) == .reserved)
    }

    @Test("bytes that are not UTF-8 are rejected")
    func invalidUTF8() throws {
        #expect(throws: SpoolNameError.self) { try SpoolName(validatingUTF8: [0x66, 0xFF, 0x66]) }
        do {
            _ = try SpoolName(validatingUTF8: [0x66, 0xC3])
            Issue.record("accepted a truncated UTF-8 sequence")
        } catch {
            #expect(error.reason == .invalidUTF8)
            #expect(error.name == "f\\xc3")
        }
        #expect(try SpoolName(validatingUTF8: Array("été/x".utf8)).rawValue == "été/x")
    }

    @Test("the message names the file and the rule, with control characters escaped")
    func message() {
        do {
            _ = try SpoolName(validating: "../etc/passwd")
        } catch {
            #expect(error.description == "file name '../etc/passwd': '.' and '..' components are not allowed")
        }
        do {
            _ = try SpoolName(validating: "evil\n\u{1B}name")
        } catch {
            #expect(error.description.hasPrefix("file name 'evil\\x0a\\x1bname': "))
        }
        let long = SpoolNameError(.tooLong, name: Array(repeating: UInt8(ascii: "a"), count: 5000))
        #expect(long.name.utf8.count < 210)
    }

    @Test("names compare byte for byte, not by Unicode equivalence")
    func byteEquality() throws {
        let composed = try SpoolName(validating: "caf\u{E9}")
        let decomposed = try SpoolName(validating: "cafe\u{301}")
        #expect(composed != decomposed)
        #expect(Set([composed, decomposed]).count == 2)
        #expect(composed == (try SpoolName(validating: "caf\u{E9}")))
    }
}
