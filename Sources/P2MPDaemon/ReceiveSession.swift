import Crypto
import NIOCore
import P2MPProtocol
import P2MPSpool
import P2MPWire

/// What the daemon keeps beside the protocol state for one transfer: the partial file, the
/// running SHA-256 of its contiguous prefix, and counters for the log.
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
    var bytesWritten: UInt64 = 0
    var discarded = 0
    var retransmitted = 0

    /// Progress is recorded for resume every this many bytes (each costs an fdatasync).
    static let recordInterval: UInt64 = 8 << 20

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
        try partial.write(payload, at: offset)
        bytesWritten += UInt64(payload.count)
        if offset == hashedBytes {
            hasher.update(bufferPointer: payload)
            hashedBytes += UInt64(payload.count)
        }
        try catchUp(to: contiguous)
        if hashedBytes >= recordedBytes + Self.recordInterval {
            try partial.recordProgress(contiguousBytes: hashedBytes)
            recordedBytes = hashedBytes
        }
    }

    /// Hashes the rest and compares with the offer: the digest when it matches, nil otherwise.
    func verify() throws(SpoolError) -> P2MPWire.SHA256Digest? {
        try catchUp(to: offer.fileSize)
        let digest = P2MPWire.SHA256Digest(Array(hasher.finalize()))!
        return digest == offer.sha256 ? digest : nil
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
