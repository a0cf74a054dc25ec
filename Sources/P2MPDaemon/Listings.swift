import P2MPProtocol
import P2MPSpool
import P2MPWire

/// LIST (`p2mpsend ls`), paged: cursor 0 takes a snapshot of the spool, later pages of the
/// same peer are cut from it for `snapshotLifetime`.
///
/// The walk that takes a snapshot reads every file's sidecar, and hashes the files no
/// sidecar describes: it runs off the loop (`walk`), one at a time, and the requests that
/// arrive meanwhile wait for it (at most `maximumWaiting`; beyond, "busy"). Bounded work and
/// memory: a walk serves every listing asked for within `snapshotReuse` of it unless the
/// daemon committed, renamed or removed a file since, so a flood of LIST costs one walk a
/// second; the peers' snapshots share it, and at most `maximumSnapshots` peers keep one.
struct Listings {
    static let snapshotLifetime: Duration = .seconds(10)
    static let snapshotReuse: Duration = .seconds(1)
    static let maximumSnapshots = 256
    static let maximumWaiting = 256

    /// What to do about one LIST.
    enum Step {
        case answer(NativeListing)
        /// Walk the spool (off the loop) and hand the result to `walked`; the request waits.
        case walk
        /// A walk is under way; the request waits for it.
        case wait
        case busy(NativeResult)
    }

    private struct Snapshot {
        var taken: Instant
        var entries: [NativeListing.Entry]
        /// The daemon's count of spool changes when the walk started.
        var changes: Int
    }

    private var snapshots: [String: Snapshot] = [:]
    private var latest: Snapshot?
    private var waiting: [(requestID: UInt64, peer: DaemonPeer, cursor: UInt32)] = []
    /// The count of changes when the walk under way started, if one is.
    private var walking: Int?

    /// Answers LIST `requestID` of `peer` from `cursor`; `changes` counts the files the
    /// daemon committed, renamed or removed so far.
    mutating func list(from cursor: UInt32, requestID: UInt64, peer: DaemonPeer, changes: Int, now: Instant) -> Step {
        let key = Self.key(peer)
        if cursor > 0, let snapshot = snapshots[key], now < snapshot.taken + Self.snapshotLifetime {
            return .answer(Self.page(of: snapshot.entries, from: cursor))
        }
        if let latest, latest.changes == changes, now < latest.taken + Self.snapshotReuse {
            keep(latest, for: key, now: now)
            return .answer(Self.page(of: latest.entries, from: cursor))
        }
        guard !waiting.contains(where: { $0.requestID == requestID && $0.peer == peer }) else { return .wait }
        guard waiting.count < Self.maximumWaiting else {
            return .busy(NativeResult(status: .failed, text: "busy: \(Self.maximumWaiting) listings wait for the spool to be read"))
        }
        waiting.append((requestID, peer, cursor))
        guard walking == nil else { return .wait }
        walking = changes
        return .walk
    }

    /// The walk ended: the answers to every request that waited for it.
    mutating func walked(_ files: Result<[Spool.ListedFile], SpoolError>, now: Instant) -> [(requestID: UInt64, peer: DaemonPeer, listing: NativeListing)] {
        let entries = ((try? files.get()) ?? []).map { file in
            NativeListing.Entry(
                name: file.name.rawValue, size: file.size, modified: file.modified, sha256: ContentDigest(file.sha256) ?? .zero)
        }
        let snapshot = Snapshot(taken: now, entries: entries, changes: walking ?? -1)
        walking = nil
        latest = snapshot
        let answers = waiting.map { request in
            keep(snapshot, for: Self.key(request.peer), now: now)
            return (request.requestID, request.peer, Self.page(of: entries, from: request.cursor))
        }
        waiting.removeAll()
        return answers
    }

    private mutating func keep(_ snapshot: Snapshot, for key: String, now: Instant) {
        snapshots = snapshots.filter { now < $0.value.taken + Self.snapshotLifetime }
        if snapshots.count >= Self.maximumSnapshots, let oldest = snapshots.min(by: { $0.value.taken < $1.value.taken }) {
            snapshots[oldest.key] = nil
        }
        snapshots[key] = snapshot
    }

    private static func key(_ peer: DaemonPeer) -> String { "\(peer.address.displayString) \(peer.session)" }

    /// The entries from `cursor` that fit one datagram.
    private static func page(of entries: [NativeListing.Entry], from cursor: UInt32) -> NativeListing {
        var page: [NativeListing.Entry] = []
        var budget = NativeListing.entryBudget
        var index = Int(cursor)
        while index < entries.count, entries[index].encodedSize <= budget {
            budget -= entries[index].encodedSize
            page.append(entries[index])
            index += 1
        }
        return NativeListing(total: UInt32(entries.count), cursor: cursor, entries: page)
    }
}
