import NIOCore
import NIOPosix

/// Where a UDP socket comes from.
public enum DatagramSocket: Sendable, Equatable {
    /// Bind a new socket; IPv6 sockets are IPv6-only, so `0.0.0.0` and `[::]` can coexist.
    case bind(SocketAddress)
    /// Use a socket inherited already bound (systemd socket activation).
    case adopt(descriptor: Int32)
}

/// Binds UDP sockets and runs a `DatagramApplication` on them until it finishes.
public enum DatagramRunner {
    /// Largest UDP payload; receive slots this size never truncate a datagram.
    static let maximumDatagram = 65_536
    /// Datagrams read per system call. NIO splits one pooled receive buffer evenly among
    /// them, so the buffer holds `vectorReadCount` full-size slots (1 MiB, reused).
    static let vectorReadCount = 16

    /// Binds one socket per address (all on `loop`), creates the application on the loop
    /// and returns its outcome once it calls `finish`.
    public static func run<Application: DatagramApplication>(
        bindingTo addresses: [SocketAddress],
        on loop: any EventLoop,
        makeApplication: @escaping @Sendable () throws -> Application
    ) async throws -> Application.Outcome {
        try await run(sockets: addresses.map { .bind($0) }, on: loop, makeApplication: makeApplication)
    }

    /// Opens `sockets`, runs the application, and delivers commands posted to `mailbox`
    /// on the loop.
    public static func run<Application: CommandableDatagramApplication>(
        sockets: [DatagramSocket],
        on loop: any EventLoop,
        mailbox: DatagramMailbox<Application.Command>,
        makeApplication: @escaping @Sendable () throws -> Application
    ) async throws -> Application.Outcome {
        try await run(sockets: sockets, on: loop, makeApplication: makeApplication) { application, io in
            // A command may still be on its way to the loop when the run finishes (a second
            // SIGTERM just after the first): it finds the application gone, or finished, and
            // is dropped.
            mailbox.open(on: loop) { [weak application, weak io] command in
                guard let application, let io, !io.hasFinished else { return }
                application.handle(command, io: io)
            }
        }
    }

    /// Opens `sockets` (all on `loop`), creates the application on the loop and returns its
    /// outcome once it calls `finish`.
    public static func run<Application: DatagramApplication>(
        sockets: [DatagramSocket],
        on loop: any EventLoop,
        makeApplication: @escaping @Sendable () throws -> Application,
        whenStarted: @escaping @Sendable (Application, DatagramIO<Application.Outcome>) -> Void = { _, _ in }
    ) async throws -> Application.Outcome {
        var channels: [any Channel] = []
        do {
            for socket in sockets {
                let bootstrap = DatagramBootstrap(group: loop)
                    .channelOption(
                        .recvAllocator,
                        value: FixedSizeRecvByteBufferAllocator(capacity: maximumDatagram * vectorReadCount))
                    .channelOption(.datagramVectorReadMessageCount, value: vectorReadCount)
                switch socket {
                case .bind(let address):
                    let channel =
                        try await (address.protocol == .inet6
                        ? bootstrap.channelOption(Self.ipv6Only, value: 1) : bootstrap)
                        .bind(to: address).get()
                    channels.append(channel)
                case .adopt(let descriptor):
                    channels.append(try await bootstrap.withBoundSocket(descriptor).get())
                }
            }
        } catch {
            for channel in channels { try? await channel.close() }
            throw error
        }
        var receiveBufferBytes = Int.max
        for channel in channels {
            await enlargeBuffers(of: channel)
            await enableReceiveOffload(on: channel)
            let granted = try? await channel.getOption(.socketOption(.so_rcvbuf)).get()
            receiveBufferBytes = min(receiveBufferBytes, Int(granted ?? SocketOptionValue(socketBufferBytes)))
        }
        let bound = channels
        let smallestReceiveBuffer = receiveBufferBytes
        return try await loop.flatSubmit { () -> EventLoopFuture<Application.Outcome> in
            let promise = loop.makePromise(of: Application.Outcome.self)
            do {
                let application = try makeApplication()
                let io = DatagramIO(
                    loop: loop, channels: bound, receiveBufferBytes: smallestReceiveBuffer, promise: promise)
                io.onTimer = { [unowned application, unowned io] in application.timerFired(io: io) }
                for channel in bound {
                    try channel.pipeline.syncOperations.addHandler(DatagramHandler(application: application, io: io))
                }
                application.start(io: io)
                whenStarted(application, io)
                io.flush()
            } catch {
                for channel in bound { channel.close(promise: nil) }
                promise.fail(error)
            }
            return promise.futureResult
        }.get()
    }
}

extension DatagramRunner {
    /// IPV6_V6ONLY, an option of the IPv6 level (IPPROTO_IPV6): with it an IPv6 socket on
    /// `[::]` leaves IPv4 to a socket of its own on `0.0.0.0` and the same port.
    static let ipv6Only = ChannelOptions.Types.SocketOption(level: .ipv6, name: .ipv6_v6only)

    /// Socket buffers sized for bursts at high rates: a full receive buffer drops
    /// datagrams, which congestion control then mistakes for network loss.
    static let socketBufferBytes = 16 << 20

    /// Asks for `socketBufferBytes` of receive and send buffer. The kernel caps the plain
    /// options at net.core.rmem_max / wmem_max; a privileged process may go beyond with the
    /// FORCE variants. Either way failure is harmless, so it is ignored.
    static func enlargeBuffers(of channel: any Channel) async {
        let size = SocketOptionValue(socketBufferBytes)
        #if os(Linux)
        let forced: [(NIOBSDSocket.Option, NIOBSDSocket.Option)] = [
            (NIOBSDSocket.Option(rawValue: 33), .so_rcvbuf),  // SO_RCVBUFFORCE
            (NIOBSDSocket.Option(rawValue: 32), .so_sndbuf),  // SO_SNDBUFFORCE
        ]
        for (force, plain) in forced {
            do {
                try await channel.setOption(.socketOption(force), value: size).get()
            } catch {
                try? await channel.setOption(.socketOption(plain), value: size).get()
            }
        }
        #else
        try? await channel.setOption(.socketOption(.so_rcvbuf), value: size).get()
        try? await channel.setOption(.socketOption(.so_sndbuf), value: size).get()
        #endif
    }
}

extension DatagramRunner {
    /// Lets the kernel hand over a burst of equal-sized datagrams from one sender (a UDP GSO
    /// send, or datagrams a NIC coalesced) in one read, with their size beside it; the
    /// handler cuts them apart again. Where the system lacks it, datagrams come singly.
    static func enableReceiveOffload(on channel: any Channel) async {
        guard System.supportsUDPReceiveOffload else { return }
        do {
            try await channel.setOption(.datagramReceiveOffload, value: true).get()
            try await channel.setOption(.datagramReceiveSegmentSize, value: true).get()
        } catch {
            try? await channel.setOption(.datagramReceiveOffload, value: false).get()
        }
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

    /// Reads still in the batch when the application finished are dropped.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !io.hasFinished else { return }
        let envelope = unwrapInboundIn(data)
        guard let segmentSize = envelope.metadata?.segmentSize, segmentSize > 0,
            envelope.data.readableBytes > segmentSize
        else {
            application.receive(envelope.data, from: envelope.remoteAddress, io: io)
            return
        }
        // Coalesced datagrams: every one is `segmentSize` bytes but the last.
        var coalesced = envelope.data
        while coalesced.readableBytes > 0,
            let datagram = coalesced.readSlice(length: min(segmentSize, coalesced.readableBytes))
        {
            application.receive(datagram, from: envelope.remoteAddress, io: io)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        guard !io.hasFinished else { return }
        application.receiveBatchComplete(io: io)
        io.flush()
    }

    /// ICMP errors (port unreachable and the like) surface here per datagram; a UDP
    /// endpoint keeps serving, and the protocol's timers handle the silence.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
