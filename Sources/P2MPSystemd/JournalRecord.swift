import Logging

/// Turns a swift-log record into the ordered fields of one journal entry, without
/// touching journald (this is the part ``JournalLogHandler`` unit tests cover).
///
/// Order: `MESSAGE`, `PRIORITY`, `MESSAGE_ID` (when known), `SYSLOG_IDENTIFIER` (when not
/// empty), `CODE_FILE`, `CODE_LINE`, `CODE_FUNC`, then one field per metadata entry sorted
/// by field name (then by original key). Metadata keys are converted with
/// ``fieldName(forMetadataKey:)``; two keys that convert to the same name both appear, and
/// journald stores both values.
public enum JournalRecord {
    /// The metadata field whose value selects a `MESSAGE_ID` (keys `p2mp_event` or `P2MP_EVENT`).
    public static let eventFieldName = "P2MP_EVENT"

    /// The fields for a record whose metadata is already merged.
    ///
    /// - Parameters:
    ///   - messageIDs: event name (value of ``eventFieldName``) → `MESSAGE_ID`. Entries that
    ///     are not 32 lowercase hex digits (``isValidMessageID(_:)``) are ignored. If several
    ///     keys convert to ``eventFieldName``, the first in field order decides.
    public static func fields(
        level: Logger.Level,
        message: Logger.Message,
        metadata: Logger.Metadata,
        identifier: String,
        file: String,
        function: String,
        line: UInt,
        messageIDs: [String: String] = [:]
    ) -> [JournalField] {
        let converted = metadata
            .map { (key: $0.key, name: fieldName(forMetadataKey: $0.key), value: $0.value) }
            .sorted { ($0.name, $0.key) < ($1.name, $1.key) }

        var fields = [
            JournalField(name: "MESSAGE", string: message.description),
            JournalField(name: "PRIORITY", string: String(priority(for: level))),
        ]
        if let event = converted.first(where: { $0.name == eventFieldName }),
            let id = messageIDs[LogMetadataMerge.text(of: event.value)], isValidMessageID(id)
        {
            fields.append(JournalField(name: "MESSAGE_ID", string: id))
        }
        if !identifier.isEmpty {
            fields.append(JournalField(name: "SYSLOG_IDENTIFIER", string: identifier))
        }
        fields.append(JournalField(name: "CODE_FILE", string: file))
        fields.append(JournalField(name: "CODE_LINE", string: String(line)))
        fields.append(JournalField(name: "CODE_FUNC", string: function))
        for entry in converted {
            fields.append(JournalField(name: entry.name, string: LogMetadataMerge.text(of: entry.value)))
        }
        return fields
    }

    /// The fields for `event`, merging metadata as ``LogMetadataMerge`` describes.
    public static func fields(
        event: LogEvent,
        handlerMetadata: Logger.Metadata = [:],
        metadataProvider: Logger.MetadataProvider? = nil,
        identifier: String,
        messageIDs: [String: String] = [:]
    ) -> [JournalField] {
        fields(
            level: event.level,
            message: event.message,
            metadata: LogMetadataMerge.merged(
                handler: handlerMetadata,
                provider: metadataProvider,
                explicit: event.metadata,
                error: event.error
            ),
            identifier: identifier,
            file: event.file,
            function: event.function,
            line: event.line,
            messageIDs: messageIDs
        )
    }

    /// The syslog priority (0 emerg … 7 debug) journald stores in `PRIORITY`.
    public static func priority(for level: Logger.Level) -> Int {
        switch level {
        case .critical: 2
        case .error: 3
        case .warning: 4
        case .notice: 5
        case .info: 6
        case .debug, .trace: 7
        }
    }
}
