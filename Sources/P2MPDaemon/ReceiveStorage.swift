import Crypto
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import P2MPSpool
import P2MPWire

/// The disk side of one transfer: writes to the partial, the running SHA-256 of its
/// contiguous prefix and the fdatasync behind each recorded prefix, on three serial dispatch
/// queues of its own, so that none of it stalls the daemon's event loop (a stalled loop
/// lets the socket buffer overflow, which the sender sees as loss).
///
/// The loop hands over filled buffers with `submit`. The write queue writes each and passes
/// it on to the hash queue, which hashes what the buffer holds of the prefix and reads back
/// whatever an earlier gap kept from being hashed (written already: buffers reach it in
/// order, after their write). Every `recordInterval` bytes hashed, the sync queue fdatasyncs
/// and records that prefix for a resume, so hashing never waits for the disk. Separate
/// queues let writing and hashing, the daemon's largest costs, use two cores. Once
/// `maximumBuffers` are on their way the storage is `isBacklogged`, and the daemon drops the
/// transfer's DATA instead of waiting (a stalled loop would drop everyone's datagrams): that
/// bounds memory and pushes back on the sender, whose congestion control sees the loss.
///
/// Errors on the queues are kept and thrown by the next `submit`, `settle` or `finish`.
///
/// Invariant: the owner calls `finish` or `settle` before it lets go of the storage. Both
/// wait for the queues, so the partial is never used, closed or released off the loop
/// afterwards (`PartialFile` and its spool are not thread-safe; `pwrite`, `pread` and
/// `fdatasync` on its descriptor from the queues are, and only the sync queue records
/// progress).
final class ReceiveStorage: @unchecked Sendable {
    /// One buffer for the queues: bytes to write at `offset` (possibly none), and how far
    /// the prefix is contiguous once they are written.
    private struct Job {
        var bytes: [UInt8]
        var offset: UInt64
        var contiguous: UInt64
    }

    /// What the loop and the queues share, under one lock.
    private struct Shared {
        var toWrite = CircularBuffer<Job>()
        var toHash = CircularBuffer<Job>()
        var spareBuffers: [[UInt8]] = []
        var failure: SpoolError?
        /// Buffers submitted and not yet hashed.
        var inFlight = 0
    }

    /// Buffers submitted and not yet hashed beyond which the storage is backlogged.
    static let maximumBuffers = 32
    /// Hashed buffers kept for reuse, at most: enough while the queues keep up.
    static let maximumSpareBuffers = 4

    private let partial: PartialFile
    private let recordInterval: UInt64
    // Touched only on `hashQueue` (or by the loop inside `hashQueue.sync`).
    private var hasher = SHA256()
    private var hashedBytes: UInt64 = 0
    /// The prefix last handed to the sync queue.
    private var recordedBytes: UInt64

    // Writing and hashing run on the shared pool, whose threads are about as many as the
    // cores, however many transfers there are; fdatasync blocks its thread, so the sync
    // queue has one of its own while it works.
    private let writeQueue = DispatchQueue(label: "p2mpd.receive-storage.write", target: .global())
    private let hashQueue = DispatchQueue(label: "p2mpd.receive-storage.hash", target: .global())
    private let syncQueue = DispatchQueue(label: "p2mpd.receive-storage.sync")
    private let shared = NIOLockedValueBox(Shared())

    /// Starts hashing the `resumedBytes` the partial already holds, on the hash queue; they are
    /// read back and verified by the final digest, not trusted.
    init(partial: PartialFile, resumedBytes: UInt64, recordInterval: UInt64) {
        self.partial = partial
        self.recordInterval = recordInterval
        recordedBytes = resumedBytes
        enqueue(Job(bytes: [], offset: 0, contiguous: resumedBytes))
    }

    /// An empty buffer with room for at least `capacity` bytes, recycled when one is free.
    func takeBuffer(capacity: Int) -> [UInt8] {
        var buffer = shared.withLockedValue { $0.spareBuffers.popLast() } ?? []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    /// True while `maximumBuffers` or more are on their way.
    var isBacklogged: Bool { shared.withLockedValue { $0.inFlight >= Self.maximumBuffers } }

    /// Queues `bytes` for `offset`; `contiguous` is how far the prefix is complete once they
    /// and everything submitted before are written. Never waits.
    func submit(_ bytes: [UInt8], at offset: UInt64, contiguous: UInt64) throws(SpoolError) {
        if let failure = shared.withLockedValue({ $0.failure }) { throw failure }
        enqueue(Job(bytes: bytes, offset: offset, contiguous: contiguous))
    }

    /// Waits for the queues, then hashes whatever is left and returns the digest of the
    /// whole partial. Only then does the file hold exactly the bytes hashed.
    func finish() throws(SpoolError) -> ContentDigest {
        writeQueue.sync {}  // Every buffer is written and passed on to the hash queue.
        let result: Result<ContentDigest, SpoolError> = hashQueue.sync {
            if let failure = shared.withLockedValue({ $0.failure }) { return .failure(failure) }
            do throws(SpoolError) {
                try catchUp(to: partial.size)
            } catch {
                return .failure(error)
            }
            return .success(ContentDigest(Array(hasher.finalize()))!)
        }
        syncQueue.sync {}  // No sync is left to use the partial after the commit.
        if let failure = shared.withLockedValue({ $0.failure }) { throw failure }
        return try result.get()
    }

    /// Waits for the queues and records the prefix hashed so far, so that a resume starts
    /// there: for a transfer that ends before it completes.
    func settle() throws(SpoolError) {
        writeQueue.sync {}
        hashQueue.sync { scheduleRecord() }
        syncQueue.sync {}
        if let failure = shared.withLockedValue({ $0.failure }) { throw failure }
    }

    // MARK: - On the queues

    private func enqueue(_ job: Job) {
        shared.withLockedValue {
            $0.inFlight += 1
            $0.toWrite.append(job)
        }
        writeQueue.async { self.writeNextJob() }
    }

    private func writeNextJob() {
        guard let job = shared.withLockedValue({ $0.toWrite.popFirst() }) else { return }
        if !job.bytes.isEmpty, shared.withLockedValue({ $0.failure }) == nil {
            var failure: SpoolError?
            job.bytes.withUnsafeBytes { bytes in
                do throws(SpoolError) {
                    try partial.reserve(through: job.offset + UInt64(bytes.count))
                    try partial.write(bytes, at: job.offset)
                } catch {
                    failure = error
                }
            }
            if let failure { shared.withLockedValue { $0.failure = $0.failure ?? failure } }
        }
        shared.withLockedValue { $0.toHash.append(job) }
        hashQueue.async { self.hashNextJob() }
    }

    private func hashNextJob() {
        defer { shared.withLockedValue { $0.inFlight -= 1 } }
        guard var job = shared.withLockedValue({ $0.toHash.popFirst() }) else { return }
        do throws(SpoolError) {
            if shared.withLockedValue({ $0.failure }) == nil {
                try hash(job)
            }
        } catch {
            shared.withLockedValue { $0.failure = $0.failure ?? error }
        }
        guard job.bytes.capacity > 0 else { return }
        job.bytes.removeAll(keepingCapacity: true)
        shared.withLockedValue {
            if $0.spareBuffers.count < Self.maximumSpareBuffers { $0.spareBuffers.append(job.bytes) }
        }
    }

    /// Hashes what `job` holds of the prefix, then catches up to its contiguous mark.
    private func hash(_ job: Job) throws(SpoolError) {
        let end = job.offset + UInt64(job.bytes.count)
        if job.offset <= hashedBytes, hashedBytes < end {
            job.bytes.withUnsafeBytes { bytes in
                hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[Int(hashedBytes - job.offset)...]))
            }
            hashedBytes = end
        }
        try catchUp(to: job.contiguous)
        if hashedBytes >= recordedBytes + recordInterval { scheduleRecord() }
    }

    /// Has the sync queue fdatasync the partial and record the prefix hashed so far as good.
    private func scheduleRecord() {
        guard hashedBytes > recordedBytes, shared.withLockedValue({ $0.failure }) == nil else { return }
        let prefix = hashedBytes
        recordedBytes = prefix
        syncQueue.async {
            do throws(SpoolError) {
                try self.partial.recordProgress(contiguousBytes: prefix)
            } catch {
                self.shared.withLockedValue { $0.failure = $0.failure ?? error }
            }
        }
    }

    /// Reads back and hashes `hashedBytes..<end`.
    private func catchUp(to end: UInt64) throws(SpoolError) {
        guard end > hashedBytes else { return }
        try partial.updateDigest(&hasher, over: hashedBytes..<end)
        hashedBytes = end
    }
}
