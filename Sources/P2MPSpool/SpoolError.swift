#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a spool operation failed, with the path concerned.
public enum SpoolError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The final name is taken and the commit was not asked to replace it.
    case exists(path: String)
    /// Resolving the name met a symbolic link: following it could leave the spool.
    case outsideSpool(path: String)
    /// The file system (or the quota) is full: ENOSPC or EDQUOT.
    case noSpace(path: String)
    /// Any other failed system call.
    case io(FileSystemError)
    /// The file IS committed under its final name; only its metadata sidecar could not be
    /// written, so `Spool.existing` will hash the file instead of reading the sidecar.
    case metadataNotWritten(FileSystemError)

    /// `error` as `.noSpace` for ENOSPC and EDQUOT, `.io` otherwise.
    public init(_ error: FileSystemError) {
        if error.code == ENOSPC || error.code == EDQUOT {
            self = .noSpace(path: error.path)
        } else {
            self = .io(error)
        }
    }

    /// A failed system call named by `operation`, from the current `errno`.
    public init(_ operation: String, path: String, code: Int32 = errno) {
        self.init(FileSystemError(operation, path: path, code: code))
    }

    public var description: String {
        switch self {
        case .exists(let path): "'\(path)' already exists and replacing it was not requested"
        case .outsideSpool(let path): "'\(path)': name resolves outside the spool (symbolic link)"
        case .noSpace(let path): "no space left on the file system for '\(path)'"
        case .io(let error): error.description
        case .metadataNotWritten(let error): "file committed, but its metadata was not written: \(error)"
        }
    }
}

/// The name the daemon's design notes use for commit failures: the same cases.
public typealias SpoolCommitError = SpoolError
