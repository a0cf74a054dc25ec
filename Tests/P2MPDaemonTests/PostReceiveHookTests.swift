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
    func timeout() {
        let started = Date()
        let result = PostReceiveHook.execute("sleep 30 & sleep 30; echo late", invocation: invocation, timeout: .milliseconds(300))
        #expect(result.outcome == .timedOut)
        #expect(Date().timeIntervalSince(started) < 5)
        #expect(!result.output.contains("late"))
    }
}
