import ArgumentParser
import P2MPCommandLine
import P2MPKeys

#if canImport(Glibc)
import Glibc
#endif

/// `p2mpsend keygen`: the operator's identity, as ssh-keygen makes one.
struct Keygen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the key pair p2mpsend authenticates with.",
        discussion: """
            Writes the private key to --output (default: ~/.config/p2mp/id_ed25519, or under \
            $XDG_CONFIG_HOME) readable by its owner only, and the public line beside it \
            (PATH.pub), then prints the public line: add it to /etc/p2mp/trusted-senders on \
            every receiver. An existing key is never replaced. Exit status: 0 made, 1 the \
            files could not be written, 2 bad input.
            """)

    @Option(name: .shortAndLong, parsing: .unconditional, help: ArgumentHelp("Where to write the private key.", valueName: "path"))
    var output: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("The key's comment (default: USER@HOST).", valueName: "text"))
    var comment: String?

    func run() async throws {
        let path: String
        if let output {
            path = try CommandLinePath.absolute(output, flag: "--output")
            guard !path.isEmpty else { throw UsageError("--output is empty (expected a file path)") }
        } else {
            try ConfigDirectory.create()
            guard let identity = ConfigDirectory.identity else { throw UsageError("neither XDG_CONFIG_HOME nor HOME is set: give --output") }
            path = identity
        }
        let text = comment ?? Self.defaultComment
        if let bad = text.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            throw UsageError("--comment contains a control character (U+\(String(bad.value, radix: 16, uppercase: true)))")
        }
        let keyPair = KeyPairFile.generate(comment: text)
        if case .failure(let error) = keyPair.write(path: path) {
            throw CommandFailure(.failure, "cannot write the key: \(error)")
        }
        CommandRunner.printError("p2mpsend: wrote \(path) and \(path).pub (\(keyPair.publicKey.fingerprint))")
        CommandRunner.printError("p2mpsend: trust it on each receiver by adding this line to /etc/p2mp/trusted-senders:")
        CommandRunner.printLine(keyPair.publicLine)
    }

    /// `user@host`, as ssh-keygen comments keys.
    private static var defaultComment: String {
        let user = getenv("USER").map { String(cString: $0) } ?? "p2mp"
        var name = [CChar](repeating: 0, count: 256)
        let named = gethostname(&name, name.count - 1) == 0
        let host = named ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "localhost"
        return "\(user)@\(host)"
    }
}
