import Foundation
import Testing

/// A sender's key pair, made by `p2mpsend keygen` as an operator makes one.
struct SenderKey: Sendable {
    let path: URL
    /// `p2mp-ed25519 BASE64 COMMENT`, what a trusted-senders line ends with.
    let publicLine: String
    /// `SHA256:…`, as p2mpsend and p2mpd print it.
    let fingerprint: String
    let comment: String

    /// `p2mpsend keygen --output DIRECTORY/NAME --comment COMMENT`.
    init(_ name: String, comment: String, in directory: URL) async throws {
        path = directory.appendingPathComponent(name)
        self.comment = comment
        let made = try await ChildProcess.run("p2mpsend", ["keygen", "--output", path.path, "--comment", comment], in: directory)
        guard made.status == 0, let line = made.stdout.first, let fingerprint = made.stderr.first.flatMap(Fingerprint.first(in:))
        else { throw FixtureError("p2mpsend keygen failed: \(made)") }
        publicLine = line
        self.fingerprint = fingerprint
    }

    /// The flag that makes p2mpsend authenticate with this key.
    var identity: [String] { ["--identity", path.path] }

    /// A trusted-senders line granting `rights` (empty: the default, push and read).
    func trusted(_ rights: String = "") -> String {
        rights.isEmpty ? publicLine : "\(rights) \(publicLine)"
    }
}

/// Key fingerprints in program output.
enum Fingerprint {
    /// The first `SHA256:` followed by unpadded base64 in `text`.
    static func first(in text: String) -> String? {
        guard let start = text.range(of: "SHA256:") else { return nil }
        let alphabet = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        let digits = text[start.upperBound...].prefix { alphabet.contains($0) }
        return digits.count == 43 ? "SHA256:\(digits)" : nil
    }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Daemon {
    /// A daemon that serves only the keys of `lines` (written to a trusted-senders file in
    /// `directory`), with `configuration` and `extra` flags as for any daemon.
    static func trusting(
        _ lines: [String], address: String, in directory: URL, configuration: String? = nil, extra: [String] = [],
        port: Int? = nil, spool: URL? = nil
    ) async throws -> Daemon {
        let file = directory.appendingPathComponent("trusted-senders-\(address)-\(UUID().uuidString)")
        try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        return try await Daemon(
            address: address, in: directory, configuration: configuration,
            extra: ["--trusted-senders", file.path] + extra, port: port, spool: spool)
    }

    /// The trusted-senders file the daemon was started with (`--trusted-senders`).
    var trustedSendersFile: URL? {
        let arguments = child.process.arguments ?? []
        return arguments.firstIndex(of: "--trusted-senders").map { URL(fileURLWithPath: arguments[$0 + 1]) }
    }

    /// The host key's fingerprint, from the daemon's start line ("…; host key SHA256:…").
    var hostKeyFingerprint: String? {
        child.stderrLines.first { $0.contains("host key SHA256:") && $0.contains("p2mp_event=start") }
            .flatMap(Fingerprint.first(in:))
    }

    /// The names of the committed files in the spool (its own `.p2mp` directory left out).
    func spoolNames() -> [String] {
        let root = spool.standardizedFileURL.path
        guard let walk = FileManager.default.enumerator(atPath: root) else { return [] }
        var names: [String] = []
        while let name = walk.nextObject() as? String {
            if name == ".p2mp" {
                walk.skipDescendants()
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isDirectory), !isDirectory.boolValue {
                names.append(name)
            }
        }
        return names.sorted()
    }

    /// The partial files of the spool (a push in progress, or one that was cut off).
    func partials() -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent(".p2mp/partial").path)) ?? []
    }

    /// Lines of the log that contain every one of `texts`.
    func logLines(containing texts: String...) -> [String] {
        child.stderrLines.filter { line in texts.allSatisfy { line.contains($0) } }
    }

    /// A counter of the line p2mpd logs when it stops ("dropped: 3 forged, 2 replayed; handshakes:
    /// 1 established, …"): the number before `label`, 0 when the line does not name it, or nil
    /// when the daemon has not stopped.
    func stopCounter(_ label: String) -> Int? {
        guard let line = child.stderrLines.last(where: { $0.contains("p2mpd stopping:") }) else { return nil }
        // The drop counts list only causes that occurred: an absent one is zero.
        guard let range = line.range(of: " \(label)") else { return 0 }
        let digits = line[..<range.lowerBound].reversed().prefix { $0.isNumber }
        return Int(String(digits.reversed()))
    }

    /// The daemon's peak resident memory (VmHWM in /proc/PID/status), in bytes.
    var peakResidentBytes: Int? {
        let text = try? String(contentsOfFile: "/proc/\(child.process.processIdentifier)/status", encoding: .utf8)
        let line = text?.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return line.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }.map { $0 * 1024 }
    }
}

/// A post-receive hook that appends "FILE PEER" to a file for each commit, so a test can see
/// whether (and how often) the hook ran.
struct HookRecorder {
    let log: URL

    init(in directory: URL) {
        log = directory.appendingPathComponent("hook-runs-\(UUID().uuidString).log")
    }

    /// The `post_receive` line of a daemon's configuration.
    var configuration: String { "post_receive = 'echo \"$P2MP_FILE $P2MP_PEER\" >> \(log.path)'" }

    /// One line per run: "FILE PEER".
    var runs: [String] {
        ((try? String(contentsOf: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }
}
