import Crypto
import P2MPProtocol
import P2MPSpool
import P2MPWire

extension FileSegmentSource {
    /// The SHA-256 of all the bytes, read in 1 MiB chunks.
    public func sha256() throws -> ContentDigest {
        var hasher = SHA256()
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: UInt64 = 0
        while offset < byteCount {
            let count = Int(min(UInt64(buffer.count), byteCount - offset))
            try buffer.withUnsafeMutableBytes { raw in
                let chunk = UnsafeMutableRawBufferPointer(rebasing: raw[0..<count])
                try read(offset: offset, into: chunk)
                hasher.update(bufferPointer: UnsafeRawBufferPointer(chunk))
            }
            offset += UInt64(count)
        }
        return ContentDigest(Array(hasher.finalize()))!
    }

    /// The SHA-256 of the file: from `cache` when it remembers exactly this version of the
    /// file and `rehash` is false; otherwise read in full, then remembered in `cache`.
    /// `clock` is the wall clock that tells how long ago the file last changed.
    public func sha256(
        cache: DigestCache?, rehash: Bool, clock: () -> FileIdentity.Timestamp = FileIdentity.Timestamp.now
    ) throws -> ContentDigest {
        guard let cache, let before = identity else { return try sha256() }
        if !rehash, let remembered = cache.digest(for: before), let digest = ContentDigest(remembered) {
            return digest
        }
        let started = clock()
        let digest = try sha256()
        // Remembered only if nothing changed the file while it was read.
        if identity == before { cache.remember(digest.bytes, for: before, hashingStarted: started) }
        return digest
    }
}
