import CSystemd
import Glibc
import Logging

/// A swift-log handler that writes each record to journald with `sd_journal_sendv(3)`,
/// as structured fields (see ``JournalRecord``), so that `journalctl -u p2mpd
/// P2MP_EVENT=loss` finds them.
///
/// Values go out byte for byte (newlines and NUL included). When the send fails, the
/// record is written to stderr in ``StderrRecord``'s format instead. Note that libsystemd
/// itself reports success and drops the entry when journald's socket does not exist
/// (ENOENT), so pick this handler only under journald (``SystemdEnvironment/isUnderJournal``).
public struct JournalLogHandler: LogHandler {
    /// The logger's label (as given to `LoggingSystem.bootstrap`'s factory).
    public let label: String
    /// `SYSLOG_IDENTIFIER`, e.g. `"p2mpd"`; omitted when empty (journald then uses `_COMM`).
    public var identifier: String
    /// Event name (value of `p2mp_event` metadata) → `MESSAGE_ID` (32 lowercase hex digits).
    public var messageIDs: [String: String]
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(
        label: String,
        identifier: String,
        messageIDs: [String: String] = [:],
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.messageIDs = messageIDs
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = JournalRecord.fields(
            event: event,
            handlerMetadata: metadata,
            metadataProvider: metadataProvider,
            identifier: identifier,
            messageIDs: messageIDs
        )
        do {
            try Self.send(fields)
        } catch {
            let merged = LogMetadataMerge.merged(
                handler: metadata, provider: metadataProvider, explicit: event.metadata, error: event.error)
            StandardError.write(
                StderrRecord.line(level: event.level, message: event.message, metadata: merged, identifier: identifier))
        }
    }

    /// Sends one journal entry made of `fields` with `sd_journal_sendv`.
    ///
    /// Each field becomes one iovec over the raw bytes `NAME=value` (no C strings
    /// involved). Throws when there are no fields, a field name is empty, or the send fails
    /// (libsystemd returns success without sending when `/run/systemd/journal/socket` is
    /// missing).
    public static func send(_ fields: [JournalField]) throws(SystemdError) {
        guard !fields.isEmpty, fields.allSatisfy({ !$0.name.isEmpty }) else {
            throw SystemdError(operation: "sd_journal_sendv", code: EINVAL)
        }
        var buffer: [UInt8] = []
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = buffer.count
            buffer.append(contentsOf: field.encoded)
            ranges.append(start..<buffer.count)
        }
        let result = buffer.withUnsafeBytes { bytes -> Int32 in
            let base = UnsafeMutableRawPointer(mutating: bytes.baseAddress!)
            let vectors = ranges.map { iovec(iov_base: base + $0.lowerBound, iov_len: $0.count) }
            return vectors.withUnsafeBufferPointer { sd_journal_sendv($0.baseAddress, Int32($0.count)) }
        }
        if result < 0 { throw SystemdError(operation: "sd_journal_sendv", returned: result) }
    }
}
