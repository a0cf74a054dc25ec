import P2MPProtocol

/// At most `burst` auth-failed events per `interval`: a flood of forged or untrusted
/// handshakes cannot fill the journal. What was held back is counted and reported with the
/// first event of the next interval (`P2MP_SUPPRESSED`).
struct AuthFailureLog {
    static let burst = 10
    static let interval: Duration = .seconds(10)

    private var windowStart = Instant.zero
    private var logged = 0
    private(set) var suppressed = 0

    /// Whether an event at `now` is logged; if so, how many were held back before it.
    mutating func admit(now: Instant) -> (log: Bool, heldBack: Int) {
        if now >= windowStart + Self.interval {
            windowStart = now
            logged = 0
        }
        guard logged < Self.burst else {
            suppressed += 1
            return (false, 0)
        }
        logged += 1
        let heldBack = suppressed
        suppressed = 0
        return (true, heldBack)
    }
}
