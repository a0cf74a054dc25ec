import Dispatch
import Foundation
import Logging

/// Runs the configured `post_receive` command after a file is committed.
///
/// The command runs through `/bin/sh -c` in a process group of its own on a thread of the
/// daemon's `HookQueue`, never on the event loop, so a slow hook never holds back a transfer
/// and a timeout kills everything it started. It gets the file and its metadata in its
/// environment (`P2MP_PATH`, `P2MP_FILE`, `P2MP_BYTES`, `P2MP_SHA256`, `P2MP_PEER`,
/// `P2MP_TRANSFER_ID`), is killed after the timeout, and its exit status and output (up to
/// 4 KiB) are logged as a `hook` event.
package struct PostReceiveHook: Sendable {
    var command: String
    var timeout: Duration

    /// What the hook gets to know about one committed file.
    package struct Invocation: Sendable {
        package var path: String
        package var name: String
        package var bytes: UInt64
        package var sha256: String
        package var peer: String
        package var transferID: String
    }

    static let outputLimit = 4_096

    /// Queues the hook on `queue`; false when the queue is full and the hook will not run.
    func run(_ invocation: Invocation, on queue: HookQueue, logger: Logger) -> Bool {
        let command = command
        let timeout = timeout
        return queue.submit {
            let result = Self.execute(command, invocation: invocation, timeout: timeout)
            var metadata: Logger.Metadata = [
                "p2mp_event": "hook", "p2mp_file": "\(invocation.name)", "p2mp_transfer_id": "\(invocation.transferID)",
            ]
            if !result.output.isEmpty { metadata["p2mp_hook_output"] = "\(result.output)" }
            switch result.outcome {
            case .exited(0):
                logger.info("post-receive hook for \(invocation.name) succeeded", metadata: metadata)
            case .exited(let status):
                logger.warning("post-receive hook for \(invocation.name) exited with status \(status)", metadata: metadata)
            case .timedOut:
                logger.warning("post-receive hook for \(invocation.name) killed after \(timeout)", metadata: metadata)
            case .notStarted(let reason):
                logger.error("post-receive hook for \(invocation.name) could not start: \(reason)", metadata: metadata)
            }
        }
    }

    enum Outcome: Equatable, Sendable {
        case exited(Int32)
        case timedOut
        case notStarted(String)
    }

    /// Runs `command` to completion or timeout; blocks the calling (background) thread.
    static func execute(
        _ command: String, invocation: Invocation, timeout: Duration
    ) -> (outcome: Outcome, output: String) {
        let process = Process()
        // Foundation starts the child as the leader of a process group of its own (a test
        // checks this), so signalling -pid reaches everything the command started.
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        var environment = ProcessInfo.processInfo.environment
        environment["P2MP_PATH"] = invocation.path
        environment["P2MP_FILE"] = invocation.name
        environment["P2MP_BYTES"] = String(invocation.bytes)
        environment["P2MP_SHA256"] = invocation.sha256
        environment["P2MP_PEER"] = invocation.peer
        environment["P2MP_TRANSFER_ID"] = invocation.transferID
        process.environment = environment
        process.currentDirectoryURL = URL(fileURLWithPath: invocation.path).deletingLastPathComponent()
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            return (.notStarted("\(error)"), "")
        }
        // Read while it runs, so a chatty hook cannot block on a full pipe.
        let collected = OutputCollector(limit: outputLimit)
        let reader = DispatchQueue(label: "p2mpd.post-receive.output")
        let drained = DispatchSemaphore(value: 0)
        reader.async {
            while true {
                let chunk = pipe.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                collected.append(chunk)
            }
            drained.signal()
        }
        let deadline = DispatchTime.now() + .nanoseconds(Int(clamping: timeout.nanoseconds))
        var outcome: Outcome
        if finished.wait(timeout: deadline) == .timedOut {
            let group = -process.processIdentifier
            kill(group, SIGTERM)
            if finished.wait(timeout: .now() + .seconds(2)) == .timedOut {
                kill(group, SIGKILL)
                finished.wait()
            }
            kill(group, SIGKILL)  // Whatever the shell left behind.
            outcome = .timedOut
        } else {
            outcome = .exited(process.terminationStatus)
        }
        _ = drained.wait(timeout: .now() + .seconds(2))
        return (outcome, collected.text)
    }
}

/// The first bytes of a hook's output, collected from a reader thread.
private final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let limit: Int

    init(limit: Int) {
        self.limit = limit
    }

    func append(_ chunk: Data) {
        lock.lock()
        defer { lock.unlock() }
        if data.count < limit { data.append(chunk.prefix(limit - data.count)) }
    }

    var text: String {
        lock.lock()
        defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
