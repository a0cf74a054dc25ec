import Logging
import P2MPSystemd
import Testing

@Suite("journal entry fields from a log record")
struct JournalRecordTests {
    static let lossID = "4d2a1c7e9b0f4a6e8c3d5b7a9e1f2c40"

    func event(
        _ level: Logger.Level = .info,
        _ message: Logger.Message = "transfer complete",
        metadata: Logger.Metadata? = nil,
        error: (any Error)? = nil
    ) -> LogEvent {
        LogEvent(
            level: level, message: message, error: error, metadata: metadata, source: "P2MPDaemon",
            file: "P2MPDaemon/Receiver.swift", function: "finish(_:)", line: 42)
    }

    func value(_ name: String, in fields: [JournalField]) -> String? {
        fields.first { $0.name == name }.map { String(decoding: $0.value, as: UTF8.self) }
    }

    @Test("fixed fields first, in order, then metadata sorted by field name")
    func layout() {
        let fields = JournalRecord.fields(
            event: event(metadata: ["p2mp_file": "app.tar", "p2mp_event": "complete", "bytes": "10"]),
            identifier: "p2mpd")
        #expect(fields.map(\.description) == [
            "MESSAGE=transfer complete",
            "PRIORITY=6",
            "SYSLOG_IDENTIFIER=p2mpd",
            "CODE_FILE=P2MPDaemon/Receiver.swift",
            "CODE_LINE=42",
            "CODE_FUNC=finish(_:)",
            "BYTES=10",
            "P2MP_EVENT=complete",
            "P2MP_FILE=app.tar",
        ])
    }

    @Test(
        "swift-log levels map to syslog priorities",
        arguments: [
            (Logger.Level.critical, 2), (.error, 3), (.warning, 4), (.notice, 5), (.info, 6), (.debug, 7), (.trace, 7),
        ]
    )
    func priorities(level: Logger.Level, priority: Int) {
        #expect(JournalRecord.priority(for: level) == priority)
        #expect(value("PRIORITY", in: JournalRecord.fields(event: event(level), identifier: "x")) == String(priority))
    }

    @Test("an empty identifier leaves SYSLOG_IDENTIFIER out")
    func noIdentifier() {
        let fields = JournalRecord.fields(event: event(), identifier: "")
        #expect(!fields.contains { $0.name == "SYSLOG_IDENTIFIER" })
    }

    @Test("handler metadata < provider metadata < call metadata")
    func merging() {
        let provider = Logger.MetadataProvider { ["p2mp_peer": "10.0.0.9", "p2mp_seq": "7"] }
        let fields = JournalRecord.fields(
            event: event(metadata: ["p2mp_seq": "8", "p2mp_bytes": "1400"]),
            handlerMetadata: ["p2mp_transfer_id": "t1", "p2mp_peer": "10.0.0.1", "p2mp_seq": "1"],
            metadataProvider: provider,
            identifier: "p2mpd")
        #expect(value("P2MP_TRANSFER_ID", in: fields) == "t1")
        #expect(value("P2MP_PEER", in: fields) == "10.0.0.9")
        #expect(value("P2MP_SEQ", in: fields) == "8")
        #expect(value("P2MP_BYTES", in: fields) == "1400")
        #expect(fields.filter { $0.name == "P2MP_SEQ" }.count == 1)
    }

    @Test("an attached error adds ERROR_MESSAGE and ERROR_TYPE")
    func errorFields() {
        struct Boom: Error, CustomStringConvertible { var description: String { "disk full" } }
        let fields = JournalRecord.fields(event: event(.error, "commit failed", error: Boom()), identifier: "p2mpd")
        #expect(value("ERROR_MESSAGE", in: fields) == "disk full")
        #expect(value("ERROR_TYPE", in: fields)?.hasSuffix("Boom") == true)
    }

    @Test("MESSAGE_ID comes from the p2mp_event value through the table")
    func messageID() {
        let ids = ["loss": Self.lossID, "bogus": "not-an-id"]
        let loss = JournalRecord.fields(event: event(metadata: ["p2mp_event": "loss"]), identifier: "p", messageIDs: ids)
        #expect(value("MESSAGE_ID", in: loss) == Self.lossID)
        #expect(loss.map(\.name).prefix(3) == ["MESSAGE", "PRIORITY", "MESSAGE_ID"])

        let upper = JournalRecord.fields(event: event(metadata: ["P2MP_EVENT": "loss"]), identifier: "p", messageIDs: ids)
        #expect(value("MESSAGE_ID", in: upper) == Self.lossID)

        for metadata: Logger.Metadata in [["p2mp_event": "complete"], ["p2mp_event": "bogus"], ["other": "loss"], [:]] {
            let fields = JournalRecord.fields(event: event(metadata: metadata), identifier: "p", messageIDs: ids)
            #expect(value("MESSAGE_ID", in: fields) == nil, "\(metadata)")
        }
    }

    @Test("metadata cannot override the handler's own fields")
    func reservedNames() {
        let fields = JournalRecord.fields(
            event: event(metadata: ["message": "spoof", "priority": "0", "MESSAGE_ID": .string(Self.lossID)]), identifier: "p")
        #expect(fields.filter { $0.name == "MESSAGE" }.count == 1)
        #expect(value("MESSAGE", in: fields) == "transfer complete")
        #expect(value("PRIORITY", in: fields) == "6")
        #expect(value("MESSAGE_ID", in: fields) == nil)
        #expect(value("P2MP_MESSAGE", in: fields) == "spoof")
        #expect(value("P2MP_PRIORITY", in: fields) == "0")
        #expect(value("P2MP_MESSAGE_ID", in: fields) == Self.lossID)
    }

    @Test("keys that convert to the same name are both kept, in a fixed order")
    func collisions() {
        let fields = JournalRecord.fields(
            event: event(metadata: ["p2mp_event": "a", "P2MP_EVENT": "b", "p2mp.event": "c"]), identifier: "p")
        #expect(fields.filter { $0.name == "P2MP_EVENT" }.map(\.value) == [Array("b".utf8), Array("c".utf8), Array("a".utf8)])
    }

    @Test("multi-line and NUL-containing values are kept byte for byte")
    func binaryValues() {
        let message: Logger.Message = "line one\nline two\n"
        let blob = "a\0b\nc\r\n\u{1}é"
        let fields = JournalRecord.fields(event: event(.info, message, metadata: ["p2mp_blob": .string(blob)]), identifier: "p")
        let messageField = fields.first { $0.name == "MESSAGE" }
        #expect(messageField?.value == Array("line one\nline two\n".utf8))
        let blobField = fields.first { $0.name == "P2MP_BLOB" }
        #expect(blobField?.value == [0x61, 0x00, 0x62, 0x0a, 0x63, 0x0d, 0x0a, 0x01, 0xc3, 0xa9])
        #expect(blobField?.encoded == Array("P2MP_BLOB=".utf8) + [0x61, 0x00, 0x62, 0x0a, 0x63, 0x0d, 0x0a, 0x01, 0xc3, 0xa9])
    }

    @Test("non-string metadata values use swift-log's description")
    func valueKinds() {
        let fields = JournalRecord.fields(
            event: event(metadata: [
                "p2mp_bytes": .stringConvertible(1_048_576),
                "p2mp_peers": .array(["a", "b"]),
            ]),
            identifier: "p")
        #expect(value("P2MP_BYTES", in: fields) == "1048576")
        #expect(value("P2MP_PEERS", in: fields) == Logger.MetadataValue.array(["a", "b"]).description)
    }
}
