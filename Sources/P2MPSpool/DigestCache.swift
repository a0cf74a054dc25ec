#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where `p2mpsend` remembers the SHA-256 of files it hashed, so that pushing an unchanged
/// file again (to the next group of hosts, or after a failure) does not read it all first.
///
/// One text file, `p2mp-digest-cache 1` then one line per file, newest last:
/// `DEVICE INODE SIZE MTIME_S.MTIME_NS CTIME_S.CTIME_NS SHA256HEX`, at most `capacity`
/// lines. An entry is used only when every field of `FileIdentity` matches. It is written
/// only for a file whose times are `settleSeconds` older than the start of hashing: a file
/// changed within the same clock tick as an earlier change keeps its times, and would
/// otherwise keep a digest of bytes it no longer holds.
///
/// A wrong digest could not commit wrong bytes (every receiver verifies what it got); it
/// could only make a receiver that holds the stale content answer "already held". The rules
/// above are what keep that from happening. Errors are ignored: the cache only saves time.
public struct DigestCache: Sendable {
    public let path: String

    static let header = "p2mp-digest-cache 1"
    /// Files remembered, at most.
    public static let capacity = 256
    /// How much older than the start of hashing a file's times must be to be remembered.
    public static let settleSeconds: Int64 = 2
    /// A cache file larger than this is not read (it was not written by p2mpsend).
    static let largestFile = 64 << 10

    public init(path: String) {
        self.path = path
    }

    /// The user's cache: `$XDG_CACHE_HOME/p2mp/sha256`, else `$HOME/.cache/p2mp/sha256`; nil
    /// without either (a service with no home).
    public static func forUser(environment: (String) -> String? = Self.processEnvironment) -> DigestCache? {
        if let base = environment("XDG_CACHE_HOME"), base.hasPrefix("/") {
            return DigestCache(path: base + "/p2mp/sha256")
        }
        if let home = environment("HOME"), home.hasPrefix("/") {
            return DigestCache(path: home + "/.cache/p2mp/sha256")
        }
        return nil
    }

    /// A variable of this process's environment.
    public static func processEnvironment(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// The remembered SHA-256 of the file with exactly `identity`.
    public func digest(for identity: FileIdentity) -> [UInt8]? {
        entries().last { $0.identity == identity }?.digest
    }

    /// Remembers `digest` for `identity`, if the file had settled when hashing started.
    public func remember(_ digest: [UInt8], for identity: FileIdentity, hashingStarted: FileIdentity.Timestamp) {
        var settled = hashingStarted
        settled.seconds -= Self.settleSeconds
        guard digest.count == 32, identity.modified < settled, identity.changed < settled else { return }
        var kept = entries().filter { $0.identity.device != identity.device || $0.identity.inode != identity.inode }
        kept.append(Entry(identity: identity, digest: digest))
        let lines = [Self.header] + kept.suffix(Self.capacity).map(\.line)
        write(lines.joined(separator: "\n") + "\n")
    }

    // MARK: - The file

    struct Entry {
        var identity: FileIdentity
        var digest: [UInt8]

        var line: String {
            let time = { (time: FileIdentity.Timestamp) in "\(time.seconds).\(time.nanoseconds)" }
            return "\(identity.device) \(identity.inode) \(identity.size) \(time(identity.modified)) "
                + "\(time(identity.changed)) \(Hex.encode(digest))"
        }

        init(identity: FileIdentity, digest: [UInt8]) {
            self.identity = identity
            self.digest = digest
        }

        /// Parses one line; nil for anything malformed.
        init?(line: Substring) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            guard fields.count == 6, let device = UInt64(fields[0]), let inode = UInt64(fields[1]),
                let size = UInt64(fields[2]), let modified = Self.timestamp(fields[3]),
                let changed = Self.timestamp(fields[4]), let digest = Hex.decode(String(fields[5])), digest.count == 32
            else { return nil }
            identity = FileIdentity(device: device, inode: inode, size: size, modified: modified, changed: changed)
            self.digest = digest
        }

        private static func timestamp(_ text: Substring) -> FileIdentity.Timestamp? {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 2, let seconds = Int64(parts[0]), let nanoseconds = Int64(parts[1]),
                (0..<1_000_000_000).contains(nanoseconds)
            else { return nil }
            return FileIdentity.Timestamp(seconds: seconds, nanoseconds: nanoseconds)
        }
    }

    func entries() -> [Entry] {
        guard let text = read() else { return [] }
        let lines = text.split(separator: "\n")
        guard lines.first == Substring(Self.header) else { return [] }
        return lines.dropFirst().compactMap(Entry.init(line:))
    }

    private func read() -> String? {
        let descriptor = open(AtomicFileWriter.directory(of: path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        let directory = Directory(descriptor: descriptor, path: AtomicFileWriter.directory(of: path))
        return directory.readSmallFile(fileName, limit: Self.largestFile).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Replaces the file atomically (a concurrent push may lose its entry, never corrupt
    /// the file), creating its directory private to the user.
    private func write(_ text: String) {
        let directory = try? Directory.openCreatingParents(AtomicFileWriter.directory(of: path), mode: 0o700)
        try? directory?.writeAtomically(text, to: fileName, durable: false)
    }

    private var fileName: String { path.split(separator: "/").last.map(String.init) ?? path }
}
