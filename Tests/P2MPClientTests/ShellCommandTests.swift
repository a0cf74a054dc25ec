import Testing

@testable import P2MPClient

@Suite("Shell commands")
struct ShellCommandTests {
    @Test("each command and its arguments")
    func commands() {
        #expect(ShellCommand.parse("list") == .list)
        #expect(ShellCommand.parse("  ls ") == .list)
        #expect(ShellCommand.parse("get app.tar") == .get(name: "app.tar", destination: nil))
        #expect(ShellCommand.parse("get dir/app.tar /tmp/x") == .get(name: "dir/app.tar", destination: "/tmp/x"))
        #expect(ShellCommand.parse("put ./a.bin") == .put(file: "./a.bin", name: nil))
        #expect(ShellCommand.parse("put a.bin releases/a.bin") == .put(file: "a.bin", name: "releases/a.bin"))
        #expect(ShellCommand.parse("rename a b") == .rename(from: "a", to: "b"))
        #expect(ShellCommand.parse("rm a") == .remove(name: "a"))
        #expect(ShellCommand.parse("help") == .help)
        #expect(ShellCommand.parse("EXIT") == .exit)
        #expect(ShellCommand.parse("   ") == .empty)
    }

    @Test("quotes keep spaces inside a word")
    func quotes() {
        #expect(ShellCommand.parse("get \"my file.txt\" out") == .get(name: "my file.txt", destination: "out"))
        #expect(ShellCommand.parse("get \"broken") == .invalid("unbalanced quote"))
    }

    @Test("names a receiver would refuse, or no datagram could carry, are refused here")
    func names() {
        let empty = "'' is not a name a receiver accepts: the name is empty"
        #expect(ShellCommand.parse("get \"\"") == .invalid(empty))
        #expect(ShellCommand.parse("rm \"\"") == .invalid(empty))
        #expect(ShellCommand.parse("put a.bin \"\"") == .invalid(empty))
        #expect(ShellCommand.parse("rename a ../b") == .invalid("'../b' is not a name a receiver accepts: '.' and '..' components are not allowed"))
        let long = String(repeating: "x", count: 5_000)
        #expect(ShellCommand.parse("rm \(long)") != .remove(name: long))
    }

    @Test("unknown commands and wrong argument counts say what was expected")
    func invalid() {
        #expect(ShellCommand.parse("frobnicate x") == .invalid("unknown command 'frobnicate' (expected get, put, rename, rm, list, help or exit)"))
        #expect(ShellCommand.parse("get") == .invalid("usage: get NAME [PATH]"))
        #expect(ShellCommand.parse("rename a") == .invalid("usage: rename OLD NEW"))
        #expect(ShellCommand.parse("list now") == .invalid("usage: list"))
    }
}
