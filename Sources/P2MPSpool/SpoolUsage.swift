#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What the spool holds, for `p2mpsend status`. Directories are read and files stat'ed;
/// none is opened or hashed, but every one is visited: callers run it off the event loop.
extension Spool {
    public struct Usage: Equatable, Sendable {
        /// Committed files, counted as a listing counts them (at most `listingLimit`).
        public var files: Int
        /// Their sizes added up.
        public var bytes: UInt64

        public init(files: Int, bytes: UInt64) {
            self.files = files
            self.bytes = bytes
        }
    }

    public func usage() throws(SpoolError) -> Usage {
        var usage = Usage(files: 0, bytes: 0)
        try addUp(rootDirectory, prefix: "", into: &usage)
        return usage
    }

    private func addUp(_ directory: Directory, prefix: String, into usage: inout Usage) throws(SpoolError) {
        for entry in try directory.entries() where usage.files < Self.listingLimit {
            if prefix.isEmpty, entry == Self.stateDirectoryName { continue }
            guard let name = try? SpoolName(validating: prefix + entry) else { continue }
            var status = stat()
            guard fstatat(directory.descriptor, entry, &status, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch status.st_mode & S_IFMT {
            case S_IFDIR:
                if let child = try directory.subdirectory(entry, create: false) {
                    try addUp(child, prefix: name.rawValue + "/", into: &usage)
                }
            case S_IFREG:
                usage.files += 1
                usage.bytes &+= UInt64(max(0, status.st_size))
            default:
                continue
            }
        }
    }
}
