#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Paths typed on a command line: relative ones mean "from the working directory", as in
/// every command-line tool. Resolving them at once keeps their meaning when a daemon later
/// re-reads them (p2mpd re-reads `--config` on SIGHUP).
public enum CommandLinePath {
    /// `path` itself when absolute or empty (for the caller to refuse), else the working
    /// directory joined with it (`.` components and repeated or trailing slashes dropped; no
    /// symbolic link is followed, `..` is kept for the system to resolve). `flag` names the
    /// value in errors: `--spool`.
    public static func absolute(_ path: String, flag: String) throws -> String {
        if path.isEmpty || path.hasPrefix("/") { return path }
        guard let directory = workingDirectory() else {
            throw UsageError(
                "\(flag) '\(path)' is relative and the working directory is unknown (\(String(cString: strerror(errno)))); "
                    + "give an absolute path")
        }
        return join(directory, path)
    }

    /// `relative` appended to the absolute `directory`.
    private static func join(_ directory: String, _ relative: String) -> String {
        let parts = relative.split(separator: "/").filter { $0 != "." }
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return parts.isEmpty ? (base.isEmpty ? "/" : base) : base + "/" + parts.joined(separator: "/")
    }

    private static func workingDirectory() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        return buffer.withUnsafeMutableBufferPointer { bytes in
            getcwd(bytes.baseAddress, bytes.count).map { String(cString: $0) }
        }
    }
}
