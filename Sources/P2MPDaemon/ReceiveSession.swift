import Crypto
import NIOCore
import P2MPProtocol
import P2MPSpool
import P2MPWire

/// What the daemon keeps beside the protocol state for one transfer: the partial file, the
/// running SHA-256 of its contiguous prefix, and counters for the log.
///
/// Writes are coalesced: consecutive segments collect in a 256 KiB buffer that goes to the
/// file in one `pwrite`, instead of one system call per datagram. Buffered bytes may be
/// acknowledged before they reach the file; that is safe because resume only trusts the
/// prefix recorded after an fdatasync, and everything is flushed before it is read back.
///
/// Hashing follows the data: an in-order segment is hashed from the datagram as it is
/// written; bytes that arrived out of order are read back once they become contiguous.
final class ReceiveSession {
    let transferID: UInt64
    let peer: SocketAddress
    let offer: NativeOffer
    let name: SpoolName
    let replacing: Bool
    let partial: PartialFile
    let startedAt: Double
    let resumedBytes: UInt64
    private(set) var hashedBytes: UInt64 = 0
    private var hasher = SHA256()
    private var recordedBytes: UInt64
    private var pending: [UInt8] = []
    private var pendingOffset: UInt64 = 0
    var bytesWritten: UInt64 = 0
    var discarded = 0
    var retransmitted = 0

    /// Progress is recorded for resume every this many bytes (each costs an fdatasync).
    static let recordInterval: UInt64 = 8 << 20
    /// Bytes collected before one write.
    static let coalescingCapacity = 256 << 10

    /// Opens (or reopens) the partial and hashes the prefix it already holds, which is
    /// read back and verified by the final digest, not trusted.
    init(
        transferID: UInt64, peer: SocketAddress, offer: NativeOffer, name: SpoolName, replacing: Bool,
        partial: PartialFile, startedAt: Double
    ) throws(SpoolError) {
        self.transferID = transferID
        self.peer = peer
        self.offer = offer
        self.name = name
        self.replacing = replacing
        self.partial = partial
        self.startedAt = startedAt
        let segmentSize = UInt64(max(1, offer.segmentSize))
        let held = min(partial.verifiedBytes, offer.fileSize)
        resumedBytes = held == offer.fileSize ? held : held / segmentSize * segmentSize
        recordedBytes = resumedBytes
        try catchUp(to: resumedBytes)
    }

    /// Segments the receiver already holds, for ACCEPT.
    var resumeSegments: UInt64 {
        let segmentSize = UInt64(max(1, offer.segmentSize))
        return resumedBytes == offer.fileSize
            ? offer.fileSize / segmentSize + (offer.fileSize % segmentSize == 0 ? 0 : 1)
            : resumedBytes / segmentSize
    }

    /// Writes one segment's payload at `offset`, then advances the hash over what is now
    /// contiguous.
    func store(_ payload: UnsafeRawBufferPointer, at offset: UInt64, contiguous: UInt64) throws(SpoolError) {
        let follows = offset == pendingOffset + UInt64(pending.count)
        if !follows || pending.count + payload.count > Self.coalescingCapacity {
            try flush()
            pendingOffset = offset
        }
        if pending.capacity == 0 { pending.reserveCapacity(Self.coalescingCapacity) }
        pending.append(contentsOf: payload)
        bytesWritten += UInt64(payload.count)
        if offset == hashedBytes {
            hasher.update(bufferPointer: payload)
            hashedBytes += UInt64(payload.count)
        }
        try catchUp(to: contiguous)
        if hashedBytes >= recordedBytes + Self.recordInterval {
            try flush()
            try partial.recordProgress(contiguousBytes: hashedBytes)
            recordedBytes = hashedBytes
        }
    }

    /// Writes the coalesced bytes to the partial file.
    func flush() throws(SpoolError) {
        guard !pending.isEmpty else { return }
        var failure: SpoolError?
        pending.withUnsafeBytes { bytes in
            do throws(SpoolError) {
                try partial.write(bytes, at: pendingOffset)
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        pendingOffset += UInt64(pending.count)
        pending.removeAll(keepingCapacity: true)
    }

    /// Writes out everything, hashes the rest and compares with the offer: the digest when
    /// it matches, nil otherwise. Only then does the file hold exactly the bytes hashed.
    func verify() throws(SpoolError) -> P2MPWire.SHA256Digest? {
        try flush()
        try catchUp(to: offer.fileSize)
        let digest = P2MPWire.SHA256Digest(Array(hasher.finalize()))!
        return digest == offer.sha256 ? digest : nil
    }

    /// Reads back and hashes `hashedBytes..<end`.
    private func catchUp(to end: UInt64) throws(SpoolError) {
        guard end > hashedBytes else { return }
        try flush()
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
