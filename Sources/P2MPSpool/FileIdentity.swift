#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What tells one version of a file from another without reading it: its device and inode,
/// size, and modification and status-change times to the nanosecond.
///
/// The status-change time (ctime) cannot be set by users: every write, truncate, rename or
/// attribute change sets it to the current time. So while all fields stay equal, so do the
/// bytes (barring a clock stepped back to the same nanosecond). The spool's sidecars, which
/// outlive renames, compare only the inode, size and modification time.
public struct FileIdentity: Hashable, Sendable {
    public var device: UInt64
    public var inode: UInt64
    public var size: UInt64
    public var modified: Timestamp
    public var changed: Timestamp

    /// A time as the file system keeps it.
    public struct Timestamp: Hashable, Comparable, Sendable {
        public var seconds: Int64
        public var nanoseconds: Int64

        init(seconds: Int64, nanoseconds: Int64) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        init(_ time: timespec) {
            seconds = Int64(time.tv_sec)
            nanoseconds = Int64(time.tv_nsec)
        }

        public static func < (left: Self, right: Self) -> Bool {
            (left.seconds, left.nanoseconds) < (right.seconds, right.nanoseconds)
        }

        /// The wall clock now, in the file system's terms.
        public static func now() -> Self {
            var time = timespec()
            clock_gettime(CLOCK_REALTIME, &time)
            return Self(time)
        }
    }

    init(device: UInt64, inode: UInt64, size: UInt64, modified: Timestamp, changed: Timestamp) {
        self.device = device
        self.inode = inode
        self.size = size
        self.modified = modified
        self.changed = changed
    }

    /// The identity of the open file `descriptor`, nil when it cannot be read.
    public init?(descriptor: Int32) {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        self.init(status)
    }

    init(_ status: stat) {
        device = UInt64(status.st_dev)
        inode = UInt64(status.st_ino)
        size = UInt64(status.st_size)
        #if canImport(Darwin)
        modified = Timestamp(status.st_mtimespec)
        changed = Timestamp(status.st_ctimespec)
        #else
        modified = Timestamp(status.st_mtim)
        changed = Timestamp(status.st_ctim)
        #endif
    }
}
