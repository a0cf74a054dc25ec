import Logging
import P2MPSystemd
import Testing

@Suite("stderr one-line records")
struct StderrRecordTests {
    static let when = 1_795_291_200  // 2026-11-21T20:00:00Z

    @Test("the documented example")
    func example() {
        let line = StderrRecord.line(
            level: .info, message: "transfer complete",
            metadata: ["p2mp_file": "app.tar", "p2mp_event": "complete"],
            identifier: "p2mpd", secondsSinceEpoch: Self.when)
        #expect(line == "2026-11-21T20:00:00Z info p2mpd: transfer complete [p2mp_event=complete p2mp_file=app.tar]")
    }

    @Test("no metadata, no brackets; no identifier, no prefix")
    func minimal() {
        #expect(
            StderrRecord.line(level: .warning, message: "m", metadata: [:], identifier: "", secondsSinceEpoch: 0)
                == "1970-01-01T00:00:00Z warning m")
    }

    @Test("records stay on one line; awkward values are quoted")
    func escaping() {
        let line = StderrRecord.line(
            level: .error, message: "bad\npacket\t\u{1}",
            metadata: ["a": "two words", "b": "", "c": "q\"\\", "d": "x\ny", "e": "k=v"],
            identifier: "p2mpd", secondsSinceEpoch: Self.when)
        #expect(!line.contains("\n"))
        #expect(
            line == #"2026-11-21T20:00:00Z error p2mpd: bad\npacket\t\u{1} [a="two words" b="" c="q\"\\" d=x\ny e="k=v"]"#)
    }

    @Test("timestamps are UTC")
    func timestamps() {
        #expect(StderrRecord.timestamp(secondsSinceEpoch: 951_782_400) == "2000-02-29T00:00:00Z")
        #expect(StderrRecord.timestamp(secondsSinceEpoch: 4_102_444_799) == "2099-12-31T23:59:59Z")
    }

    @Test("the handler merges its metadata, the provider's and the call's")
    func handlerLine() {
        var handler = StderrLogHandler(
            label: "t", identifier: "p2mpd", metadataProvider: Logger.MetadataProvider { ["p2mp_peer": "10.0.0.2"] })
        handler[metadataKey: "p2mp_transfer_id"] = "t1"
        handler[metadataKey: "p2mp_peer"] = "10.0.0.1"
        let event = LogEvent(
            level: .notice, message: "loss", metadata: ["p2mp_seq": "5"], source: "s", file: "f", function: "g", line: 1)
        #expect(
            handler.line(for: event, secondsSinceEpoch: Self.when)
                == "2026-11-21T20:00:00Z notice p2mpd: loss [p2mp_peer=10.0.0.2 p2mp_seq=5 p2mp_transfer_id=t1]")
    }
}
