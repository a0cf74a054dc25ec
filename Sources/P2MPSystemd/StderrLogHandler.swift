import Logging

/// A swift-log handler that writes readable one-line records to stderr (format:
/// ``StderrRecord``), for runs outside systemd: a terminal, a test, a container.
public struct StderrLogHandler: LogHandler {
    /// The logger's label (as given to `LoggingSystem.bootstrap`'s factory).
    public let label: String
    /// The program name printed before the message, e.g. `"p2mpd"`; omitted when empty.
    public var identifier: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?

    public init(
        label: String,
        identifier: String,
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) {
        self.label = label
        self.identifier = identifier
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        StandardError.write(line(for: event))
    }

    /// The line `log(event:)` writes for `event` (metadata merged as ``LogMetadataMerge``
    /// describes).
    public func line(for event: LogEvent, secondsSinceEpoch: Int? = nil) -> String {
        let merged = LogMetadataMerge.merged(
            handler: metadata, provider: metadataProvider, explicit: event.metadata, error: event.error)
        if let secondsSinceEpoch {
            return StderrRecord.line(
                level: event.level, message: event.message, metadata: merged, identifier: identifier,
                secondsSinceEpoch: secondsSinceEpoch)
        }
        return StderrRecord.line(level: event.level, message: event.message, metadata: merged, identifier: identifier)
    }
}
