/// The kinds of event p2mpd logs, as `P2MP_EVENT=<rawValue>` in the journal, each with its
/// own MESSAGE_ID (explained in systemd/p2mp.catalog).
public enum DaemonEvent: String, CaseIterable, Sendable {
    case start, stop, reload
    case configError = "config-error"
    case offer, accept, reject, loss, retransmit, complete, fail

    /// MESSAGE_ID per event kind, for `journalctl MESSAGE_ID=…` and the catalog.
    public static let messageIDs: [String: String] = [
        "start": "4b6d0e3ad7b94c1f9a3e0b8c5f2d6e71",
        "stop": "9c2f7a1e5b8d4e6fa0c3d5b7e9f1a2c4",
        "reload": "2e8a4c6f0b1d4357a9c8e7f6d5b4a3c2",
        "config-error": "7f3b9d1e5a2c4e8f9b0a6c4d2e8f1a3b",
        "offer": "1a5c9e3f7b2d4f6a8c0e2a4c6e8f0b1d",
        "accept": "3c7e1a5f9b3d4b7f8d1f3b5d7f9a1c3e",
        "reject": "5e9a3c7b1d5f4d9b8f3b5d7f9b1c3e5a",
        "loss": "470972557a1b41be9c73ff6826f18d8c",
        "retransmit": "6f0b4d8a2c6e4a0c9e4c6e8a0c2e4f6b",
        "complete": "8b2d6f0c4e8a4c2e9a6e8c0e2a4c6e8f",
        "fail": "0d4f8b2e6a0c4e4a9c8a0c2e4a6c8e0a",
    ]

    public var messageID: String { Self.messageIDs[rawValue]! }
}
