import P2MPSystemd
import Testing

@Suite("journald field names from metadata keys")
struct JournalFieldNameTests {
    @Test(
        "keys are uppercased, other characters become _, bad starts and reserved names get P2MP_",
        arguments: [
            ("p2mp_event", "P2MP_EVENT"),
            ("P2MP_EVENT", "P2MP_EVENT"),
            ("p2mp_transfer_id", "P2MP_TRANSFER_ID"),
            ("error.message", "ERROR_MESSAGE"),
            ("peer-addr", "PEER_ADDR"),
            ("a b", "A_B"),
            ("größe", "GR__E"),
            ("_pid", "P2MP__PID"),
            ("__x", "P2MP___X"),
            ("2nd", "P2MP_2ND"),
            ("", "P2MP_"),
            (".", "P2MP__"),
            ("message", "P2MP_MESSAGE"),
            ("PRIORITY", "P2MP_PRIORITY"),
            ("message_id", "P2MP_MESSAGE_ID"),
            ("syslog_identifier", "P2MP_SYSLOG_IDENTIFIER"),
            ("code_line", "P2MP_CODE_LINE"),
            ("errno", "ERRNO"),
        ]
    )
    func conversion(key: String, expected: String) {
        #expect(JournalRecord.fieldName(forMetadataKey: key) == expected)
    }

    @Test("every converted name is one journald accepts")
    func alwaysValid() {
        for key in ["x", "_", "9", "ö", "a.b.c", String(repeating: "k", count: 100), "message", "\n", "\0"] {
            let name = JournalRecord.fieldName(forMetadataKey: key)
            #expect(!name.isEmpty && name.count <= 64, "\(key)")
            #expect(name.utf8.allSatisfy { ($0 >= 65 && $0 <= 90) || ($0 >= 48 && $0 <= 57) || $0 == 95 }, "\(key)")
            #expect(name.first != "_" && !(name.first?.isNumber ?? true), "\(key)")
            #expect(!JournalRecord.reservedFieldNames.contains(name), "\(key)")
        }
    }

    @Test("names are cut to 64 characters")
    func truncated() {
        let name = JournalRecord.fieldName(forMetadataKey: String(repeating: "k", count: 100))
        #expect(name == String(repeating: "K", count: 64))
    }

    @Test("MESSAGE_ID must be 32 lowercase hex digits")
    func messageIDValidity() {
        #expect(JournalRecord.isValidMessageID("0123456789abcdef0123456789abcdef"))
        #expect(!JournalRecord.isValidMessageID("0123456789ABCDEF0123456789ABCDEF"))
        #expect(!JournalRecord.isValidMessageID("0123456789abcdef0123456789abcde"))
        #expect(!JournalRecord.isValidMessageID("01234567-89ab-cdef-0123-456789abcdef"))
        #expect(!JournalRecord.isValidMessageID("0123456789abcdef0123456789abcdeg"))
    }
}
