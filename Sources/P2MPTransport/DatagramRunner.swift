import NIOCore
import NIOPosix

/// Binds UDP sockets and runs a `DatagramApplication` on them until it finishes.
public enum DatagramRunner {
    /// Largest UDP payload; receive buffers this size never truncate a datagram.
    static let maximumDatagram = 65_536

    /// Binds one socket per address (all on `loop`), creates the application on the loop
    /// and returns its outcome once it calls `finish`.
    public static func run<Application: DatagramApplication>(
        bindingTo addresses: [SocketAddress],
        on loop: any EventLoop,
        makeApplication: @escaping @Sendable () throws -> Application
    ) async throws -> Application.Outcome {
        var channels: [any Channel] = []
        do {
            for address in addresses {
                let channel = try await DatagramBootstrap(group: loop)
                    .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: maximumDatagram))
                    .channelOption(.datagramVectorReadMessageCount, value: 32)
                    .bind(to: address).get()
                channels.append(channel)
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        let bound = channels
        return try await loop.flatSubmit { () -> EventLoopFuture<Application.Outcome> in
            let promise = loop.makePromise(of: Application.Outcome.self)
            do {
                let application = try makeApplication()
                let io = DatagramIO(loop: loop, channels: bound, promise: promise)
                io.onTimer = { [unowned application, unowned io] in application.timerFired(io: io) }
                for channel in bound {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler(application: application, io: io))
                }
                application.start(io: io)
                io.flush()
            } catch {
                for channel in bound { channel.close(promise: nil) }
                promise.fail(error)
            }
            return promise.futureResult
        }.get()
    }
}

/// Hands datagrams from one socket to the application and flushes its replies in batches.
final class DatagramHandler<Application: DatagramApplication>: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let application: Application
    private let io: DatagramIO<Application.Outcome>

    init(application: Application, io: DatagramIO<Application.Outcome>) {
        self.application = application
        self.io = io
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        application.receive(envelope.data, from: envelope.remoteAddress, io: io)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        io.flush()
    }

    /// ICMP errors (port unreachable and the like) surface here per datagram; a UDP
    /// endpoint keeps serving, and the protocol's timers handle the silence.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
