/// What a completed handshake hands the application: the two session ids, who is at the
/// other end and what it may do, and the sealing and opening halves of the session.
public struct EstablishedSession: Sendable {
    /// The id this side chose; the peer's SEALED datagrams carry it.
    public var localSession: UInt64 { opener.localSession }
    /// The id the peer chose; this side's SEALED datagrams carry it.
    public var remoteSession: UInt64 { sealer.remoteSession }
    /// The peer's identity: the host key to an initiator, the sender's key to a responder.
    public let peerKey: IdentityKey
    /// To a responder, what its trust list grants the initiator; to an initiator, what the
    /// responder said it was granted.
    public let rights: SenderRights
    /// To a responder, the only names the initiator may write (`names=PREFIX`); nil for any
    /// name, and always nil on the initiator's side.
    public let namePrefix: String?
    public var sealer: SessionSealer
    public var opener: SessionOpener

    init(peerKey: IdentityKey, rights: SenderRights, namePrefix: String?, sealer: SessionSealer, opener: SessionOpener) {
        self.peerKey = peerKey
        self.rights = rights
        self.namePrefix = namePrefix
        self.sealer = sealer
        self.opener = opener
    }
}
