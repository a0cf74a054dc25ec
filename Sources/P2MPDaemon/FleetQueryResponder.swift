import NIOCore
import P2MPConfiguration
import P2MPProtocol
import P2MPSpool
import P2MPWire

/// Answers `mv` and `rm` (a `manage` right, from an address in `allow` and `manage_allow`,
/// and only on names inside the key's `names=` prefix); LIST is `Listings`', GET
/// `OutgoingTransfers`'. An authenticated peer's rights are its key's; an unauthenticated
/// loopback peer's come from `allow` and `manage_allow` (`PeerGrant`).
///
/// Answers are remembered by request id, so a request the client repeats (its answer was
/// lost) gets the same answer instead of "not found" the second time.
struct FleetQueryResponder {
    private var answered: [Key: NativeResult] = [:]
    private var answeredOrder: [Key] = []

    static let rememberedAnswers = 256

    /// The response to `query`, and a log line when the spool changed or a change was refused.
    mutating func answer(
        _ query: NativeReceiverEndpoint<DaemonPeer>.FleetQuery, requestID: UInt64,
        from peer: DaemonPeer, grant: PeerGrant, configuration: DaemonConfiguration, spool: Spool
    ) -> (response: NativePacket, log: String?) {
        switch query {
        case .move(let from, let to):
            if let earlier = answered[Key(peer: peer, requestID: requestID)] { return (.result(earlier), nil) }
            let result = change(names: [from, to], grant: grant, from: peer, configuration: configuration) {
                let source = try SpoolName(validating: from)
                let target = try SpoolName(validating: to)
                try spool.move(source, to: target)
                return "renamed \(from) to \(to)"
            }
            remember(result, for: Key(peer: peer, requestID: requestID))
            return (.result(result), "mv \(from) \(to) from \(peer) (\(grant.who)): \(result.status) \(result.text)")
        case .remove(let name):
            if let earlier = answered[Key(peer: peer, requestID: requestID)] { return (.result(earlier), nil) }
            let result = change(names: [name], grant: grant, from: peer, configuration: configuration) {
                try spool.remove(try SpoolName(validating: name))
                return "removed \(name)"
            }
            remember(result, for: Key(peer: peer, requestID: requestID))
            return (.result(result), "rm \(name) from \(peer) (\(grant.who)): \(result.status) \(result.text)")
        case .list, .get:
            // The daemon hands LIST to Listings and GET to OutgoingTransfers.
            return (.result(NativeResult(status: .failed, text: "not a query this answers")), nil)
        }
    }

    /// Runs `operation` (a change to the spool's `names`) when `peer` may: its address is in
    /// `allow` and `manage_allow`, its grant has `manage`, and every name is inside its prefix.
    private func change(
        names: [String], grant: PeerGrant, from peer: DaemonPeer, configuration: DaemonConfiguration,
        _ operation: () throws -> String
    ) -> NativeResult {
        let address = peer.address.addressBytes ?? []
        guard configuration.allows(ipAddress: address), configuration.allowsManagement(ipAddress: address) else {
            return NativeResult(status: .refused, text: "mv and rm are not allowed from \(peer.address.ipAddress ?? "?") (see manage_allow)")
        }
        guard grant.rights.contains(.manage) else {
            return NativeResult(
                status: .refused, text: grant.refusal("mv and rm are", from: peer.address, right: "manage", setting: "manage_allow"))
        }
        if let prefix = grant.namePrefix, let outside = names.first(where: { !$0.hasPrefix(prefix) }) {
            return NativeResult(status: .refused, text: "this key may only change names starting with '\(prefix)', not '\(outside)'")
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
