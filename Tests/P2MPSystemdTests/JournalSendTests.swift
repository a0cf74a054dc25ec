import Foundation
import Glibc
import Logging
import P2MPSystemd
import Testing

@Suite("sd_journal_sendv")
struct JournalSendTests {
    static let journalSocket = "/run/systemd/journal/socket"

    /// Where journald listens. Absent on this host outside the systemd namespace harness,
    /// where libsystemd drops entries silently (it returns 0 for ENOENT), so nothing can be
    /// checked end to end; scripts/systemd-test.sh runs this test again inside its instance.
    static var journaldReachable: Bool {
        access(journalSocket, F_OK) == 0
    }

    @Test(
        "an entry with multi-line and NUL values reaches journald byte for byte",
        .enabled(
            if: journaldReachable,
            "no journald here (\(journalSocket) is absent); scripts/systemd-test.sh runs this test inside its systemd instance"))
    func roundTrip() throws {
        let testID = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let blob: [UInt8] = Array("x\0y\nz".utf8)
        let fields = JournalRecord.fields(
            event: LogEvent(
                level: .notice, message: "p2mp journal test\nsecond line",
                metadata: ["p2mp_event": "selftest", "p2mp_test_id": .string(testID), "p2mp_blob": "x\0y\nz"],
                source: "P2MPSystemdTests", file: #fileID, function: #function, line: #line),
            identifier: "p2mp-tests",
            messageIDs: ["selftest": "0123456789abcdef0123456789abcdef"])
        try JournalLogHandler.send(fields)

        guard let entry = try Self.readBack(field: "P2MP_TEST_ID", value: testID) else {
            Issue.record("the entry P2MP_TEST_ID=\(testID) did not show up in journalctl")
            return
        }
        #expect(entry["MESSAGE"] == Array("p2mp journal test\nsecond line".utf8))
        #expect(entry["P2MP_BLOB"] == blob)
        #expect(entry["PRIORITY"] == Array("5".utf8))
        #expect(entry["SYSLOG_IDENTIFIER"] == Array("p2mp-tests".utf8))
        #expect(entry["MESSAGE_ID"] == Array("0123456789abcdef0123456789abcdef".utf8))
        #expect(entry["P2MP_EVENT"] == Array("selftest".utf8))
        #expect(entry["CODE_FUNC"] == Array("roundTrip()".utf8))
    }

    /// The entry with `field=value`, via `journalctl -o json --all` (binary values come back
    /// as arrays of bytes), retried for up to 5 s while journald writes it.
    static func readBack(field: String, value: String) throws -> [String: [UInt8]]? {
        for _ in 0..<50 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/journalctl")
            process.arguments = ["-q", "--no-pager", "-o", "json", "--all", "\(field)=\(value)"]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            if let line = data.split(separator: UInt8(ascii: "\n")).first,
                let object = try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any]
            {
                return object.compactMapValues { value -> [UInt8]? in
                    if let string = value as? String { return Array(string.utf8) }
                    if let bytes = value as? [Int] { return bytes.map { UInt8(truncatingIfNeeded: $0) } }
                    return nil
                }
            }
            usleep(100_000)
        }
        return nil
    }

    @Test("an empty entry or an empty field name is rejected before libsystemd")
    func invalidInput() {
        #expect(throws: SystemdError(operation: "sd_journal_sendv", code: EINVAL)) {
            try JournalLogHandler.send([])
        }
        #expect(throws: SystemdError(operation: "sd_journal_sendv", code: EINVAL)) {
            try JournalLogHandler.send([JournalField(name: "", string: "x")])
        }
    }

    @Test("the handler keeps metadata and level as values")
    func handlerAsValue() {
        var handler = JournalLogHandler(label: "test", identifier: "p2mp-tests", metadataProvider: nil)
        handler[metadataKey: "p2mp_transfer_id"] = "t9"
        var copy = handler
        copy[metadataKey: "p2mp_transfer_id"] = "t10"
        #expect(handler[metadataKey: "p2mp_transfer_id"] == "t9")
        #expect(copy.metadata["p2mp_transfer_id"] == "t10")
        handler.logLevel = .debug
        #expect(copy.logLevel == .info)
    }
}
