import Glibc
import Logging

/// What the process inherited from systemd, and the log handler that suits it.
public enum SystemdEnvironment {
    /// Whether stderr is connected to journald: `JOURNAL_STREAM` is set and its
    /// `device:inode` matches `fstat(2)` of file descriptor 2, as systemd.exec(5) asks
    /// (a child whose stderr was redirected elsewhere inherits the variable but is not
    /// under the journal).
    public static var isUnderJournal: Bool {
        isJournalStream(ProcessEnvironment.value("JOURNAL_STREAM"), fileDescriptor: STDERR_FILENO)
    }

    /// Whether `journalStream` (a `JOURNAL_STREAM` value, `"<st_dev>:<st_ino>"` in decimal)
    /// names the file open on `fileDescriptor`.
    public static func isJournalStream(_ journalStream: String?, fileDescriptor: Int32) -> Bool {
        guard let journalStream, let (device, inode) = parseJournalStream(journalStream) else { return false }
        var status = stat()
        guard fstat(fileDescriptor, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }

    /// Splits `"<device>:<inode>"` into its two decimal numbers.
    static func parseJournalStream(_ value: String) -> (device: UInt64, inode: UInt64)? {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return nil }
        return (device, inode)
    }

    /// A ``JournalLogHandler`` when ``isUnderJournal``, otherwise a ``StderrLogHandler``.
    ///
    ///     LoggingSystem.bootstrap { label in
    ///         SystemdEnvironment.makeLogHandler(label: label, identifier: "p2mpd", messageIDs: ids)
    ///     }
    public static func makeLogHandler(
        label: String,
        identifier: String,
        messageIDs: [String: String] = [:],
        metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider
    ) -> any LogHandler {
        if isUnderJournal {
            JournalLogHandler(
                label: label, identifier: identifier, messageIDs: messageIDs, metadataProvider: metadataProvider)
        } else {
            StderrLogHandler(label: label, identifier: identifier, metadataProvider: metadataProvider)
        }
    }
}
