import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP side of the metrics: `GET /metrics` (and `HEAD`) answered with the page the
/// program renders; any other path is 404, any other method on it 405. It runs on the
/// program's own event loop, so the page is rendered there, beside the state it reads,
/// without locks.
///
/// Bounded: at most `maximumConnections` connections at once (more are closed as they are
/// accepted), at most `maximumRequestBytes` read since the last reply (a larger request, or
/// a body, closes the connection), and a connection idle for `idleTimeout` is closed.
public enum MetricsServer {
    public struct Limits: Sendable {
        public var maximumConnections: Int
        public var maximumRequestBytes: Int
        public var idleTimeout: TimeAmount

        public init(maximumConnections: Int = 16, maximumRequestBytes: Int = 8 << 10, idleTimeout: TimeAmount = .seconds(30)) {
            self.maximumConnections = maximumConnections
            self.maximumRequestBytes = maximumRequestBytes
            self.idleTimeout = idleTimeout
        }
    }

    /// What the server answers with: set on the loop once the program can render its page
    /// (until then a scrape gets 503).
    public typealias Page = NIOLoopBoundBox<(() -> [UInt8])?>

    /// The path served.
    public static let path = "/metrics"
    /// Prometheus' text format, as `MetricsPublisher` renders it.
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Listens on `address` with every connection on `loop`; returns the listening channel
    /// (close it to stop) once bound.
    public static func start(
        on loop: any EventLoop, address: SocketAddress, page: Page, limits: Limits = Limits()
    ) async throws -> any Channel {
        let open = NIOLoopBoundBox.makeBoxSendingValue(0, eventLoop: loop)
        return try await ServerBootstrap(group: loop)
            .serverChannelOption(.backlog, value: Int32(limits.maximumConnections))
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard open.value < limits.maximumConnections else { return channel.close() }
                open.value += 1
                channel.closeFuture.whenComplete { _ in open.value -= 1 }
                return channel.eventLoop.makeCompletedFuture {
                    let pipeline = channel.pipeline.syncOperations
                    try pipeline.addHandler(IdleStateHandler(allTimeout: limits.idleTimeout))
                    try pipeline.addHandler(RequestSizeLimit(maximumBytes: limits.maximumRequestBytes))
                    try pipeline.configureHTTPServerPipeline(withErrorHandling: true)
                    try pipeline.addHandler(MetricsRequestHandler(page: page))
                }
            }
            .bind(to: address).get()
    }
}

/// Closes a connection that sends more than `maximumBytes` without getting a reply: request
/// heads are small, and a scrape has no body.
final class RequestSizeLimit: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private let maximumBytes: Int
    private var bytesSinceReply = 0

    init(maximumBytes: Int) {
        self.maximumBytes = maximumBytes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytesSinceReply += unwrapInboundIn(data).readableBytes
        guard bytesSinceReply <= maximumBytes else {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        bytesSinceReply = 0
        context.write(data, promise: promise)
    }
}

/// Answers each request once it has been read whole.
final class MetricsRequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let page: MetricsServer.Page
    private var request: HTTPRequestHead?

    init(page: MetricsServer.Page) {
        self.page = page
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): request = head
        case .body: break
        case .end:
            guard let request else { return }
            self.request = nil
            respond(to: request, context: context)
        }
    }

    /// A request that does not parse (answered 400 by the protocol error handler before it
    /// reaches here) or any other error ends the connection.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// An idle connection is closed.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is IdleStateHandler.IdleStateEvent else { return context.fireUserInboundEventTriggered(event) }
        context.close(promise: nil)
    }

    private func respond(to request: HTTPRequestHead, context: ChannelHandlerContext) {
        let path = request.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let (status, body, extraHeaders): (HTTPResponseStatus, [UInt8], [(String, String)])
        if path != MetricsServer.path {
            (status, body, extraHeaders) = (.notFound, Array("only \(MetricsServer.path) is served here\n".utf8), [])
        } else if request.method != .GET && request.method != .HEAD {
            (status, body, extraHeaders) = (.methodNotAllowed, Array("\(MetricsServer.path) takes GET or HEAD\n".utf8), [("Allow", "GET, HEAD")])
        } else if let render = page.value {
            (status, body, extraHeaders) = (.ok, render(), [])
        } else {
            (status, body, extraHeaders) = (.serviceUnavailable, Array("starting\n".utf8), [])
        }
        var headers = HTTPHeaders(extraHeaders)
        headers.add(name: "Content-Type", value: status == .ok ? MetricsServer.contentType : "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.count)")
        let keepAlive = request.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        if !keepAlive {
            let connection = NIOLoopBound(context, eventLoop: context.eventLoop)
            written.futureResult.whenComplete { _ in connection.value.close(promise: nil) }
        }
    }
}
