@preconcurrency import Crypto
import P2MPProtocol
import P2MPSecurity
import Testing

@testable import P2MPKeys

/// The private-key file is parsed with swift-crypto (its seed becomes a key), so it is not in
/// the libFuzzer binary (docs/HARDENING.md); this seeded test mutates valid key files instead.
/// Every input parses or fails with `PATH:LINE:` (or `PATH:` for an empty file) on one line;
/// an accepted one writes back to a line that reads as the same key and comment.
@Suite struct KeyPairFilePropertyTests {
    static let seed: UInt64 = 0x6B65_7966_696C_6573

    @Test func mutatedKeyFilesParseOrSayWhy() throws {
        print("KeyPairFilePropertyTests seed \(Self.seed)")
        var random = SeededRandom(seed: Self.seed)
        let valid = (1...8).map { index in
            Array(("p2mp-ed25519-private " + Base64.encode([UInt8](repeating: UInt8(index), count: 32)) + " k\(index)\n").utf8)
        }
        let alphabet = Array(" \t\r\n#=+/Aa0p-\u{FEFF}".utf8) + [0x00, 0xFF, 0xC3]
        for round in 0..<20_000 {
            var bytes = valid[Int.random(in: 0..<valid.count, using: &random)]
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                let position = Int.random(in: 0...bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0: bytes.insert(alphabet.randomElement(using: &random)!, at: position)
                case 1: if position < bytes.count { bytes.remove(at: position) }
                default: if position < bytes.count { bytes[position] = UInt8.random(in: 0...255, using: &random) }
                }
            }
            switch KeyPairFile.parse(bytes, path: "key") {
            case .failure(let error):
                #expect(error.description.hasPrefix("key:"), "round \(round): \(error)")
                #expect(!error.description.contains("\n"), "round \(round): \(error)")
            case .success(let keyPair):
                let line = KeyPairFile.privateKeyType + " " + Base64.encode(Array(keyPair.privateKey.rawRepresentation))
                    + (keyPair.comment.isEmpty ? "" : " " + keyPair.comment)
                let again = try KeyPairFile.parse(Array(line.utf8), path: "key").get()
                #expect(
                    again.privateKey.rawRepresentation == keyPair.privateKey.rawRepresentation && again.comment == keyPair.comment,
                    "round \(round): \(line)")
            }
        }
    }
}
