import NIOConcurrencyHelpers
import NIOCore

/// Carries commands from any thread (a signal handler, say) to an application running on
/// an event loop. Commands posted before the application started are delivered when it
/// starts; commands posted after it finished are dropped.
public final class DatagramMailbox<Command: Sendable>: Sendable {
    private struct Receiver: Sendable {
        var loop: any EventLoop
        var deliver: NIOLoopBound<(Command) -> Void>
    }

    private enum State: Sendable {
        case waiting([Command])
        case ready(Receiver)
        case closed
    }

    private let state = NIOLockedValueBox(State.waiting([]))

    public init() {}

    /// Delivers `command` on the application's event loop.
    public func post(_ command: Command) {
        let target: Receiver? = state.withLockedValue { state in
            switch state {
            case .waiting(var queued):
                queued.append(command)
                state = .waiting(queued)
                return nil
            case .ready(let receiver):
                return receiver
            case .closed:
                return nil
            }
        }
        guard let target else { return }
        target.loop.execute { target.deliver.value(command) }
    }

    /// Called on `loop` by the runner once the application started.
    func open(on loop: any EventLoop, deliver: @escaping (Command) -> Void) {
        let receiver = Receiver(loop: loop, deliver: NIOLoopBound(deliver, eventLoop: loop))
        let queued: [Command] = state.withLockedValue { state in
            guard case .waiting(let queued) = state else { return [] }
            state = .ready(receiver)
            return queued
        }
        for command in queued { deliver(command) }
    }

    /// Stops delivery.
    public func close() {
        state.withLockedValue { $0 = .closed }
    }
}
