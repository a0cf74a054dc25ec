/// The kinds of event p2mpd logs, as `P2MP_EVENT=<rawValue>` in the journal, each with its
/// own MESSAGE_ID (explained in systemd/p2mp.catalog).
public enum DaemonEvent: String, CaseIterable, Sendable {
    case start, stop, reload
    case configError = "config-error"
    case offer, accept, reject, loss, retransmit, complete, fail
    /// The post-receive command ran (or could not).
    case hook
    /// A fleet command renamed or removed a file, or was refused.
    case manage
    /// A sender's key was refused, or a datagram did not authenticate (rate-limited).
    case authFailed = "auth-failed"
    /// A sender's key was accepted: an authenticated session began.
    case session
    /// An authenticated session ended: idle, evicted, or its key no longer trusted.
    case sessionEnd = "session-end"
    /// Datagrams were dropped (malformed, forged, replayed, for no transfer, ...): the
    /// counts by cause since start, logged when they change, at most every 10 s.
    case drop

    /// MESSAGE_ID per event kind, for `journalctl MESSAGE_ID=…` and the catalog; the same
    /// table is systemd/message-ids.txt (a test keeps them equal). Never change a released id.
    public static let messageIDs: [String: String] = [
        "start": "8296a7fc51e340ff9f0f15bdcca23c24",
        "stop": "75ae89c66a3047d5a560b98c72b3410f",
        "reload": "570b449081ba40148b76e3a9a001c892",
        "config-error": "c8a40a4cc1054860aa154c2c3c5ecba7",
        "offer": "d5466453213a42f383615b3ec2a154d6",
        "accept": "eb99f2e4b959443c894e645b28ad0ac3",
        "reject": "e2774ee106744ac7a44abf8c3fe96c75",
        "loss": "700e575445a24cae9e3f6db01aba2fdc",
        "retransmit": "0a1cb595b4374b1cb87d383b36201b27",
        "complete": "fec0d8643ca747f281f37b833c6bbdc0",
        "manage": "10b0be5367874f919652bb05382a3223",
        "hook": "97147834e962417e88385017c8514236",
        "fail": "df7bcbb046154fdfafaaed73f93ebb53",
        "auth-failed": "1f794bea10d54f469881d69ff41d85ed",
        "session": "3e8a145320864794988b2ec086746d4b",
        "session-end": "8e59733ef5684352b76ed92ee8d5854f",
        "drop": "b1e9c913132144b88894a1075ff39ad0",
    ]

    public var messageID: String { Self.messageIDs[rawValue]! }
}
