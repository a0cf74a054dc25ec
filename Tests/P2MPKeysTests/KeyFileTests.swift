@preconcurrency import Crypto
import Foundation
import P2MPKeys
import P2MPSecurity
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A fresh directory under the system's temporary directory, removed on deinit.
final class TemporaryDirectory {
    let path: String

    init() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        path = url.path
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }
}

func mode(of path: String) -> mode_t {
    var status = stat()
    return stat(path, &status) == 0 ? status.st_mode & 0o7777 : 0
}

@Suite struct KeyPairFileTests {
    @Test func writtenKeysReadBackWithOwnerOnlyModeAndAPublicLine() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/id_p2mp"
        let keyPair = KeyPairFile.generate(comment: "ops@build")
        try keyPair.write(path: path).get()
        #expect(mode(of: path) == 0o600 && mode(of: path + ".pub") == 0o644)
        let loaded = try KeyPairFile.load(path: path).get()
        #expect(loaded.publicKey == keyPair.publicKey && loaded.comment == "ops@build")
        let publicLine = try String(contentsOfFile: path + ".pub", encoding: .utf8)
        #expect(publicLine == keyPair.publicLine + "\n" && publicLine.hasPrefix("p2mp-ed25519 "))
        let (key, comment) = try PublicKeyLine.parse(publicLine).get()
        #expect(key == keyPair.publicKey && comment == "ops@build")
        // Never replaces a key.
        #expect(KeyPairFile.generate(comment: "").write(path: path).failure == KeyFileError(path: path, message: "already exists"))
        #expect(try KeyPairFile.load(path: path).get().publicKey == keyPair.publicKey)
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o700] as [mode_t])
    func aPrivateKeyOthersCanReadIsRefusedNamingTheFileAndMode(_ fileMode: mode_t) throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/id_p2mp"
        try KeyPairFile.generate(comment: "").write(path: path).get()
        chmod(path, fileMode)
        let result = KeyPairFile.load(path: path)
        if fileMode & 0o077 == 0 {
            #expect((try? result.get()) != nil, "mode \(String(fileMode, radix: 8)) is the owner's only")
        } else {
            let octal = "0" + String(fileMode, radix: 8)
            #expect(
                result.failure?.description
                    == "\(path): permissions \(octal) are too open: a private key must be accessible by its owner only (chmod 600 \(path))")
        }
    }

    @Test func aHostKeyIsMadeOnFirstStartAndKeptAfterwards() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/host_key"
        let (first, created) = try KeyPairFile.loadOrCreate(path: path, comment: "p2mpd@test").get()
        #expect(created && mode(of: path) == 0o600)
        let (again, createdAgain) = try KeyPairFile.loadOrCreate(path: path, comment: "other").get()
        #expect(!createdAgain && again.publicKey == first.publicKey && again.comment == "p2mpd@test")
    }

    @Test func damagedPrivateFilesSayWhatIsWrong() throws {
        let directory = try TemporaryDirectory()
        let cases: [(String, String)] = [
            ("", "is empty (expected p2mp-ed25519-private BASE64 [COMMENT])"),
            ("p2mp-ed25519 AAAA\n", "1: not a p2mp private key (expected p2mp-ed25519-private BASE64 [COMMENT])"),
            ("# a comment\np2mp-ed25519-private AAAA\n", "2: the key is not the base64 of a 32-byte Ed25519 seed"),
            ("p2mp-ed25519-private \(Base64.encode([UInt8](repeating: 1, count: 32)))\nextra\n", "2: a private key file holds one line"),
        ]
        for (index, (text, message)) in cases.enumerated() {
            let path = directory.path + "/key\(index)"
            #expect(FileManager.default.createFile(atPath: path, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600]))
            let separator = message.first?.isNumber == true ? ":" : ": "
            #expect(KeyPairFile.load(path: path).failure?.description == path + separator + message)
        }
    }
}

@Suite struct TrustedSendersFileTests {
    static let keys = (1...4).map { seed in
        KeyPairFile(
            privateKey: try! Curve25519.Signing.PrivateKey(rawRepresentation: [UInt8](repeating: UInt8(seed), count: 32)),
            comment: "k\(seed)")
    }

    static func line(_ index: Int, options: String = "", comment: String = "") -> String {
        (options.isEmpty ? "" : options + " ") + PublicKeyLine.format(keys[index].publicKey, comment: comment)
    }

    @Test func everyOptionAndTheDefault() throws {
        let text = """
            # fleet operators
            \(Self.line(0, comment: "ops@build one"))

            push \(Self.line(1))
            read,manage \(Self.line(2, comment: "auditor"))
            push,names=apps/web/ \(Self.line(3))
            """
        let trusted = try TrustedSendersFile.parse(Array(text.utf8), path: "trusted-senders").get()
        #expect(trusted.grants.count == 4)
        #expect(trusted.grant(for: Self.keys[0].publicKey) == SenderGrant(rights: [.push, .read], comment: "ops@build one"))
        #expect(trusted.grant(for: Self.keys[1].publicKey) == SenderGrant(rights: .push))
        #expect(trusted.grant(for: Self.keys[2].publicKey) == SenderGrant(rights: [.read, .manage], comment: "auditor"))
        #expect(trusted.grant(for: Self.keys[3].publicKey) == SenderGrant(rights: .push, namePrefix: "apps/web/"))
        // A line whose options name no right gets the default rights, limited to its prefix.
        let prefixOnly = try TrustedSendersFile.parse(Array(Self.line(0, options: "names=a/").utf8), path: "t").get()
        #expect(prefixOnly.grant(for: Self.keys[0].publicKey) == SenderGrant(rights: .default, namePrefix: "a/"))
    }

    @Test func everyProblemIsReportedWithItsLine() {
        let key = Base64.encode(Self.keys[0].publicKey.rawRepresentation)
        let text = """
            \(Self.line(0))
            pushh \(Self.line(1))
            push,delete \(Self.line(1))
            push,push \(Self.line(1))
            names=/etc \(Self.line(1))
            names=a/../b \(Self.line(1))
            names= \(Self.line(1))
            ssh-ed25519 \(key) old
            p2mp-ed25519 not-base64!
            p2mp-ed25519 \(Base64.encode([1, 2, 3]))
            push
            p2mp-ed25519
            \(Self.line(0, options: "read"))
            """
        let errors = TrustedSendersFile.parse(Array(text.utf8), path: "/etc/p2mp/trusted-senders").failure?.errors ?? []
        let expected = [
            "2: 'pushh' is neither options (push, read, manage, names=PREFIX, comma-separated) nor the key type p2mp-ed25519",
            "3: unknown option 'delete' (expected push, read, manage or names=PREFIX)",
            "4: option 'push' is given twice",
            "5: names=/etc: a spool name is relative (no leading '/')",
            "6: names=a/../b: no '.' or '..' components",
            "7: names=: empty prefix (leave names= out to allow every name)",
            "8: 'ssh-ed25519' is neither options (push, read, manage, names=PREFIX, comma-separated) nor the key type p2mp-ed25519",
            "9: the key is not valid base64",
            "10: the key is 3 bytes, not a 32-byte Ed25519 public key",
            "11: no key after the options (expected [OPTIONS] p2mp-ed25519 BASE64 [COMMENT])",
            "12: no key (expected p2mp-ed25519 BASE64 [COMMENT])",
            "13: key \(Self.keys[0].publicKey.fingerprint) is listed twice (first on line 1)",
        ].map { "/etc/p2mp/trusted-senders:" + $0 }
        #expect(errors.map(\.description) == expected)
    }

    @Test func aMissingFileIsAnError() {
        #expect(
            TrustedSendersFile.load(path: "/nonexistent/trusted-senders").failure?.description
                == "/nonexistent/trusted-senders: no such file")
    }
}

@Suite struct KnownHostsFileTests {
    @Test func aNewKeyIsRecordedAndAChangedOneRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.path + "/known_hosts"
        var hosts = try KnownHostsFile.load(path: path).get()
        let first = TrustedSendersFileTests.keys[0].publicKey
        let second = TrustedSendersFileTests.keys[1].publicKey
        let name = KnownHosts.name(host: "Web-1", port: 7735, defaultPort: 7735)
        #expect(name == "web-1" && KnownHosts.name(host: "::1", port: 9000, defaultPort: 7735) == "[::1]:9000")
        #expect(hosts.verdict(for: name, key: first) == .unknown)
        try KnownHostsFile.record(host: name, key: first, in: &hosts, path: path).get()
        #expect(hosts.verdict(for: name, key: first) == .known)
        #expect(hosts.verdict(for: name, key: second) == .changed(expected: first))
        #expect(KnownHostsFile.record(host: name, key: second, in: &hosts, path: path).failure != nil)
        let reread = try KnownHostsFile.load(path: path).get()
        #expect(reread == hosts && reread.verdict(for: "web-1", key: second) == .changed(expected: first))
    }

    @Test func problemsHaveLines() {
        let key = PublicKeyLine.format(TrustedSendersFileTests.keys[0].publicKey, comment: "")
        let text = "a \(key)\nb\na \(key)\nc p2mp-ed25519 AAAA\n"
        let errors = KnownHostsFile.parse(Array(text.utf8), path: "known_hosts").failure?.errors.map(\.description)
        #expect(
            errors == [
                "known_hosts:2: 'b' has no key (expected HOST p2mp-ed25519 BASE64 [COMMENT])",
                "known_hosts:3: host 'a' is listed twice (first on line 1)",
                "known_hosts:4: the key is 3 bytes, not a 32-byte Ed25519 public key",
            ])
    }

    @Test func fingerprintsLookLikeSsh() {
        let fingerprint = TrustedSendersFileTests.keys[0].publicKey.fingerprint
        #expect(fingerprint.hasPrefix("SHA256:") && fingerprint.count == 7 + 43 && !fingerprint.contains("="))
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let failure) = self { failure } else { nil }
    }
}
