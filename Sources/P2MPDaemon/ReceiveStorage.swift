import Crypto
import Dispatch
import NIOConcurrencyHelpers
import NIOCore
import P2MPSpool
import P2MPWire

/// The disk side of one transfer: writes to the partial, the running SHA-256 of its
/// contiguous prefix and the fdatasync behind each recorded prefix, all on a serial
/// dispatch queue of its own, so that none of it stalls the daemon's event loop (a stalled
/// loop lets the socket buffer overflow, which the sender sees as loss).
///
/// The loop hands over filled buffers with `submit`; the queue writes each, hashes what it
/// holds of the prefix and reads back whatever an earlier gap kept from being hashed. At
/// most `maximumBuffers` wait at once: beyond that `submit` waits for the queue, which
/// bounds memory and pushes back on the sender as the inline writes did before.
///
/// Errors on the queue are kept and thrown by the next `submit`, `settle` or `finish`.
///
/// Invariant: the owner calls `finish` or `settle` before it lets go of the storage. Both
/// wait for the queue, so the partial is never used, closed or released off the loop
/// afterwards (`PartialFile` and its spool are not thread-safe).
final class ReceiveStorage: @unchecked Sendable {
    /// One buffer for the queue: bytes to write at `offset` (possibly none), and how far
    /// the prefix is contiguous once they are written.
    private struct Job {
        var bytes: [UInt8]
        var offset: UInt64
        var contiguous: UInt64
    }

    /// What the loop and the queue share, under one lock.
    private struct Shared {
        var jobs = CircularBuffer<Job>()
        var spareBuffers: [[UInt8]] = []
        var failure: SpoolError?
    }

    /// Buffers waiting for or being written by the queue, at most.
    static let maximumBuffers = 32
    /// Written buffers kept for reuse, at most: enough while the queue keeps up.
    static let maximumSpareBuffers = 4

    // Touched only on `queue` (or by the loop inside `queue.sync`).
    private let partial: PartialFile
    private let recordInterval: UInt64
    private var hasher = SHA256()
    private var hashedBytes: UInt64 = 0
    private var recordedBytes: UInt64

    private let queue = DispatchQueue(label: "p2mpd.receive-storage")
    private let shared = NIOLockedValueBox(Shared())
    private let room = DispatchSemaphore(value: ReceiveStorage.maximumBuffers)

    /// Starts hashing the `resumedBytes` the partial already holds, on the queue; they are
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

    /// Queues `bytes` for `offset`; `contiguous` is how far the prefix is complete once they
    /// and everything submitted before are written. Waits while the queue is full.
    func submit(_ bytes: [UInt8], at offset: UInt64, contiguous: UInt64) throws(SpoolError) {
        if let failure = shared.withLockedValue({ $0.failure }) { throw failure }
        enqueue(Job(bytes: bytes, offset: offset, contiguous: contiguous))
    }

    /// Waits for the queue, then hashes whatever is left and returns the digest of the
    /// whole partial. Only then does the file hold exactly the bytes hashed.
    func finish() throws(SpoolError) -> P2MPWire.SHA256Digest {
        let result: Result<P2MPWire.SHA256Digest, SpoolError> = queue.sync {
            if let failure = shared.withLockedValue({ $0.failure }) { return .failure(failure) }
            do throws(SpoolError) {
                try catchUp(to: partial.size)
            } catch {
                return .failure(error)
            }
            return .success(P2MPWire.SHA256Digest(Array(hasher.finalize()))!)
        }
        return try result.get()
    }

    /// Waits for the queue and records the prefix hashed so far, so that a resume starts
    /// there: for a transfer that ends before it completes.
    func settle() throws(SpoolError) {
        let failure: SpoolError? = queue.sync {
            if let failure = shared.withLockedValue({ $0.failure }) { return failure }
            do throws(SpoolError) {
                try recordProgress()
            } catch {
                return error
            }
            return nil
        }
        if let failure { throw failure }
    }

    // MARK: - On the queue

    private func enqueue(_ job: Job) {
        room.wait()
        shared.withLockedValue { $0.jobs.append(job) }
        queue.async { self.runNextJob() }
    }

    private func runNextJob() {
        defer { room.signal() }
        guard var job = shared.withLockedValue({ $0.jobs.popFirst() }) else { return }
        do throws(SpoolError) {
            if shared.withLockedValue({ $0.failure }) == nil {
                try write(job)
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

    private func write(_ job: Job) throws(SpoolError) {
        let end = job.offset + UInt64(job.bytes.count)
        var failure: SpoolError?
        job.bytes.withUnsafeBytes { bytes in
            do throws(SpoolError) {
                if !bytes.isEmpty { try partial.write(bytes, at: job.offset) }
                if job.offset <= hashedBytes, hashedBytes < end {
                    hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: bytes[Int(hashedBytes - job.offset)...]))
                    hashedBytes = end
                }
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        try catchUp(to: job.contiguous)
        if hashedBytes >= recordedBytes + recordInterval { try recordProgress() }
    }

    /// fdatasyncs the partial and records the prefix hashed so far as good.
    private func recordProgress() throws(SpoolError) {
        guard hashedBytes > recordedBytes else { return }
        try partial.recordProgress(contiguousBytes: hashedBytes)
        recordedBytes = hashedBytes
    }

    /// Reads back and hashes `hashedBytes..<end`.
    private func catchUp(to end: UInt64) throws(SpoolError) {
        guard end > hashedBytes else { return }
        var buffer = [UInt8](repeating: 0, count: Int(min(end - hashedBytes, 1 << 20)))
        while hashedBytes < end {
            let count = Int(min(end - hashedBytes, UInt64(buffer.count)))
            let offset = hashedBytes
            var failure: SpoolError?
            buffer.withUnsafeMutableBytes { raw in
                let chunk = UnsafeMutableRawBufferPointer(rebasing: raw[0..<count])
                do throws(SpoolError) {
                    try partial.read(at: offset, into: chunk)
                    hasher.update(bufferPointer: UnsafeRawBufferPointer(chunk))
                } catch {
                    failure = error
                }
            }
            if let failure { throw failure }
            hashedBytes += UInt64(count)
        }
    }
}
