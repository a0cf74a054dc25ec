/// What a trusted sender's key may do on a receiver: the OPTIONS of its trusted-senders line.
public struct SenderRights: OptionSet, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Push files (OFFER).
    public static let push = SenderRights(rawValue: 1)
    /// ls, get, status.
    public static let read = SenderRights(rawValue: 2)
    /// mv, rm.
    public static let manage = SenderRights(rawValue: 4)

    /// What a trusted-senders line without options grants.
    public static let `default`: SenderRights = [.push, .read]

    public var description: String {
        var names: [String] = []
        if contains(.push) { names.append("push") }
        if contains(.read) { names.append("read") }
        if contains(.manage) { names.append("manage") }
        return names.isEmpty ? "none" : names.joined(separator: ",")
    }
}

/// What a receiver grants one key.
public struct SenderGrant: Hashable, Sendable {
    public var rights: SenderRights
    /// The only names this key may write (`names=PREFIX`), or nil for any name.
    public var namePrefix: String?
    /// The comment of its trusted-senders line, for logs.
    public var comment: String

    public init(rights: SenderRights, namePrefix: String? = nil, comment: String = "") {
        self.rights = rights
        self.namePrefix = namePrefix
        self.comment = comment
    }
}

/// The allow-list a responder checks an initiator's key against. Replaced as a whole when
/// the daemon reloads its trusted-senders file.
public struct TrustedSenders: Sendable, Equatable {
    public private(set) var grants: [IdentityKey: SenderGrant]

    public init(_ grants: [IdentityKey: SenderGrant] = [:]) {
        self.grants = grants
    }

    /// What `key` may do, or nil when it is not trusted.
    public func grant(for key: IdentityKey) -> SenderGrant? { grants[key] }
}
