import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Testing

@testable import P2MPTransport

/// Finishes on its first command and counts every command it is handed.
final class StopOnCommand: CommandableDatagramApplication {
    typealias Outcome = Int
    typealias Command = Int

    let handled: NIOLockedValueBox<[Int]>

    init(handled: NIOLockedValueBox<[Int]>) {
        self.handled = handled
    }

    func start(io: DatagramIO<Int>) {}
    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Int>) {}
    func timerFired(io: DatagramIO<Int>) {}

    func handle(_ command: Int, io: DatagramIO<Int>) {
        handled.withLockedValue { $0.append(command) }
        io.finish(command)
    }
}

@Suite("Commands through the mailbox")
struct MailboxTests {
    @Test("a command that arrives after the application finished is dropped, not handled")
    func afterFinish() async throws {
        // Two stops back to back, as when p2mpd gets SIGTERM from `timeout` and again from
        // its process group: the first finishes the run, the second must find it finished.
        let handled = NIOLockedValueBox<[Int]>([])
        let mailbox = DatagramMailbox<Int>()
        mailbox.post(1)
        mailbox.post(2)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let outcome = try await DatagramRunner.run(
            sockets: [.bind(try SocketAddress(ipAddress: "127.0.0.1", port: 0))], on: loop, mailbox: mailbox
        ) { StopOnCommand(handled: handled) }
        mailbox.post(3)  // After the run, before anyone closed the mailbox.
        try await loop.submit {}.get()  // Whatever was queued on the loop has run.
        mailbox.close()
        #expect(outcome == 1)
        #expect(handled.withLockedValue { $0 } == [1])
    }
}
