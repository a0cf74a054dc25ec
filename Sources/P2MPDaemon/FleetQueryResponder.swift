import NIOCore
import P2MPConfiguration
import P2MPProtocol
import P2MPSpool
import P2MPWire

/// Answers fleet queries: `ls` (a `read` right), `mv` and `rm` (a `manage` right), each
/// also from an address in `allow`. An authenticated peer's rights are its key's; an
/// unauthenticated loopback peer's come from `allow` and `manage_allow` (`PeerGrant`).
///
/// A listing is paged: cursor 0 takes a snapshot of the spool, later pages of the same
/// peer are cut from it for a few seconds. Answers to mv and rm are remembered by request
/// id, so a request the client repeats (its answer was lost) gets the same answer instead
/// of "not found" the second time.
///
/// Bounded work and memory: a snapshot taken less than `snapshotReuse` ago, when no file
/// was committed, renamed or removed since, serves every new listing (so a flood of LIST
/// costs one walk of the spool a second, not one each), the peers' snapshots share it, and
/// at most `maximumSnapshots` peers keep one.
struct FleetQueryResponder {
    private var snapshots: [String: (taken: Instant, entries: [NativeListing.Entry])] = [:]
    private var latest: (taken: Instant, entries: [NativeListing.Entry], commits: Int)?
    private var answered: [Key: NativeResult] = [:]
    private var answeredOrder: [Key] = []

    static let snapshotLifetime: Duration = .seconds(10)
    static let snapshotReuse: Duration = .seconds(1)
    static let maximumSnapshots = 256
    static let rememberedAnswers = 256

    /// The response to `query`, and a log line when the spool changed or a change was refused.
    /// `commits` counts the files committed so far (a listing taken before the last one is
    /// not reused).
    mutating func answer(
        _ query: NativeReceiverEndpoint<DaemonPeer>.FleetQuery, requestID: UInt64,
        from peer: DaemonPeer, grant: PeerGrant, configuration: DaemonConfiguration, spool: Spool, commits: Int, now: Instant
    ) -> (response: NativePacket, log: String?) {
        let allowed = configuration.allows(ipAddress: peer.address.addressBytes ?? [])
        switch query {
        case .list(let cursor):
            guard allowed, grant.rights.contains(.read) else {
                return (.result(NativeResult(status: .refused, text: grant.refusal("listing is", from: peer.address, right: "read", setting: "allow"))), nil)
            }
            return (.listing(listing(from: cursor, for: peer, spool: spool, commits: commits, now: now)), nil)
        case .move(let from, let to):
            if let earlier = answered[Key(peer: peer, requestID: requestID)] { return (.result(earlier), nil) }
            let result = change(allowed: allowed, grant: grant, from: peer) {
                let source = try SpoolName(validating: from)
                let target = try SpoolName(validating: to)
                try spool.move(source, to: target)
                return "renamed \(from) to \(to)"
            }
            remember(result, for: Key(peer: peer, requestID: requestID))
            if result.status == .done { latest = nil }
            return (.result(result), "mv \(from) \(to) from \(peer) (\(grant.who)): \(result.status) \(result.text)")
        case .remove(let name):
            if let earlier = answered[Key(peer: peer, requestID: requestID)] { return (.result(earlier), nil) }
            let result = change(allowed: allowed, grant: grant, from: peer) {
                try spool.remove(try SpoolName(validating: name))
                return "removed \(name)"
            }
            remember(result, for: Key(peer: peer, requestID: requestID))
            if result.status == .done { latest = nil }
            return (.result(result), "rm \(name) from \(peer) (\(grant.who)): \(result.status) \(result.text)")
        case .get:
            // The daemon hands GET to OutgoingTransfers; nothing else sends it here.
            return (.result(NativeResult(status: .failed, text: "not a query this answers")), nil)
        }
    }

    private func change(allowed: Bool, grant: PeerGrant, from peer: DaemonPeer, _ operation: () throws -> String) -> NativeResult {
        guard allowed, grant.rights.contains(.manage) else {
            return NativeResult(
                status: .refused, text: grant.refusal("mv and rm are", from: peer.address, right: "manage", setting: "manage_allow"))
        }
        do {
            return NativeResult(status: .done, text: try operation())
        } catch let error as SpoolNameError {
            return NativeResult(status: .failed, text: "name not allowed: \(error)")
        } catch let error as SpoolError {
            if error.isNotFound { return NativeResult(status: .notFound, text: "no such file") }
            if case .exists = error { return NativeResult(status: .exists, text: "the new name is taken") }
            return NativeResult(status: .failed, text: "\(error)")
        } catch {
            return NativeResult(status: .failed, text: "\(error)")
        }
    }

    private mutating func listing(from cursor: UInt32, for peer: DaemonPeer, spool: Spool, commits: Int, now: Instant) -> NativeListing {
        let key = "\(peer.address.displayString) \(peer.session)"
        let entries: [NativeListing.Entry]
        if cursor > 0, let snapshot = snapshots[key], now < snapshot.taken + Self.snapshotLifetime {
            entries = snapshot.entries
        } else {
            let snapshot = freshSnapshot(spool: spool, commits: commits, now: now)
            entries = snapshot.entries
            snapshots = snapshots.filter { now < $0.value.taken + Self.snapshotLifetime }
            if snapshots.count >= Self.maximumSnapshots, let oldest = snapshots.min(by: { $0.value.taken < $1.value.taken }) {
                snapshots[oldest.key] = nil
            }
            snapshots[key] = snapshot
        }
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

    /// The spool's files as of at most `snapshotReuse` ago and the last change the daemon
    /// made: the latest walk, or a new one.
    private mutating func freshSnapshot(spool: Spool, commits: Int, now: Instant) -> (taken: Instant, entries: [NativeListing.Entry]) {
        if let latest, latest.commits == commits, now < latest.taken + Self.snapshotReuse { return (latest.taken, latest.entries) }
        let entries = ((try? spool.listFiles()) ?? []).map { file in
            NativeListing.Entry(
                name: file.name.rawValue, size: file.size, modified: file.modified, sha256: ContentDigest(file.sha256) ?? .zero)
        }
        latest = (now, entries, commits)
        return (now, entries)
    }

    /// Answers are remembered per peer and session, so another peer's request id finds nothing.
    private struct Key: Hashable {
        var peer: DaemonPeer
        var requestID: UInt64
    }

    private mutating func remember(_ result: NativeResult, for requestID: Key) {
        answered[requestID] = result
        answeredOrder.append(requestID)
        if answeredOrder.count > Self.rememberedAnswers {
            answered[answeredOrder.removeFirst()] = nil
        }
    }
}
