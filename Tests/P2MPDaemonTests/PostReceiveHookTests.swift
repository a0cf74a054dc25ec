import Foundation
import Testing

@testable import P2MPDaemon

@Suite("Post-receive hook")
struct PostReceiveHookTests {
    let invocation = PostReceiveHook.Invocation(
        path: "/tmp/app.tar", name: "app.tar", bytes: 42, sha256: "ab", peer: "192.0.2.1:5000",
        transferID: "00000000000000ff")

    @Test("the command sees the file's metadata and its output is collected")
    func environment() {
        let result = PostReceiveHook.execute(
            "echo \"$P2MP_FILE $P2MP_BYTES $P2MP_SHA256 $P2MP_PEER $P2MP_TRANSFER_ID $P2MP_PATH\"", invocation: invocation,
            timeout: .seconds(5))
        #expect(result.outcome == .exited(0))
        #expect(result.output == "app.tar 42 ab 192.0.2.1:5000 00000000000000ff /tmp/app.tar")
    }

    @Test("a failing command reports its status")
    func failure() {
        #expect(PostReceiveHook.execute("exit 3", invocation: invocation, timeout: .seconds(5)).outcome == .exited(3))
    }

    @Test("the command leads a process group of its own, so a timeout can signal all of it")
    func processGroup() {
        let result = PostReceiveHook.execute("ps -o pgid= -p $$; echo $$", invocation: invocation, timeout: .seconds(5))
        let lines = result.output.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(lines.count == 2 && lines[0] == lines[1], "\(lines)")
    }

    @Test("a command past its timeout is killed with everything it started")
    func timeout() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("p2mp-hook-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let group = directory.appendingPathComponent("group")
        // The command records its process group, starts a child that outlives it, and would
        // print "late" only after 30 s: a hook that waited for it would show that line.
        let result = PostReceiveHook.execute(
            "echo $$ > \(group.path); sleep 30 & sleep 30; echo late", invocation: invocation, timeout: .milliseconds(300))
        #expect(result.outcome == .timedOut)
        #expect(!result.output.contains("late"))
        let text = try String(contentsOf: group, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let leader = try #require(pid_t(text), "the hook did not record its process group: '\(text)'")
        // Nothing of the group is left alive: neither the shell nor the background sleep
        // (SIGKILL is delivered asynchronously, so this polls, for at most 10 s).
        var survivors = Self.liveMembers(ofGroup: leader)
        for _ in 0..<1_000 where !survivors.isEmpty {
            usleep(10_000)
            survivors = Self.liveMembers(ofGroup: leader)
        }
        #expect(survivors.isEmpty, "processes \(survivors) of the hook's group \(leader) survived")
    }

    @Test("hooks run on their own threads, at most so many at once; beyond the waiting room they are not run")
    func boundedQueue() {
        let queue = HookQueue(running: 2, waiting: 3)
        let release = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        let finished = DispatchGroup()
        let running = Concurrency()
        var admitted = 0
        for _ in 0..<8 {
            finished.enter()
            let accepted = queue.submit {
                running.enter()
                started.signal()
                release.wait()
                running.leave()
                finished.leave()
            }
            if accepted { admitted += 1 } else { finished.leave() }
        }
        #expect(admitted == 5 && queue.backlog == 5)
        started.wait()
        started.wait()  // Two are running; the other three wait for a thread.
        for _ in 0..<5 { release.signal() }
        finished.wait()
        #expect(running.most == 2 && queue.backlog == 0)
        #expect(queue.submit {}, "a drained queue takes hooks again")
    }

    /// Processes of process group `group` that are not zombies, from /proc/PID/stat.
    static func liveMembers(ofGroup group: pid_t) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> pid_t? in
            guard let pid = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After "pid (comm) ": state, ppid, pgrp.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, fields[0] != "Z", pid_t(fields[2]) == group else { return nil }
            return pid
        }
    }
}

/// How many hooks run at once, and the most that ever did.
private final class Concurrency: @unchecked Sendable {
    private let lock = NSLock()
    private var now = 0
    private var highest = 0

    func enter() {
        lock.withLock {
            now += 1
            highest = max(highest, now)
        }
    }

    func leave() { lock.withLock { now -= 1 } }

    var most: Int { lock.withLock { highest } }
}
