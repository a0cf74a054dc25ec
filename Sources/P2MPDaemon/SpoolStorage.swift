import P2MPSpool
import P2MPWire

#if canImport(Glibc)
import Glibc
#endif

/// `IncomingStorage` on the real spool, with `ReceiveStorage`'s queues under each partial
/// and lookups on `work`'s threads.
final class SpoolStorage: IncomingStorage {
    let spool: Spool
    private let recordInterval: UInt64
    private let work: BackgroundWork

    init(spool: Spool, work: BackgroundWork = BackgroundWork(), recordInterval: UInt64 = ReceiveSession.recordInterval) {
        self.spool = spool
        self.work = work
        self.recordInterval = recordInterval
    }

    var writeBufferBytes: Int { ReceiveSession.coalescingCapacity }

    func freeBytes() -> UInt64 { spool.freeBytes() }

    func reservedBytes(for content: ContentKey) -> UInt64 { spool.reservedBytes(for: content) }

    var partialCount: Int { spool.partialCount }

    func hasPartial(for content: ContentKey) -> Bool { spool.hasPartial(for: content) }

    func lookUp<Value: Sendable>(_ job: @escaping @Sendable (any SpoolLookup) -> Value, completion: @escaping (Value) -> Void) {
        let spool = spool
        work.run({ job(spool) }, completion: completion)
    }

    func openPartial(for content: ContentKey) throws(SpoolError) -> any PartialStorage {
        SpoolPartial(try spool.openPartial(for: content), recordInterval: recordInterval)
    }

    func commit(_ partial: any PartialStorage, as name: SpoolName, metadata: FileMetadata, replacing: Bool) throws(SpoolError) {
        guard let partial = partial as? SpoolPartial else {
            throw SpoolError("not a partial of this spool:", path: spool.root, code: EBADF)
        }
        try spool.commit(partial.file, as: name, metadata: metadata, replacing: replacing)
    }

    func path(of name: SpoolName) -> String { spool.path(of: name) }
}

/// A `PartialFile` and the queues that write and hash it (made by `begin`).
final class SpoolPartial: PartialStorage {
    let file: PartialFile
    private let recordInterval: UInt64
    private var storage: ReceiveStorage?

    init(_ file: PartialFile, recordInterval: UInt64) {
        self.file = file
        self.recordInterval = recordInterval
    }

    var content: ContentKey { file.content }
    var verifiedBytes: UInt64 { file.verifiedBytes }
    var isBacklogged: Bool { storage?.isBacklogged ?? false }

    func begin(resumedBytes: UInt64) {
        precondition(storage == nil, "a partial begins once")
        storage = ReceiveStorage(
            partial: file, resumedBytes: min(resumedBytes, file.verifiedBytes), recordInterval: recordInterval)
    }

    func takeBuffer(capacity: Int) -> [UInt8] { storage?.takeBuffer(capacity: capacity) ?? [] }

    func submit(_ bytes: [UInt8], at offset: UInt64, contiguous: UInt64) throws(SpoolError) {
        try started().submit(bytes, at: offset, contiguous: contiguous)
    }

    func finish() throws(SpoolError) -> ContentDigest { try started().finish() }
    func settle() throws(SpoolError) { try started().settle() }
    func discard() { file.discard() }

    private func started() throws(SpoolError) -> ReceiveStorage {
        guard let storage else { throw SpoolError("partial used before it began:", path: file.path, code: EINVAL) }
        return storage
    }
}
