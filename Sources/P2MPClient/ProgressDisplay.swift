#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The live progress block on a terminal: each redraw moves the cursor back up over the
/// previous block and rewrites it line by line, at most every `minimumInterval` seconds.
/// On anything but a terminal it writes nothing. Use it from one task or thread.
public final class ProgressDisplay {
    public let descriptor: Int32
    /// When false, every method does nothing.
    public let isTerminal: Bool
    /// Redraws closer together than this are skipped unless forced.
    public var minimumInterval = 0.1
    private let clock: () -> Double
    private let width: () -> Int
    /// Lines of the block on screen, the cursor at the start of the line below them.
    private var drawnLines = 0
    private var lastDraw: Double?
    private var finished = false

    /// `isTerminal` defaults to `ProgressDisplay.isTerminal(descriptor)`, `clock` to the
    /// monotonic clock in seconds, `width` to the terminal's columns.
    public init(
        descriptor: Int32, isTerminal: Bool? = nil, clock: (() -> Double)? = nil, width: (() -> Int)? = nil
    ) {
        self.descriptor = descriptor
        self.isTerminal = isTerminal ?? Self.isTerminal(descriptor)
        self.clock = clock ?? Self.monotonicSeconds
        self.width = width ?? { Self.terminalWidth(descriptor) }
    }

    /// Draws `state` in place of the previous block, unless the last draw was less than
    /// `minimumInterval` ago and `force` is false. True when it drew.
    @discardableResult
    public func redraw(_ state: ProgressState, force: Bool = false) -> Bool {
        guard isTerminal, !finished else { return false }
        let now = clock()
        if !force, let lastDraw, now - lastDraw < minimumInterval { return false }
        lastDraw = now
        // One column short of the edge: a full-width line would wrap early on some terminals.
        let lines = ProgressRenderer.render(state, width: max(1, width() - 1))
        write(Self.frame(lines, replacing: drawnLines))
        drawnLines = lines.count
        return true
    }

    /// Draws the final state and leaves the cursor below it; later redraws do nothing.
    public func finish(_ state: ProgressState) {
        guard isTerminal, !finished else { return }
        redraw(state, force: true)
        finished = true
    }

    /// Erases the block (to print a message in its place); the next redraw starts afresh.
    public func clear() {
        guard isTerminal, drawnLines > 0 else { return }
        write("\u{1B}[\(drawnLines)A\r\u{1B}[0J")
        drawnLines = 0
    }

    /// The bytes of one redraw: up over the `previous` lines, then each line cleared and
    /// rewritten, then anything left of a longer previous block cleared.
    static func frame(_ lines: [String], replacing previous: Int) -> String {
        var text = previous > 0 ? "\u{1B}[\(previous)A" : ""
        for line in lines { text += "\r\u{1B}[2K" + line + "\n" }
        if previous > lines.count { text += "\u{1B}[0J" }
        return text
    }

    /// A terminal that understands cursor movement: isatty(3) and `TERM` is not `dumb`.
    public static func isTerminal(_ descriptor: Int32) -> Bool {
        guard isatty(descriptor) == 1 else { return false }
        guard let term = getenv("TERM") else { return true }
        return String(cString: term) != "dumb"
    }

    /// Columns from TIOCGWINSZ, 80 when unknown.
    public static func terminalWidth(_ descriptor: Int32) -> Int {
        var size = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
        return Int(size.ws_col)
    }

    static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// All of `text` with write(2), retrying short writes; errors drop the rest.
    private func write(_ text: String) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                systemWrite(descriptor, raw.baseAddress! + offset, raw.count - offset)
            }
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return }
            offset += count
        }
    }
}

/// `write(2)`, named apart from the class's own `write(_:)`.
private func systemWrite(_ descriptor: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Glibc)
    Glibc.write(descriptor, buffer, count)
    #else
    Darwin.write(descriptor, buffer, count)
    #endif
}
