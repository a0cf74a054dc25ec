/// p2mpd's settings, as read from `/etc/p2mp/p2mpd.toml`, its drop-ins and the command line
/// (see `ConfigurationLoader` and p2mpd.toml(5)). Every value here has been validated.
public struct DaemonConfiguration: Sendable, Equatable {
    /// `listen`: UDP addresses to bind, at least one.
    public var listen: [SocketAddressSpec]
    /// `spool`: absolute path of the directory that receives files.
    public var spool: String
    /// `loss`: simulated loss probability in [0, 1], for experiments; 0 in production.
    public var loss: Double
    /// `max_file_size`: larger pushes are refused.
    public var maxFileSize: ByteSize
    /// `min_free_space`: a push that would leave less free space in the spool is refused.
    public var minFreeSpace: ByteSize
    /// `max_transfers`: concurrent transfers, in 1...100000.
    public var maxTransfers: Int
    /// `max_partials`: partial files the spool holds at most, in 1...100000; an OFFER of new
    /// content beyond is refused busy.
    public var maxPartials = 1_024
    /// `max_partials_per_sender`: partial files one sender (its key, or its address) may have
    /// started in this run of the daemon and not finished, in 1...100000.
    public var maxPartialsPerSender = 64
    /// `idle_timeout`: a transfer that hears nothing from its sender for this long is abandoned.
    public var idleTimeout: Duration
    /// `log_level`.
    public var logLevel: LogLevel
    /// `loss_event_interval`: a transfer logs at most one loss event per cause this often.
    public var lossEventInterval: Duration
    /// `allow`: networks allowed to push.
    public var allow: [CIDR]
    /// `conflict`: what a push does when its file name exists already.
    public var conflict: ConflictPolicy
    /// `partial_max_age`: partial files untouched for this long are deleted.
    public var partialMaxAge: Duration
    /// `post_receive`: a command run after each committed file, or nil.
    public var postReceive: String?
    /// `post_receive_timeout`: the post-receive command is killed after this long.
    public var postReceiveTimeout: Duration
    /// `manage_allow`: networks allowed to rename and delete spool files.
    public var manageAllow: [CIDR]
    /// `trusted_senders`: the file of keys that may push and manage (docs/SECURITY.md), or
    /// nil: then only unauthenticated requests from loopback addresses are served.
    public var trustedSenders: String?
    /// `host_key`: the daemon's own key pair, made on first start; nil means
    /// `SPOOL/.p2mp/host_key`.
    public var hostKey: String?

    /// Where the host key is.
    public var hostKeyPath: String { hostKey ?? spool + "/.p2mp/host_key" }

    public init(
        listen: [SocketAddressSpec], spool: String, loss: Double, maxFileSize: ByteSize, minFreeSpace: ByteSize,
        maxTransfers: Int, idleTimeout: Duration, logLevel: LogLevel, allow: [CIDR], conflict: ConflictPolicy,
        partialMaxAge: Duration, postReceive: String?, postReceiveTimeout: Duration, manageAllow: [CIDR]
    ) {
        self.listen = listen
        self.spool = spool
        self.loss = loss
        self.maxFileSize = maxFileSize
        self.minFreeSpace = minFreeSpace
        self.maxTransfers = maxTransfers
        self.idleTimeout = idleTimeout
        self.logLevel = logLevel
        self.allow = allow
        self.conflict = conflict
        self.partialMaxAge = partialMaxAge
        self.postReceive = postReceive
        self.postReceiveTimeout = postReceiveTimeout
        self.manageAllow = manageAllow
        self.lossEventInterval = Self.defaultLossEventInterval
        self.trustedSenders = nil
        self.hostKey = nil
    }

    /// The default `loss_event_interval`.
    public static let defaultLossEventInterval: Duration = .seconds(5)

    /// The embedded defaults, used for every key that no file and no flag sets. They match the
    /// commented-out values in the shipped `etc/p2mp/p2mpd.toml`.
    public static let defaults = DaemonConfiguration(
        listen: [SocketAddressSpec(address: [0, 0, 0, 0], port: 7735)],
        spool: "/var/lib/p2mp/spool",
        loss: 0,
        maxFileSize: .gibibytes(64),
        minFreeSpace: .gibibytes(1),
        maxTransfers: 64,
        idleTimeout: .seconds(30),
        logLevel: .info,
        allow: [
            CIDR(address: [0, 0, 0, 0], prefixLength: 0),
            CIDR(address: [UInt8](repeating: 0, count: 16), prefixLength: 0),
        ],
        conflict: .reject,
        partialMaxAge: .seconds(604_800),
        postReceive: nil,
        postReceiveTimeout: .seconds(60),
        manageAllow: []
    )

    /// Whether a peer may push: its address (4 or 16 bytes, network order) is in an `allow`
    /// network. IPv4-mapped IPv6 addresses are matched as the IPv4 address they carry.
    public func allows(ipAddress: [UInt8]) -> Bool {
        allow.contains { $0.contains(ipAddress) }
    }

    /// Whether a peer may rename and delete spool files: its address is in a `manage_allow` network.
    public func allowsManagement(ipAddress: [UInt8]) -> Bool {
        manageAllow.contains { $0.contains(ipAddress) }
    }
}
