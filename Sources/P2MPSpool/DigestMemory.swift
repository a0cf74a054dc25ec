import Synchronization

/// The SHA-256 of committed files that had to be hashed (no sidecar described them), by name
/// and identity (inode, size, modification time to the nanosecond): a changed file is a new
/// identity and is hashed again. At most `capacity` entries; the oldest are forgotten first.
/// Safe from any thread.
final class DigestMemory: Sendable {
    static let capacity = 4_096

    private struct Key: Hashable {
        var name: SpoolName
        var identity: FileIdentity
    }

    private struct Entries {
        var digests: [Key: [UInt8]] = [:]
        var order: [Key] = []
        var head = 0
    }

    private let entries = Mutex(Entries())

    func digest(of name: SpoolName, identity: FileIdentity) -> [UInt8]? {
        entries.withLock { $0.digests[Key(name: name, identity: identity)] }
    }

    func remember(_ digest: [UInt8], of name: SpoolName, identity: FileIdentity) {
        let key = Key(name: name, identity: identity)
        entries.withLock { entries in
            guard entries.digests.updateValue(digest, forKey: key) == nil else { return }
            entries.order.append(key)
            if entries.order.count - entries.head > Self.capacity {
                entries.digests[entries.order[entries.head]] = nil
                entries.head += 1
                if entries.head > Self.capacity {  // Drop the forgotten keys' slots now and then.
                    entries.order.removeFirst(entries.head)
                    entries.head = 0
                }
            }
        }
    }
}
