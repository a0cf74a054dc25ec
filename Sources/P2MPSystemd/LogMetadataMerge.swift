import Logging

/// How both handlers of this module assemble a record's metadata, in swift-log's order
/// (the same as `StreamLogHandler`): the handler's own metadata, then the metadata
/// provider's, then the log call's, each overriding keys of the previous ones; an attached
/// error adds `error.message` and `error.type`.
public enum LogMetadataMerge {
    public static func merged(
        handler: Logger.Metadata,
        provider: Logger.MetadataProvider?,
        explicit: Logger.Metadata?,
        error: (any Error)? = nil
    ) -> Logger.Metadata {
        var metadata = handler
        if let provided = provider?.get(), !provided.isEmpty {
            metadata.merge(provided) { _, provided in provided }
        }
        if let explicit, !explicit.isEmpty {
            metadata.merge(explicit) { _, explicit in explicit }
        }
        if let error {
            metadata["error.message"] = "\(error)"
            metadata["error.type"] = "\(String(reflecting: type(of: error)))"
        }
        return metadata
    }

    /// The text of a metadata value: strings verbatim, everything else as swift-log
    /// describes it (`[a, b]`, `[k: v]`).
    public static func text(of value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): string
        case .stringConvertible(let convertible): convertible.description
        case .array, .dictionary: value.description
        }
    }
}
