import Glibc
import Testing

@testable import P2MPSystemd

extension ProcessEnvironmentTests {
    @Suite("sd_listen_fds")
    struct ListenFDsEnvironmentTests {
        @Test("no LISTEN_FDS: nothing inherited")
        func unset() throws {
            let inherited = try withEnvironment(["LISTEN_FDS": nil, "LISTEN_PID": nil, "LISTEN_FDNAMES": nil]) {
                try ListenFDs.inherited()
            }
            #expect(inherited.isEmpty)
        }

        @Test("LISTEN_PID of another process: nothing inherited")
        func otherProcess() throws {
            let inherited = try withEnvironment(["LISTEN_FDS": "1", "LISTEN_PID": String(getpid() + 1), "LISTEN_FDNAMES": nil]) {
                try ListenFDs.inherited()
            }
            #expect(inherited.isEmpty)
        }

        @Test("malformed LISTEN_FDS for this process is an error")
        func malformed() {
            withEnvironment(["LISTEN_FDS": "many", "LISTEN_PID": String(getpid()), "LISTEN_FDNAMES": nil]) {
                #expect(throws: SystemdError.self) { try ListenFDs.inherited() }
            }
        }
    }
}

@Suite("socket kinds")
struct ListenFDsSocketKindTests {
    @Test("a UDP socket is a datagram socket; TCP sockets and pipes are not")
    func kinds() {
        let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let udp6 = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        let tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var pipeEnds: [Int32] = [-1, -1]
        let piped = pipe(&pipeEnds)
        defer { for fd in [udp, udp6, tcp] + pipeEnds where fd >= 0 { close(fd) } }
        #expect(udp >= 0 && tcp >= 0 && piped == 0)
        #expect(ListenFDs.isDatagramSocket(udp))
        if udp6 >= 0 { #expect(ListenFDs.isDatagramSocket(udp6)) }
        #expect(!ListenFDs.isDatagramSocket(tcp))
        #expect(!ListenFDs.isDatagramSocket(pipeEnds[0]))
        #expect(ListenFDs.start == 3)
    }
}
