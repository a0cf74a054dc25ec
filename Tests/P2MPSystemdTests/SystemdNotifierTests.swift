import Glibc
import Testing

@testable import P2MPSystemd

extension ProcessEnvironmentTests {
    @Suite("sd_notify through a real notification socket")
    struct SystemdNotifierTests {
        @Test("each call sends its exact datagram to a socket path")
        func datagramsToPath() throws {
            let socket = try NotifySocket(abstract: false)
            try withEnvironment(["NOTIFY_SOCKET": socket.address]) {
                let notifier = SystemdNotifier()
                #expect(notifier.isEnabled)

                #expect(notifier.ready() == .sent)
                #expect(socket.receive() == "READY=1")
                #expect(notifier.status("3 active, 1.2 GB received") == .sent)
                #expect(socket.receive() == "STATUS=3 active, 1.2 GB received")
                #expect(notifier.ready(status: "idle") == .sent)
                #expect(socket.receive() == "READY=1\nSTATUS=idle")
                #expect(notifier.stopping() == .sent)
                #expect(socket.receive() == "STOPPING=1")
                #expect(notifier.watchdog() == .sent)
                #expect(socket.receive() == "WATCHDOG=1")

                let before = SystemdNotifier.monotonicMicroseconds()
                #expect(notifier.reloading() == .sent)
                let after = SystemdNotifier.monotonicMicroseconds()
                let reload = try #require(socket.receive())
                let lines = reload.split(separator: "\n", omittingEmptySubsequences: false)
                #expect(lines.count == 2)
                #expect(lines.first == "RELOADING=1")
                let stamp = try #require(lines.last.flatMap { $0.split(separator: "=", maxSplits: 1).last }
                    .flatMap { UInt64($0) })
                #expect(lines.last?.hasPrefix("MONOTONIC_USEC=") == true)
                #expect((before...after).contains(stamp))
            }
        }

        @Test("the abstract namespace (@name) works too")
        func abstractNamespace() throws {
            let socket = try NotifySocket(abstract: true)
            #expect(socket.address.hasPrefix("@"))
            withEnvironment(["NOTIFY_SOCKET": socket.address]) {
                let notifier = SystemdNotifier()
                #expect(notifier.ready() == .sent)
                #expect(socket.receive() == "READY=1")
                #expect(notifier.status("serving") == .sent)
                #expect(socket.receive() == "STATUS=serving")
            }
        }

        @Test("STATUS text cannot inject assignments: newlines and NUL become spaces")
        func statusIsOneLine() throws {
            let socket = try NotifySocket(abstract: false)
            withEnvironment(["NOTIFY_SOCKET": socket.address]) {
                #expect(SystemdNotifier().status("a\nREADY=1\r\nb\0c") == .sent)
                #expect(socket.receive() == "STATUS=a READY=1  b c")
            }
        }

        @Test("without NOTIFY_SOCKET every call is a no-op and nothing is sent")
        func disabledWhenUnset() throws {
            let socket = try NotifySocket(abstract: false)
            withEnvironment(["NOTIFY_SOCKET": nil]) {
                let notifier = SystemdNotifier()
                #expect(!notifier.isEnabled)
                #expect(notifier.ready() == .disabled)
                #expect(notifier.status("x") == .disabled)
                #expect(notifier.reloading() == .disabled)
                #expect(notifier.stopping() == .disabled)
                #expect(notifier.watchdog() == .disabled)
            }
            #expect(socket.receive(waitingMilliseconds: 50) == nil)
        }

        @Test("a vanished socket is reported as a failure, not a crash")
        func missingSocket() {
            withEnvironment(["NOTIFY_SOCKET": "/tmp/p2mp-no-such-socket-\(getpid())"]) {
                let outcome = SystemdNotifier().ready()
                #expect(outcome == .failed(SystemdError(operation: "sd_notify", code: ENOENT)))
            }
        }

        @Test("watchdogInterval is half of WATCHDOG_USEC for this process, nil otherwise")
        func watchdogInterval() {
            let ownPID = String(getpid())
            withEnvironment(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": ownPID]) {
                #expect(SystemdNotifier().watchdogInterval == .seconds(2))
            }
            withEnvironment(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": nil]) {
                #expect(SystemdNotifier().watchdogInterval == .seconds(2))
            }
            withEnvironment(["WATCHDOG_USEC": "4000000", "WATCHDOG_PID": String(getpid() + 1)]) {
                #expect(SystemdNotifier().watchdogInterval == nil)
            }
            withEnvironment(["WATCHDOG_USEC": nil, "WATCHDOG_PID": nil]) {
                #expect(SystemdNotifier().watchdogInterval == nil)
            }
            withEnvironment(["WATCHDOG_USEC": "0", "WATCHDOG_PID": ownPID]) {
                #expect(SystemdNotifier().watchdogInterval == nil)
            }
            withEnvironment(["WATCHDOG_USEC": "soon", "WATCHDOG_PID": ownPID]) {
                #expect(SystemdNotifier().watchdogInterval == nil)
            }
        }
    }
}

@Suite("sd_notify message text")
struct NotifierSanitizingTests {
    @Test("sanitized keeps ordinary text and replaces line breaks and NUL")
    func sanitized() {
        #expect(SystemdNotifier.sanitized("3 active, 12.5 MB/s …") == "3 active, 12.5 MB/s …")
        #expect(SystemdNotifier.sanitized("a\nb\rc\0d") == "a b c d")
    }
}
