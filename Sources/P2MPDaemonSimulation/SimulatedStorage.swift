import Crypto
import P2MPProtocol
import P2MPSpool
import P2MPWire

import P2MPDaemon

#if canImport(Glibc)
import Glibc
#endif

/// What can go wrong with one receiver's disk in a daemon simulation, drawn from its seed.
public struct DiskFaults: Sendable, CustomStringConvertible {
    public init() {}

    /// Bytes the disk holds at most (a full disk refuses the partial).
    public var capacity: UInt64 = .max
    /// Chance that one write fails with EIO.
    public var writeFailure = 0.0
    /// Chance that a commit fails with EIO (before its rename).
    public var commitFailure = 0.0
    /// Chance, at each DATA, that the disk is behind (the daemon then drops the datagram).
    public var slowness = 0.0

    public var isFaultless: Bool { capacity == .max && writeFailure == 0 && commitFailure == 0 && slowness == 0 }

    public var description: String {
        var parts: [String] = []
        if capacity != .max { parts.append("capacity \(capacity)") }
        if writeFailure > 0 { parts.append("EIO on write \(writeFailure)") }
        if commitFailure > 0 { parts.append("EIO on commit \(commitFailure)") }
        if slowness > 0 { parts.append("slow \(slowness)") }
        return parts.isEmpty ? "no disk faults" : parts.joined(separator: ", ")
    }
}

/// An in-memory spool with faults, under the real `IncomingTransfers`: what the daemon
/// wrote, what it synced (and so survives a crash), what it committed. Its small write
/// buffer and record interval make resumes happen on small files.
final class SimulatedStorage: IncomingStorage {
    /// The partial of one content: its bytes as written, and the prefix recorded durable.
    final class PartialData {
        var bytes: [UInt8]
        /// Recorded after an (instantaneous, simulated) fdatasync: survives a crash.
        var recordedPrefix: UInt64 = 0
        /// Bytes taken from the disk's capacity: allocated as data arrives, as on the spool.
        var allocated = 0
        init(size: Int) { bytes = Array(repeating: 0, count: size) }
    }

    let faults: DiskFaults
    var random: SeededRandom
    private(set) var committed: [String: [UInt8]] = [:]
    private(set) var partials: [ContentKey: PartialData] = [:]
    private var open: Set<ContentKey> = []
    /// Every fault that struck, for the run's account of why a receiver failed.
    private(set) var faultsStruck: [String] = []
    let writeBufferBytes = 2_048
    let recordInterval: UInt64 = 8_192

    init(faults: DiskFaults, seed: UInt64) {
        self.faults = faults
        random = SeededRandom(seed: seed)
    }

    func freeBytes() -> UInt64 {
        let used = committed.values.reduce(UInt64(0)) { $0 + UInt64($1.count) }
            + partials.values.reduce(UInt64(0)) { $0 + UInt64($1.allocated) }
        return faults.capacity > used ? faults.capacity - used : 0
    }

    func reservedBytes(for content: ContentKey) -> UInt64 { partials[content].map { UInt64($0.allocated) } ?? 0 }

    var partialCount: Int { partials.count }

    func hasPartial(for content: ContentKey) -> Bool { partials[content] != nil }

    /// Runs `job` at once on what is committed now.
    func lookUp<Value: Sendable>(_ job: @escaping @Sendable (any SpoolLookup) -> Value, completion: @escaping (Value) -> Void) {
        completion(job(CommittedFiles(files: committed)))
    }

    func openPartial(for content: ContentKey) throws(SpoolError) -> any PartialStorage {
        guard !open.contains(content) else { throw SpoolError("partial already open", path: content.hexKey, code: EBUSY) }
        if partials[content] == nil { partials[content] = PartialData(size: Int(content.size)) }
        open.insert(content)
        return SimulatedPartial(storage: self, content: content, data: partials[content]!)
    }

    func commit(_ partial: any PartialStorage, as name: SpoolName, metadata: FileMetadata, replacing: Bool) throws(SpoolError) {
        guard let partial = partial as? SimulatedPartial, let data = partials[partial.content] else {
            throw SpoolError("not a partial of this disk:", path: name.rawValue, code: EBADF)
        }
        if random.chance(faults.commitFailure) {
            faultsStruck.append("EIO on commit")
            throw SpoolError("cannot sync", path: name.rawValue, code: EIO)
        }
        if committed[name.rawValue] != nil, !replacing { throw .exists(path: name.rawValue) }
        // The rename: the name holds the old content or all of the new, never part of it.
        committed[name.rawValue] = data.bytes
        partials[partial.content] = nil
        open.remove(partial.content)
    }

    func path(of name: SpoolName) -> String { "/simulated/" + name.rawValue }

    /// The daemon died: what was not recorded durable is gone (here: zeroed, the worst a
    /// disk may leave), partials are closed, committed files stay.
    func crash() {
        for data in partials.values {
            let durable = Int(data.recordedPrefix)
            for index in durable..<data.bytes.count { data.bytes[index] = 0 }
        }
        open.removeAll()
    }

    fileprivate func close(_ content: ContentKey) { open.remove(content) }

    fileprivate func discard(_ content: ContentKey) {
        partials[content] = nil
        open.remove(content)
    }

    fileprivate func strikeWrite() -> Bool {
        guard random.chance(faults.writeFailure) else { return false }
        faultsStruck.append("EIO on write")
        return true
    }

    fileprivate func isSlow() -> Bool { random.chance(faults.slowness) }

    /// Takes the space for `data` through `end` from the capacity; false when it is full.
    fileprivate func allocate(_ data: PartialData, through end: Int) -> Bool {
        guard end > data.allocated else { return true }
        guard freeBytes() >= UInt64(end - data.allocated) else {
            faultsStruck.append("disk full")
            return false
        }
        data.allocated = end
        return true
    }
}

/// The files a `SimulatedStorage` holds, as a lookup sees them.
struct CommittedFiles: SpoolLookup {
    let files: [String: [UInt8]]

    func existing(_ name: SpoolName) throws(SpoolError) -> ExistingFile? {
        files[name.rawValue].map { ExistingFile(size: UInt64($0.count), sha256: Array(SHA256.hash(data: $0)), metadata: nil) }
    }
}

/// A partial of `SimulatedStorage`: writes land at once; every `recordInterval` bytes of
/// contiguous prefix are recorded durable, as the real storage's sync queue does.
final class SimulatedPartial: PartialStorage {
    private unowned let storage: SimulatedStorage
    let content: ContentKey
    private let data: SimulatedStorage.PartialData
    let verifiedBytes: UInt64
    private var contiguous: UInt64 = 0
    private var failure: SpoolError?

    init(storage: SimulatedStorage, content: ContentKey, data: SimulatedStorage.PartialData) {
        self.storage = storage
        self.content = content
        self.data = data
        verifiedBytes = data.recordedPrefix
    }

    var isBacklogged: Bool { storage.isSlow() }

    func begin(resumedBytes: UInt64) {
        contiguous = min(resumedBytes, verifiedBytes)
    }

    func takeBuffer(capacity: Int) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        return buffer
    }

    func submit(_ bytes: [UInt8], at offset: UInt64, contiguous: UInt64) throws(SpoolError) {
        if let failure { throw failure }
        if storage.strikeWrite() {
            failure = SpoolError("cannot write", path: content.hexKey, code: EIO)
            return  // Reported by the next call, as the real queues do.
        }
        let start = Int(offset)
        guard storage.allocate(data, through: start + bytes.count) else {
            failure = .noSpace(path: content.hexKey)
            return  // Reported by the next call.
        }
        data.bytes.replaceSubrange(start..<start + bytes.count, with: bytes)
        self.contiguous = contiguous
        if contiguous >= data.recordedPrefix + storage.recordInterval { data.recordedPrefix = contiguous }
    }

    func finish() throws(SpoolError) -> ContentDigest {
        if let failure { throw failure }
        storage.close(content)
        return ContentDigest(Array(SHA256.hash(data: data.bytes)))!
    }

    func settle() throws(SpoolError) {
        storage.close(content)
        if let failure { throw failure }
        data.recordedPrefix = max(data.recordedPrefix, contiguous)
    }

    func discard() { storage.discard(content) }
}
