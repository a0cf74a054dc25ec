import Testing

@testable import P2MPDaemon

/// What p2mpd derives from the receive buffer the kernel granted: the window it offers and
/// whether it warns the operator.
@Suite("Receive buffer")
struct ReceiveBufferTests {
    @Test("the window is a third of the buffer, never below 4 MiB")
    func window() {
        #expect(ReceiverDaemon.windowBytes(receiveBufferBytes: 32 << 20) == (32 << 20) / 3)
        #expect(ReceiverDaemon.windowBytes(receiveBufferBytes: 425_984) == 4 << 20)
    }

    @Test("a buffer capped by net.core.rmem_max is reported with the setting to change; a granted one is not")
    func warning() throws {
        // Debian's default rmem_max (212,992) comes back doubled.
        let warning = try #require(ReceiverDaemon.receiveBufferWarning(receiveBufferBytes: 425_984))
        #expect(warning.contains("416 KiB"))
        #expect(warning.contains("net.core.rmem_max"))
        #expect(ReceiverDaemon.receiveBufferWarning(receiveBufferBytes: 32 << 20) == nil)
    }
}
