import P2MPSpool

/// One line typed at `p2mpsend shell`, parsed. Words are separated by spaces; a word may
/// be quoted with double quotes to hold spaces. Spool names are checked as a receiver checks
/// them (an empty or over-long one would not even fit a datagram).
public enum ShellCommand: Equatable, Sendable {
    case list
    case get(name: String, destination: String?)
    case put(file: String, name: String?)
    case rename(from: String, to: String)
    case remove(name: String)
    case help
    case exit
    case empty
    /// A line that is not a command, with what was expected.
    case invalid(String)

    public static let usage = """
        commands:
          list                  list the receiver's files
          get NAME [PATH]       fetch NAME (to PATH, default its last component)
          put FILE [NAME]       push FILE (as NAME, default its base name)
          rename OLD NEW        rename a file (the receiver's manage_allow must allow it)
          rm NAME               delete a file (likewise)
          help                  this list
          exit                  leave (so do end of input and Ctrl-C)
        """

    public static func parse(_ line: String) -> ShellCommand {
        guard let words = split(line) else { return .invalid("unbalanced quote") }
        guard let verb = words.first else { return .empty }
        let arguments = Array(words.dropFirst())
        func arity(_ range: ClosedRange<Int>, _ form: String, names: [Int] = []) -> String? {
            guard range.contains(arguments.count) else { return "usage: \(form)" }
            for index in names where index < arguments.count {
                do {
                    _ = try SpoolName(validating: arguments[index])
                } catch {
                    return "'\(error.name)' is not a name a receiver accepts: \(error.reason.message)"
                }
            }
            return nil
        }
        switch verb.lowercased() {
        case "list", "ls":
            return arity(0...0, "list").map(ShellCommand.invalid) ?? .list
        case "get":
            return arity(1...2, "get NAME [PATH]", names: [0]).map(ShellCommand.invalid)
                ?? .get(name: arguments[0], destination: arguments.count > 1 ? arguments[1] : nil)
        case "put":
            return arity(1...2, "put FILE [NAME]", names: [1]).map(ShellCommand.invalid)
                ?? .put(file: arguments[0], name: arguments.count > 1 ? arguments[1] : nil)
        case "rename", "mv":
            return arity(2...2, "rename OLD NEW", names: [0, 1]).map(ShellCommand.invalid) ?? .rename(from: arguments[0], to: arguments[1])
        case "rm":
            return arity(1...1, "rm NAME", names: [0]).map(ShellCommand.invalid) ?? .remove(name: arguments[0])
        case "help", "?":
            return .help
        case "exit", "quit", "bye":
            return .exit
        default:
            return .invalid("unknown command '\(verb)' (expected get, put, rename, rm, list, help or exit)")
        }
    }

    /// Words, honouring double quotes; nil for an unbalanced quote.
    static func split(_ line: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var quoted = false
        var inWord = false
        for character in line {
            if character == "\"" {
                quoted.toggle()
                inWord = true
            } else if character.isWhitespace, !quoted {
                if inWord { words.append(current) }
                current = ""
                inWord = false
            } else {
                current.append(character)
                inWord = true
            }
        }
        if quoted { return nil }
        if inWord { words.append(current) }
        return words
    }
}
