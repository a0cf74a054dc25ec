import NIOCore
import P2MPProtocol
import P2MPSpool
import P2MPWire

/// What the daemon keeps beside the protocol state for one transfer: the partial (whose
/// storage writes, hashes and syncs off the loop) and what of its loss was logged.
///
/// Writes are coalesced: consecutive segments collect in a 256 KiB buffer that goes to the
/// storage's queue whole, instead of one system call per datagram. Buffered bytes may be
/// acknowledged before they reach the file; that is safe because resume only trusts the
/// prefix recorded after an fdatasync, and the queue is drained before anything is read
/// back on the loop.
///
/// Every session ends with `verify` or `close`, which wait for the storage (its invariant).
final class ReceiveSession {
    let transferID: UInt64
    let peer: DaemonPeer
    /// What the peer may do, and who it proved to be.
    let grant: PeerGrant
    let offer: NativeOffer
    let name: SpoolName
    let replacing: Bool
    let partial: any PartialStorage
    let startedAt: Double
    let resumedBytes: UInt64
    private var pending: [UInt8] = []
    private var pendingOffset: UInt64 = 0
    /// How far the prefix is complete counting only bytes submitted or in `pending`.
    private var pendingContiguous: UInt64
    private var closed = false
    /// Bytes collected before one write.
    private let bufferBytes: Int
    var bytesWritten: UInt64 = 0
    /// What of this transfer's loss was logged already.
    var loss = LossLedger()

    /// Progress is recorded for resume every this many bytes (each costs an fdatasync).
    static let recordInterval: UInt64 = 8 << 20
    /// Bytes collected before one write, on the real spool.
    static let coalescingCapacity = 256 << 10

    /// Begins the partial; its storage hashes the prefix it already holds.
    init(
        transferID: UInt64, peer: DaemonPeer, grant: PeerGrant, offer: NativeOffer, name: SpoolName, replacing: Bool,
        partial: any PartialStorage, startedAt: Double, bufferBytes: Int = ReceiveSession.coalescingCapacity
    ) {
        self.bufferBytes = max(1, bufferBytes)
        self.transferID = transferID
        self.peer = peer
        self.grant = grant
        self.offer = offer
        self.name = name
        self.replacing = replacing
        self.partial = partial
        self.startedAt = startedAt
        let segmentSize = UInt64(max(1, offer.segmentSize))
        let held = min(partial.verifiedBytes, offer.fileSize)
        resumedBytes = held == offer.fileSize ? held : held / segmentSize * segmentSize
        pendingContiguous = resumedBytes
        partial.begin(resumedBytes: resumedBytes)
    }

    /// True when the partial holds nothing: no byte resumed, none received.
    var heldNothing: Bool { resumedBytes == 0 && bytesWritten == 0 }

    /// Segments the receiver already holds, for ACCEPT.
    var resumeSegments: UInt64 {
        let segmentSize = UInt64(max(1, offer.segmentSize))
        return resumedBytes == offer.fileSize ? offer.fileSize.dividedRoundingUp(by: segmentSize) : resumedBytes / segmentSize
    }

    /// Collects one segment's payload for `offset`; `contiguous` is how far the prefix is
    /// complete with it. A full buffer, or a segment that does not follow it, hands the
    /// buffer to the storage.
    func store(_ payload: UnsafeRawBufferPointer, at offset: UInt64, contiguous: UInt64) throws(SpoolError) {
        let follows = offset == pendingOffset + UInt64(pending.count)
        if !follows || pending.count + payload.count > bufferBytes {
            try submitPending()
            pendingOffset = offset
        }
        if pending.capacity == 0 { pending = partial.takeBuffer(capacity: bufferBytes) }
        pending.append(contentsOf: payload)
        pendingContiguous = contiguous
        bytesWritten += UInt64(payload.count)
    }

    /// Hands everything to the storage and compares the digest of the whole file with the
    /// offer's: the digest when it matches, nil otherwise.
    func verify() throws(SpoolError) -> ContentDigest? {
        closed = true
        let submitted = submitPendingResult()
        let digest = try partial.finish()
        try submitted.get()
        return digest == offer.sha256 ? digest : nil
    }

    /// Ends a transfer that did not complete: writes what arrived and records its prefix for
    /// a resume, waiting for the storage. Does nothing the second time.
    func close() throws(SpoolError) {
        guard !closed else { return }
        closed = true
        let submitted = submitPendingResult()
        try partial.settle()
        try submitted.get()
    }

    /// `submitPending` as a result, for the paths that must wait for the storage even when
    /// it fails.
    private func submitPendingResult() -> Result<Void, SpoolError> {
        do throws(SpoolError) {
            try submitPending()
            return .success(())
        } catch {
            return .failure(error)
        }
    }

    private func submitPending() throws(SpoolError) {
        guard !pending.isEmpty else { return }
        let bytes = pending
        pending = []
        try partial.submit(bytes, at: pendingOffset, contiguous: pendingContiguous)
        pendingOffset += UInt64(bytes.count)
    }
}
