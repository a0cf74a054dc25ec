import Foundation
import Testing

/// A network namespace of this test's own (`prefix` and 8 random hex digits), with its loopback up and,
/// when asked, one more address on it, so that a process inside reaches a daemon inside from
/// an address that is not loopback; nothing leaves it. Deleted by `delete()`.
final class NetworkNamespace: Sendable {
    let name: String
    static let ip = "/usr/sbin/ip"

    /// Whether namespaces can be made here (root and ip(8)).
    static let isAvailable = geteuid() == 0 && FileManager.default.isExecutableFile(atPath: ip)

    /// `ip netns add`, loopback up, `address`/32 added to it (if any).
    init(address: String?, prefix: String = "trusttests-") async throws {
        name = prefix + UUID().uuidString.prefix(8).lowercased()
        var steps = [["netns", "add", name], ["-n", name, "link", "set", "lo", "up"]]
        if let address { steps.append(["-n", name, "addr", "add", "\(address)/32", "dev", "lo"]) }
        for arguments in steps {
            let result = try await ChildProcess.run(Self.ip, arguments, in: FileManager.default.temporaryDirectory)
            guard result.status == 0 else {
                delete()
                throw FixtureError("ip \(arguments.joined(separator: " ")): \(result.stderr)")
            }
        }
    }

    /// The program and leading arguments that run one of the built executables inside.
    func launcher(for executable: String) -> (program: String, arguments: [String]) {
        (Self.ip, ["netns", "exec", name, Harness.binDirectory.appendingPathComponent(executable).path])
    }

    /// `ip netns delete` (processes still inside keep it alive until they end); synchronous,
    /// so that a test can `defer` it.
    func delete() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.ip)
        process.arguments = ["netns", "delete", name]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return }
        process.waitUntilExit()
    }
}
