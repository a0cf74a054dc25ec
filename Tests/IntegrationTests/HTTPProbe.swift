import Foundation

/// A scraper in miniature: one HTTP/1.1 request over a TCP socket of the test's own, the
/// response read until the server closes (requests ask for `Connection: close`).
enum HTTPProbe {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// `GET PATH` (or another method) to `host:port` (IPv4).
    static func request(_ path: String, method: String = "GET", host: String, port: Int) throws -> Response {
        try send("\(method) \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n", host: host, port: port)
    }

    /// Sends `raw` as is and reads the response to the end (at most `timeout` seconds).
    static func send(_ raw: String, host: String, port: Int, timeout: Double = 10) throws -> Response {
        let descriptor = try connected(host: host, port: port)
        defer { close(descriptor) }
        _ = Array(raw.utf8).withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        let bytes = readToEnd(descriptor, timeout: timeout)
        return try parse(String(decoding: bytes, as: UTF8.self))
    }

    /// A TCP socket connected to `host:port`.
    static func connected(host: String, port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = UDPRelay.socketAddress(host, port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(description: "connect to \(host):\(port): \(reason)")
        }
        return descriptor
    }

    /// Everything the peer sends until it closes, or until `timeout` seconds pass.
    static func readToEnd(_ descriptor: Int32, timeout: Double) -> [UInt8] {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(max(1, deadline.timeIntervalSinceNow * 1_000))) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received += buffer[..<count]
        }
        return received
    }

    private static func parse(_ text: String) throws -> Response {
        guard let split = text.range(of: "\r\n\r\n") else { throw Failure(description: "no complete response: \(text.debugDescription)") }
        let head = text[..<split.lowerBound].components(separatedBy: "\r\n")
        let statusLine = head.first?.split(separator: " ") ?? []
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw Failure(description: "bad status line: \(head)") }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Response(status: status, headers: headers, body: String(text[split.upperBound...]))
    }
}

/// One scrape of p2mpd's metrics: every sample by its series (`name` or `name{labels}`, as
/// the exposition writes it).
struct MetricsSample {
    let values: [String: Double]

    init(host: String, port: Int) throws {
        let response = try HTTPProbe.request("/metrics", host: host, port: port)
        guard response.status == 200 else { throw HTTPProbe.Failure(description: "scrape: HTTP \(response.status) \(response.body)") }
        var values: [String: Double] = [:]
        for line in response.body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        self.values = values
    }

    subscript(_ series: String) -> Double? { values[series] }
}
