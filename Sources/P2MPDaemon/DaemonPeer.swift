import NIOCore
import P2MPSecurity

/// Who sent a datagram to the daemon: its address, and the authenticated session it came
/// through (0 for an unauthenticated one, which only loopback may send while no
/// trusted-senders file is set). Replies go back through the same session.
package struct DaemonPeer: Hashable, Sendable, HandshakePeer, CustomStringConvertible {
    package var address: SocketAddress
    package var session: UInt64

    package init(address: SocketAddress, session: UInt64 = 0) {
        self.address = address
        self.session = session
    }

    package var isAuthenticated: Bool { session != 0 }

    /// The address and port as the network delivered them, for handshake cookies.
    package var cookieBytes: [UInt8] {
        (address.addressBytes ?? []) + [UInt8(truncatingIfNeeded: (address.port ?? 0) >> 8), UInt8(truncatingIfNeeded: address.port ?? 0)]
    }

    package var description: String { address.displayString }
    package var displayString: String { address.displayString }
    package var ipAddress: String? { address.ipAddress }
}

/// What a peer may do: the rights its key's trusted-senders line grants, or, for an
/// unauthenticated loopback peer (no trusted-senders file), what `allow` and `manage_allow`
/// grant its address.
package struct PeerGrant: Sendable, Equatable {
    package var rights: SenderRights
    /// The only names the peer may write, or nil for any.
    package var namePrefix: String?
    /// The key it proved; nil when unauthenticated.
    package var key: IdentityKey?
    /// The comment of the key's trusted-senders line.
    package var comment: String

    package init(rights: SenderRights, namePrefix: String? = nil, key: IdentityKey? = nil, comment: String = "") {
        self.rights = rights
        self.namePrefix = namePrefix
        self.key = key
        self.comment = comment
    }

    /// Nothing at all.
    package static let none = PeerGrant(rights: [])

    /// "key SHA256:… (comment)" or "no key", for messages.
    package var who: String {
        guard let key else { return "no key" }
        return comment.isEmpty ? "key \(key.fingerprint)" : "key \(key.fingerprint) (\(comment))"
    }

    /// Why `action` is refused to `peer`, as the requester reads it: "listing is not allowed
    /// from 127.0.0.1 (see allow)" for an unauthenticated peer, "... for key SHA256:… (comment):
    /// its trusted-senders line lacks 'read'" for a key.
    package func refusal(_ action: String, from peer: SocketAddress, right: String, setting: String) -> String {
        guard key != nil else { return "\(action) not allowed from \(peer.ipAddress ?? "?") (see \(setting))" }
        return "\(action) not allowed for \(who): its trusted-senders line lacks '\(right)'"
    }
}
