import ArgumentParser

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Exit codes shared by p2mpd and p2mpsend (documented in README.md).
public enum ExitStatus: Int32, Sendable {
    case success = 0
    /// Some receiver failed, or the run failed.
    case failure = 1
    /// A usage or input error: a bad argument, a missing file, an unresolvable host.
    case usage = 2
    /// No receiver could be reached at all.
    case unreachable = 3
}

/// A bad command line or input: printed as one line, exit status 2.
public struct UsageError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ message: String) {
        description = message
    }
}

/// A run that ended without success; the message (if any) was not printed yet.
public struct CommandFailure: Error, Sendable {
    public var status: ExitStatus
    public var message: String?

    public init(_ status: ExitStatus, _ message: String? = nil) {
        self.status = status
        self.message = message
    }
}

/// Parses and runs a command, mapping every error to one stderr line and an `ExitStatus`.
public enum CommandRunner {
    public static func main<Command: AsyncParsableCommand>(_ command: Command.Type) async -> Never {
        let name = Command.configuration.commandName ?? "p2mp"
        do {
            var parsed = try Command.parseAsRoot()
            if var asynchronous = parsed as? any AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try parsed.run()
            }
            exit(ExitStatus.success.rawValue)
        } catch let error as UsageError {
            printError("\(name): \(error)")
            exit(ExitStatus.usage.rawValue)
        } catch let failure as CommandFailure {
            if let message = failure.message { printError("\(name): \(message)") }
            exit(failure.status.rawValue)
        } catch {
            if Command.exitCode(for: error) == .success || error is ExitCode {
                Command.exit(withError: error)
            }
            if isArgumentParserError(error) {
                printError("\(name): \(Command.message(for: error))")
                exit(ExitStatus.usage.rawValue)
            }
            printError("\(name): \(error)")
            exit(ExitStatus.failure.rawValue)
        }
    }

    /// Errors of parsing or validation, as opposed to failures while running.
    private static func isArgumentParserError(_ error: any Error) -> Bool {
        error is ValidationError || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }

    /// Writes one line to standard error, unbuffered.
    public static func printError(_ line: String) {
        writeLine(line, to: STDERR_FILENO)
    }

    /// Writes one line to standard output at once (one write(2), no stdio buffer), so lines
    /// from the event loop and the main task never interleave or wait in a buffer.
    public static func printLine(_ line: String) {
        writeLine(line, to: STDOUT_FILENO)
    }

    private static func writeLine(_ line: String, to descriptor: Int32) {
        var bytes = Array(line.utf8)
        if bytes.last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
