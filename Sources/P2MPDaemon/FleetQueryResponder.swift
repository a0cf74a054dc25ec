import NIOCore
import P2MPConfiguration
import P2MPProtocol
import P2MPSpool
import P2MPWire

/// Answers fleet queries: `ls` (allowed from the `allow` networks), `mv` and `rm` (only
/// from `manage_allow`).
///
/// A listing is paged: cursor 0 takes a snapshot of the spool, later pages of the same
/// peer are cut from it for a few seconds. Answers to mv and rm are remembered by request
/// id, so a request the client repeats (its answer was lost) gets the same answer instead
/// of "not found" the second time.
struct FleetQueryResponder {
    private var snapshots: [String: (taken: Instant, entries: [NativeListing.Entry])] = [:]
    private var answered: [UInt64: NativeResult] = [:]
    private var answeredOrder: [UInt64] = []

    static let snapshotLifetime: Duration = .seconds(10)
    static let rememberedAnswers = 256

    /// The response to `query`, and a log line when the spool changed or a change was refused.
    mutating func answer(
        _ query: NativeReceiverEndpoint<SocketAddress>.FleetQuery, requestID: UInt64,
        from peer: SocketAddress, configuration: DaemonConfiguration, spool: Spool, now: Instant
    ) -> (response: NativePacket, log: String?) {
        let address = peer.addressBytes ?? []
        switch query {
        case .list(let cursor):
            guard configuration.allows(ipAddress: address) else {
                return (.result(NativeResult(status: .refused, text: "listing is not allowed from \(peer.ipAddress ?? "?")")), nil)
            }
            return (.listing(listing(from: cursor, for: peer, spool: spool, now: now)), nil)
        case .move(let from, let to):
            if let earlier = answered[requestID] { return (.result(earlier), nil) }
            let result = change(configuration: configuration, peer: peer) {
                let source = try SpoolName(validating: from)
                let target = try SpoolName(validating: to)
                try spool.move(source, to: target)
                return "renamed \(from) to \(to)"
            }
            remember(result, for: requestID)
            return (.result(result), "mv \(from) \(to) from \(peer.displayString): \(result.status) \(result.text)")
        case .remove(let name):
            if let earlier = answered[requestID] { return (.result(earlier), nil) }
            let result = change(configuration: configuration, peer: peer) {
                try spool.remove(try SpoolName(validating: name))
                return "removed \(name)"
            }
            remember(result, for: requestID)
            return (.result(result), "rm \(name) from \(peer.displayString): \(result.status) \(result.text)")
        case .get:
            preconditionFailure("GET is answered by OutgoingTransfers")
        }
    }

    private func change(
        configuration: DaemonConfiguration, peer: SocketAddress, _ operation: () throws -> String
    ) -> NativeResult {
        guard configuration.allowsManagement(ipAddress: peer.addressBytes ?? []) else {
            return NativeResult(
                status: .refused, text: "mv and rm are not allowed from \(peer.ipAddress ?? "?") (see manage_allow)")
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

    private mutating func listing(from cursor: UInt32, for peer: SocketAddress, spool: Spool, now: Instant) -> NativeListing {
        let key = peer.displayString
        let entries: [NativeListing.Entry]
        if cursor > 0, let snapshot = snapshots[key], now < snapshot.taken + Self.snapshotLifetime {
            entries = snapshot.entries
        } else {
            entries = ((try? spool.listFiles()) ?? []).map { file in
                NativeListing.Entry(
                    name: file.name.rawValue, size: file.size, modified: file.modified,
                    sha256: ContentDigest(file.sha256) ?? .zero)
            }
            snapshots = snapshots.filter { now < $0.value.taken + Self.snapshotLifetime }
            snapshots[key] = (now, entries)
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

    private mutating func remember(_ result: NativeResult, for requestID: UInt64) {
        answered[requestID] = result
        answeredOrder.append(requestID)
        if answeredOrder.count > Self.rememberedAnswers {
            answered[answeredOrder.removeFirst()] = nil
        }
    }
}
