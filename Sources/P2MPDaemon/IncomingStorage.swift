import P2MPSpool
import P2MPWire

/// The disk as incoming transfers use it: the spool in production (`SpoolStorage`), an
/// in-memory disk with faults in the daemon simulation. Called on the daemon's loop only.
package protocol IncomingStorage: AnyObject {
    /// Bytes a transfer collects before it hands them to its partial in one write.
    var writeBufferBytes: Int { get }
    /// Bytes that may still be written.
    func freeBytes() -> UInt64
    /// Bytes the partial of `content` already occupies, so a resumed push needs only the rest.
    func reservedBytes(for content: ContentKey) -> UInt64
    /// Partials on disk (`max_partials` caps them).
    var partialCount: Int { get }
    /// Whether `content` has a partial on disk already (a push of it adds none).
    func hasPartial(for content: ContentKey) -> Bool
    /// Runs `job` against the committed files, off the loop where the storage has threads
    /// for it (it may hash files); `completion` gets its result on the loop, later or at once.
    func lookUp<Value: Sendable>(_ job: @escaping @Sendable (any SpoolLookup) -> Value, completion: @escaping (Value) -> Void)
    /// The partial of `content`: resumed with its recorded prefix, or new (taking no space
    /// until data arrives). EBUSY when the content is open already.
    func openPartial(for content: ContentKey) throws(SpoolError) -> any PartialStorage
    /// Puts a verified partial under its final name (`Spool.commit`'s promises).
    func commit(_ partial: any PartialStorage, as name: SpoolName, metadata: FileMetadata, replacing: Bool) throws(SpoolError)
    /// Where `name` is committed, for logs and the post-receive hook.
    func path(of name: SpoolName) -> String
}

/// What is committed under names, for `Admission.decide`; safe from any thread.
package protocol SpoolLookup: Sendable {
    /// What is committed under `name`, if anything.
    func existing(_ name: SpoolName) throws(SpoolError) -> ExistingFile?
}

extension Spool: SpoolLookup {}

/// One transfer's partial as the daemon fills it: `begin` once, buffers with `submit`
/// (written and hashed off the loop), then `finish` gives the digest of the whole content,
/// or `settle` records the prefix held for a resume. Every partial that began ends with
/// `finish` or `settle`, and then `commit` or `discard`.
package protocol PartialStorage: AnyObject {
    var content: ContentKey { get }
    /// The prefix an earlier run left, known good (it is hashed again before any commit).
    var verifiedBytes: UInt64 { get }
    /// True while so many buffers are on their way that the disk is behind: the daemon
    /// drops DATA for the transfer rather than wait (the sender sees loss and slows down).
    var isBacklogged: Bool { get }
    /// Starts the transfer with the first `resumedBytes` taken as held (at most
    /// `verifiedBytes`); they are read back and hashed, not trusted.
    func begin(resumedBytes: UInt64)
    /// An empty buffer with room for at least `capacity` bytes, recycled when one is free.
    func takeBuffer(capacity: Int) -> [UInt8]
    /// Queues `bytes` for `offset`; `contiguous` is how far the prefix is complete once they
    /// and everything before are written. Throws a failure of earlier work.
    func submit(_ bytes: [UInt8], at offset: UInt64, contiguous: UInt64) throws(SpoolError)
    /// Waits for the queued work, then returns the SHA-256 of the whole content.
    func finish() throws(SpoolError) -> ContentDigest
    /// Waits for the queued work and records the prefix held, for a resume.
    func settle() throws(SpoolError)
    /// Removes the partial (its content was wrong, or it never received a byte).
    func discard()
}
