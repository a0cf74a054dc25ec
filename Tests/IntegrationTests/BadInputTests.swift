import Foundation
import Testing

/// Every bad command line gets exit status 2 and one stderr line naming the value.
@Suite("Bad input")
struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var program: String
        var arguments: [String]
        var message: String
        var testDescription: String { "\(program) \(arguments.joined(separator: " "))" }
    }

    static let cases: [Case] = [
        Case(program: "p2mpd", arguments: ["7735"], message: "expected PORT FILE P (3 arguments), or none for the daemon, got 1"),
        Case(program: "p2mpd", arguments: ["7735", "out.bin"], message: "expected PORT FILE P (3 arguments), or none for the daemon, got 2"),
        Case(program: "p2mpd", arguments: ["0", "out.bin", "0.1"], message: "PORT '0' is not a port number"),
        Case(program: "p2mpd", arguments: ["65536", "out.bin", "0.1"], message: "PORT '65536' is not a port number"),
        Case(program: "p2mpd", arguments: ["http", "out.bin", "0.1"], message: "PORT 'http' is not a port number"),
        Case(program: "p2mpd", arguments: ["7735", "out.bin", "1.5"], message: "P '1.5' is not a probability"),
        Case(program: "p2mpd", arguments: ["7735", "out.bin", "-0.1"], message: "P '-0.1' is not a probability"),
        Case(program: "p2mpd", arguments: ["7735", "out.bin", "often"], message: "P 'often' is not a probability"),
        Case(program: "p2mpd", arguments: ["7735", "no/such/dir/out.bin", "0.1"], message: "directory 'no/such/dir' does not exist"),
        Case(program: "p2mpd", arguments: ["7735", "out.bin", "0.1", "--bind", "nowhere"], message: "--bind 'nowhere' is not an IP address"),
        Case(program: "p2mpd", arguments: ["7735", "out.bin", "0.1", "--frobnicate"], message: "unknown option '--frobnicate'"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin"], message: "expected HOST... PORT FILE MSS (at least 4 arguments), got 3"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "0", "input.bin", "500"], message: "PORT '0' is not a port number"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "99999", "input.bin", "500"], message: "PORT '99999' is not a port number"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin", "0"], message: "MSS '0' is not a segment size"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin", "-5"], message: "MSS '-5' is not a segment size"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin", "65500"], message: "MSS '65500' is not a segment size"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin", "big"], message: "MSS 'big' is not a segment size"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "missing.bin", "500"], message: "FILE 'missing.bin' cannot be sent"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", ".", "500"], message: "FILE '.' cannot be sent"),
        Case(program: "p2mpsend", arguments: ["no-such-host.invalid", "7735", "input.bin", "500"], message: "HOST 'no-such-host.invalid' does not resolve"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "127.0.0.1", "7735", "input.bin", "500"], message: "is the same receiver as"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin", "500", "--timeout", "0"], message: "--timeout '0.0' is not a number of seconds"),
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin", "500", "--give-up", "-1"], message: "--give-up '-1.0' is not a number of seconds in (0, 86400]"),
        // Values that used to overflow a conversion and trap (issue 15, item 2).
        Case(program: "p2mpsend", arguments: ["127.0.0.1", "7735", "input.bin", "500", "--give-up", "1e300"], message: "--give-up '1e+300' is not a number of seconds in (0, 86400]"),
        Case(program: "p2mpd", arguments: ["7735", "out.bin", "0.1", "--linger", "1e300"], message: "--linger '1e+300' is not a number of seconds in (0, 86400]"),
    ]

    @Test("exit status 2 and one line naming the value", arguments: cases)
    func rejects(_ testCase: Case) async throws {
        let directory = try Harness.makeDirectory()
        try Data("hello".utf8).write(to: directory.appendingPathComponent("input.bin"))
        let result = try await ChildProcess.run(testCase.program, testCase.arguments, in: directory, timeout: 20)
        #expect(result.status == 2)
        #expect(result.stderr.count == 1, "stderr: \(result.stderr)")
        #expect(result.stderr.first?.hasPrefix("\(testCase.program): ") == true)
        #expect(result.stderr.first?.contains(testCase.message) == true, "stderr: \(result.stderr)")
        try? FileManager.default.removeItem(at: directory)
    }

    @Test("--help and --version exit 0")
    func helpAndVersion() async throws {
        let directory = try Harness.makeDirectory()
        for program in ["p2mpd", "p2mpsend"] {
            let help = try await ChildProcess.run(program, ["--help"], in: directory)
            #expect(help.status == 0)
            #expect(help.stdout.contains { $0.contains("USAGE: \(program)") })
            let version = try await ChildProcess.run(program, ["--version"], in: directory)
            #expect(version.status == 0)
            #expect(version.stdout.first?.split(separator: ".").count == 3)
        }
    }
}

/// Bad input to `p2mpsend push` and to the daemon form of p2mpd.
@Suite("Bad input, native commands")
struct NativeBadInputTests {
    static let cases: [BadInputTests.Case] = [
        .init(program: "p2mpsend", arguments: ["push", "input.bin"], message: "expected at least one TARGET after FILE, or --fleet"),
        .init(program: "p2mpsend", arguments: ["push", "missing.bin", "127.0.0.1"], message: "FILE 'missing.bin' cannot be sent"),
        .init(program: "p2mpsend", arguments: ["push", "input.bin", "127.0.0.1:0"], message: "TARGET '127.0.0.1:0' is not HOST, HOST:PORT or [IPV6]:PORT"),
        .init(program: "p2mpsend", arguments: ["push", "input.bin", "no-such-host.invalid"], message: "host 'no-such-host.invalid' does not resolve"),
        .init(program: "p2mpsend", arguments: ["push", "input.bin", "127.0.0.1", "--rate", "fast"], message: "--rate 'fast' is not a rate"),
        .init(program: "p2mpsend", arguments: ["push", "input.bin", "127.0.0.1", "--segment-size", "70000"], message: "--segment-size '70000' is out of range"),
        .init(program: "p2mpsend", arguments: ["push", "input.bin", "127.0.0.1", "--name", "../escape"], message: "--name '../escape' is not a name a receiver accepts"),
        .init(program: "p2mpsend", arguments: ["push", "input.bin", "127.0.0.1", "127.0.0.1:7735"], message: "is the same receiver as"),
        // Values that used to overflow a conversion or break an encoder's precondition and trap.
        .init(program: "p2mpsend", arguments: ["push", "input.bin", "127.0.0.1", "--give-up", "1e300"], message: "--give-up '1e+300' is not a number of seconds in (0, 86400]"),
        .init(program: "p2mpsend", arguments: ["rm", "127.0.0.1", ""], message: "NAME '' is not a name a receiver accepts: the name is empty"),
        .init(program: "p2mpsend", arguments: ["mv", "127.0.0.1", "a", String(repeating: "n", count: 5_000)], message: "is not a name a receiver accepts: the name is longer than 4096 bytes"),
        .init(program: "p2mpsend", arguments: ["get", "127.0.0.1", "a//b"], message: "NAME 'a//b' is not a name a receiver accepts"),
        .init(program: "p2mpd", arguments: ["--linger", "1"], message: "--bind and --linger belong to the seed form"),
        .init(program: "p2mpd", arguments: ["7735", "out.bin", "0.1", "--spool", "/tmp"], message: "the seed form (p2mpd PORT FILE P) takes only --bind, --linger and --loss-seed"),
    ]

    @Test("exit status 2 and one line naming the value", arguments: cases)
    func rejects(_ testCase: BadInputTests.Case) async throws {
        try await BadInputTests().rejects(testCase)
    }

    @Test("an invalid configuration stops the daemon with file:line messages; --check-config says 0 or 1")
    func configurationErrors() async throws {
        let directory = try Harness.makeDirectory()
        let file = directory.appendingPathComponent("p2mpd.toml")
        try "loss = 0.5\nspool_dri = \"/tmp\"\nmax_transfers = 0\n".write(to: file, atomically: true, encoding: .utf8)
        let check = try await ChildProcess.run("p2mpd", ["--check-config", "--config", file.path], in: directory)
        #expect(check.status == 1)
        #expect(check.stderr.contains { $0.hasPrefix("\(file.path):2: unknown key 'spool_dri'") }, "\(check.stderr)")
        #expect(check.stderr.contains { $0.hasPrefix("\(file.path):3:") && $0.contains("max_transfers") }, "\(check.stderr)")
        let run = try await ChildProcess.run("p2mpd", ["--config", file.path, "--spool", directory.path], in: directory)
        #expect(run.status == 1)
        #expect(run.stderr.contains { $0.contains("unknown key 'spool_dri'") })
        try "loss = 0.5\n".write(to: file, atomically: true, encoding: .utf8)
        let good = try await ChildProcess.run("p2mpd", ["--check-config", "--config", file.path], in: directory)
        #expect(good.status == 0)
        #expect(good.stdout.first?.contains("configuration is valid") == true)
        try? FileManager.default.removeItem(at: directory)
    }
}
