import Foundation
import Testing

/// Every committed seed and every saved crash of every fuzz target, through the same
/// properties the fuzz binary checks (`make fuzz` builds it; see docs/HARDENING.md). A crash
/// file stays here once fixed, so this is its regression test. Serialized: the config
/// target writes its files in one directory of the process.
@Suite("fuzz corpus and crash replay", .serialized)
struct ReplayTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    /// The inputs of `target` in `folder` (Corpus or Crashes), skipping dot files.
    static func inputs(_ target: FuzzTarget, in folder: String) throws -> [URL] {
        let directory = fuzzDirectory.appendingPathComponent(folder).appendingPathComponent(target.rawValue)
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { !$0.lastPathComponent.hasPrefix(".") }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("every seed keeps every property", arguments: FuzzTarget.allCases)
    func seeds(target: FuzzTarget) throws {
        let files = try Self.inputs(target, in: "Corpus")
        #expect(!files.isEmpty, "no seed corpus for \(target.rawValue)")
        try replay(files, target)
    }

    @Test("every saved crash keeps every property now", arguments: FuzzTarget.allCases)
    func crashes(target: FuzzTarget) throws {
        try replay(try Self.inputs(target, in: "Crashes"), target)
    }

    func replay(_ files: [URL], _ target: FuzzTarget) throws {
        for file in files {
            let bytes = [UInt8](try Data(contentsOf: file))
            do {
                try target.check(bytes)
            } catch {
                Issue.record("\(target.rawValue) \(file.lastPathComponent): \(error)")
            }
        }
    }
}
