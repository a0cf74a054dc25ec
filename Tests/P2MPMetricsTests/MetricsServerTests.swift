import NIOCore
import NIOPosix
import P2MPMetrics
import Testing

/// `MetricsServer` on a real loopback TCP socket, its limits made small.
@Suite("metrics server", .timeLimit(.minutes(1)))
struct MetricsServerTests {
    /// A server on an ephemeral loopback port, its page not yet filled in, and its port.
    static func start(limits: MetricsServer.Limits = .init()) async throws -> (server: any Channel, page: MetricsServer.Page, port: Int) {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let page = MetricsServer.Page.makeEmptyBox(valueType: (() -> [UInt8]).self, eventLoop: loop)
        let server = try await MetricsServer.start(
            on: loop, address: try SocketAddress(ipAddress: "127.0.0.1", port: 0), page: page, limits: limits)
        return (server, page, try #require(server.localAddress?.port))
    }

    typealias Connection = NIOAsyncChannel<ByteBuffer, ByteBuffer>

    static func connect(port: Int) async throws -> Connection {
        try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture { try Connection(wrappingChannelSynchronously: channel) }
        }
    }

    /// Connects, sends `request` as is, and returns all the server sent until it closed the connection.
    static func exchange(_ request: String, port: Int) async throws -> String {
        try await connect(port: port).executeThenClose { inbound, outbound in
            if !request.isEmpty { try await outbound.write(ByteBuffer(string: request)) }
            var received = ""
            for try await chunk in inbound { received += String(buffer: chunk) }
            return received
        }
    }

    static func get(_ path: String, method: String = "GET") -> String {
        "\(method) \(path) HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    }

    @Test("503 until the page is there; then GET /metrics is the page, in Prometheus' media type")
    func page() async throws {
        let (server, page, port) = try await Self.start()
        defer { server.close(promise: nil) }
        #expect(try await Self.exchange(Self.get("/metrics"), port: port).hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        try await server.eventLoop.submit { page.value = { Array("up 1\n".utf8) } }.get()
        let response = try await Self.exchange(Self.get("/metrics"), port: port)
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(response.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(response.contains("\r\nContent-Length: 5\r\n"))
        #expect(response.hasSuffix("\r\n\r\nup 1\n"))
    }

    @Test("other paths are 404, other methods 405 with Allow; two requests on one connection get two answers")
    func surface() async throws {
        let (server, page, port) = try await Self.start()
        defer { server.close(promise: nil) }
        try await server.eventLoop.submit { page.value = { Array("up 1\n".utf8) } }.get()
        #expect(try await Self.exchange(Self.get("/"), port: port).hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(try await Self.exchange(Self.get("/metricsx"), port: port).hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        let put = try await Self.exchange(Self.get("/metrics", method: "PUT"), port: port)
        #expect(put.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n") && put.contains("\r\nAllow: GET, HEAD\r\n"))
        let twice = try await Self.exchange("GET /metrics HTTP/1.1\r\nHost: test\r\n\r\n" + Self.get("/metrics"), port: port)
        #expect(twice.ranges(of: "HTTP/1.1 200 OK\r\n").count == 2, "\(twice)")
        #expect(try await Self.exchange("BREW /metrics HTCPCP/1.0\r\n\r\n", port: port).hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
    }

    @Test("a request larger than the limit closes the connection unanswered")
    func requestSizeLimit() async throws {
        let (server, _, port) = try await Self.start(limits: .init(maximumRequestBytes: 1_024))
        defer { server.close(promise: nil) }
        let oversized = "GET /metrics HTTP/1.1\r\nHost: test\r\nX-Padding: " + String(repeating: "x", count: 2_000) + "\r\n\r\n"
        #expect((try? await Self.exchange(oversized, port: port)) ?? "" == "", "closed (or reset) unanswered")
    }

    @Test("connections beyond the limit are closed at once, unanswered")
    func connectionLimit() async throws {
        let (server, page, port) = try await Self.start(limits: .init(maximumConnections: 1))
        defer { server.close(promise: nil) }
        try await server.eventLoop.submit { page.value = { Array("up 1\n".utf8) } }.get()
        // The first connection (accepted first: the kernel queues them in order) starts a
        // request and holds the only place; the second is closed without an answer.
        let first = try await Self.connect(port: port)
        try await first.executeThenClose { _, outbound in
            try await outbound.write(ByteBuffer(string: "GET /metrics HTTP/1.1\r\n"))
            // Closed with the request unread: the peer may see a reset rather than an end.
            #expect((try? await Self.exchange(Self.get("/metrics"), port: port)) ?? "" == "")
        }
        var answered = ""
        for _ in 0..<100 where !answered.hasPrefix("HTTP/1.1 200") {
            answered = try await Self.exchange(Self.get("/metrics"), port: port)  // Once the first is gone.
        }
        #expect(answered.hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test("a connection that stays idle is closed")
    func idleTimeout() async throws {
        let (server, _, port) = try await Self.start(limits: .init(idleTimeout: .milliseconds(200)))
        defer { server.close(promise: nil) }
        #expect(try await Self.exchange("", port: port) == "", "the server closed it, having sent nothing")
        #expect(try await Self.exchange("GET /metrics HTTP/1.1\r\n", port: port) == "", "half a request, then silence")
    }
}
