import Glibc
import Logging
import Testing

@testable import P2MPSystemd

extension ProcessEnvironmentTests {
    @Suite("JOURNAL_STREAM and the handler factory")
    struct SystemdEnvironmentProcessTests {
        @Test("without JOURNAL_STREAM the factory picks the stderr handler")
        func unset() {
            withEnvironment(["JOURNAL_STREAM": nil]) {
                #expect(!SystemdEnvironment.isUnderJournal)
                #expect(SystemdEnvironment.makeLogHandler(label: "t", identifier: "p2mpd") is StderrLogHandler)
            }
        }

        @Test("JOURNAL_STREAM naming our stderr picks the journald handler")
        func matchingStderr() throws {
            var status = stat()
            try #require(fstat(STDERR_FILENO, &status) == 0)
            withEnvironment(["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"]) {
                #expect(SystemdEnvironment.isUnderJournal)
                let handler = SystemdEnvironment.makeLogHandler(
                    label: "t", identifier: "p2mpd", messageIDs: ["loss": String(repeating: "a", count: 32)])
                let journal = handler as? JournalLogHandler
                #expect(journal?.identifier == "p2mpd")
                #expect(journal?.messageIDs["loss"]?.count == 32)
            }
        }

        @Test("JOURNAL_STREAM inherited but stderr redirected elsewhere: not under the journal")
        func staleVariable() {
            withEnvironment(["JOURNAL_STREAM": "1:1"]) {
                #expect(!SystemdEnvironment.isUnderJournal)
            }
        }
    }
}

@Suite("JOURNAL_STREAM matching")
struct JournalStreamTests {
    @Test("device:inode is compared with fstat of the descriptor")
    func matchesFstat() throws {
        var template = Array("/tmp/p2mp-journal-stream-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        try #require(fd >= 0)
        defer {
            close(fd)
            template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        }
        var status = stat()
        try #require(fstat(fd, &status) == 0)
        #expect(SystemdEnvironment.isJournalStream("\(status.st_dev):\(status.st_ino)", fileDescriptor: fd))
        #expect(!SystemdEnvironment.isJournalStream("\(status.st_dev):\(status.st_ino + 1)", fileDescriptor: fd))
        #expect(!SystemdEnvironment.isJournalStream(nil, fileDescriptor: fd))
        #expect(!SystemdEnvironment.isJournalStream("\(status.st_dev):\(status.st_ino)", fileDescriptor: -1))
    }

    @Test("malformed values never match")
    func malformed() {
        for value in ["", ":", "1", "1:", ":1", "1:2:3", "a:b", "-1:2", " 1:2"] {
            #expect(SystemdEnvironment.parseJournalStream(value) == nil, "\(value)")
        }
        #expect(SystemdEnvironment.parseJournalStream("64769:1234")! == (64769, 1234))
    }
}
