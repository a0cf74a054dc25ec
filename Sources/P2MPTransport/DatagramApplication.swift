import NIOCore
import P2MPProtocol

/// Event-loop glue for a sans-I/O state machine: something driven by datagrams and one timer.
///
/// Every method is called on the event loop that owns the sockets, one call at a time, so
/// an application needs no locks. It talks back through the `DatagramIO` it is handed.
public protocol DatagramApplication: AnyObject, SendableMetatype {
    /// What the application reports when it finishes.
    associatedtype Outcome: Sendable

    /// Called once, after every socket is bound.
    func start(io: DatagramIO<Outcome>)
    /// A datagram arrived.
    func receive(_ datagram: ByteBuffer, from sender: SocketAddress, io: DatagramIO<Outcome>)
    /// The deadline last given to `DatagramIO.setTimer` has passed (possibly a little early
    /// or late, never skipped); the application checks its own deadlines.
    func timerFired(io: DatagramIO<Outcome>)
    /// A batch of datagrams (one vectored read) has been delivered: the moment to send one
    /// acknowledgement for many datagrams.
    func receiveBatchComplete(io: DatagramIO<Outcome>)
}

extension DatagramApplication {
    public func receiveBatchComplete(io: DatagramIO<Outcome>) {}
}

/// An application that also takes commands from outside its event loop (signals, say)
/// through a `DatagramMailbox`.
public protocol CommandableDatagramApplication: DatagramApplication {
    associatedtype Command: Sendable
    func handle(_ command: Command, io: DatagramIO<Outcome>)
}
