/// One page of a daemon's status report (REPORT), the answer to STATUS: the daemon's
/// summary (in every page) and its transfers `cursor ..< cursor + transfers.count` of
/// `total`, the running ones first, then the most recent that ended, newest first.
public struct NativeStatusReport: Equatable, Sendable {
    /// The daemon as a whole, when the report was taken.
    public struct Summary: Equatable, Sendable {
        /// `p2mpd --version`; at most 255 UTF-8 bytes go on the wire.
        public var version: String
        public var uptimeSeconds: UInt64
        /// The daemon's clock, seconds since 1970, so that a client can show the transfers'
        /// times relative to it whatever its own clock says.
        public var time: UInt64
        /// Bytes of the committed files.
        public var spoolUsedBytes: UInt64
        /// Bytes the daemon may still write on the spool's file system.
        public var spoolFreeBytes: UInt64
        public var spoolFiles: UInt32
        /// Partial files held for a resume or being received.
        public var partials: UInt32
        /// Totals since the daemon started, as the journal's events count them.
        public var completed: UInt64
        public var failed: UInt64
        public var bytesReceived: UInt64

        public init(
            version: String, uptimeSeconds: UInt64, time: UInt64, spoolUsedBytes: UInt64, spoolFreeBytes: UInt64,
            spoolFiles: UInt32, partials: UInt32, completed: UInt64, failed: UInt64, bytesReceived: UInt64
        ) {
            self.version = version
            self.uptimeSeconds = uptimeSeconds
            self.time = time
            self.spoolUsedBytes = spoolUsedBytes
            self.spoolFreeBytes = spoolFreeBytes
            self.spoolFiles = spoolFiles
            self.partials = partials
            self.completed = completed
            self.failed = failed
            self.bytesReceived = bytesReceived
        }
    }

    /// A push the daemon is receiving, or one that ended recently.
    public struct Transfer: Equatable, Sendable {
        public enum State: UInt8, Sendable, CaseIterable {
            case active = 0
            case completed = 1
            case failed = 2
        }

        public var state: State
        /// The name in the spool.
        public var name: String
        /// Who pushed it: address, and the key when authenticated; at most 255 UTF-8 bytes go
        /// on the wire.
        public var sender: String
        public var size: UInt64
        /// Bytes held: for a running transfer, what it holds so far (a resumed prefix
        /// included); for an ended one, what it received.
        public var bytes: UInt64
        /// Bytes received per second since the transfer started.
        public var rate: UInt64
        /// Seconds since 1970: when a running transfer started, when an ended one ended.
        public var time: UInt64
        /// Why a failed transfer failed; at most 1024 UTF-8 bytes go on the wire.
        public var text: String

        public init(
            state: State, name: String, sender: String, size: UInt64, bytes: UInt64, rate: UInt64, time: UInt64,
            text: String = ""
        ) {
            self.state = state
            self.name = name
            self.sender = sender
            self.size = size
            self.bytes = bytes
            self.rate = rate
            self.time = time
            self.text = text
        }

        /// Bytes this entry takes in a REPORT body, at most.
        public var encodedSize: Int { 1 + 8 * 4 + 2 + name.utf8.count + 1 + min(255, sender.utf8.count) + 2 + min(1024, text.utf8.count) }
    }

    public var summary: Summary
    public var total: UInt32
    public var cursor: UInt32
    public var transfers: [Transfer]

    public init(summary: Summary, total: UInt32, cursor: UInt32, transfers: [Transfer]) {
        self.summary = summary
        self.total = total
        self.cursor = cursor
        self.transfers = transfers
    }

    /// Body bytes a daemon may fill with transfers, so the datagram stays under 60,000
    /// bytes whatever the summary holds.
    public static let transferBudget = 59_000
}
