// swift-tools-version: 6.1
import PackageDescription

/// Layers, with one direction of dependency (see docs/ARCHITECTURE.md):
/// Wire → Protocol → Transport / Spool → Daemon / Client → executables.
/// The pure layers run tens of thousands of simulated transfers inside `swift test`; they are
/// compiled optimized even in debug builds so the suite stays fast.
let optimizedInDebug: [SwiftSetting] = [.unsafeFlags(["-O", "-cross-module-optimization"], .when(configuration: .debug))]

let package = Package(
    name: "p2mp",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "p2mpd", targets: ["p2mpd"]),
        .executable(name: "p2mpsend", targets: ["p2mpsend"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
    ],
    targets: [
        // CRC-32C with the CPU's instruction (SSE4.2), which Swift cannot reach directly.
        .target(name: "CCRC32C", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))]),
        // Packet layouts and checksums. Depends on nothing but the CRC instruction.
        .target(name: "P2MPWire", dependencies: ["CCRC32C"], swiftSettings: optimizedInDebug),
        // Sans-I/O state machines: no sockets, no clock, no files.
        .target(
            name: "P2MPProtocol",
            dependencies: [
                "P2MPWire", .product(name: "HeapModule", package: "swift-collections"),
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            swiftSettings: optimizedInDebug
        ),
        // The trust core, sans-I/O like P2MPProtocol: the signed-Diffie-Hellman handshake
        // (SIGMA-I as TLS 1.3 builds it), cookies, per-datagram AEAD and the replay window.
        // Keys come in as values; nothing here reads a file or a clock.
        .target(
            name: "P2MPSecurity",
            dependencies: ["P2MPWire", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: optimizedInDebug
        ),
        // Key files: Ed25519 key pairs (mode 0600, refused when others can read them),
        // trusted-senders and known-hosts files, with file:line errors.
        .target(
            name: "P2MPKeys",
            dependencies: ["P2MPSecurity", .product(name: "Crypto", package: "swift-crypto")]
        ),
        // SwiftNIO UDP channels and timers driving the state machines.
        .target(
            name: "P2MPTransport",
            dependencies: [
                "P2MPProtocol", "P2MPWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Files on disk: the spool (partials, atomic commit, resume, sidecars), segment
        // sources, atomic writes.
        .target(
            name: "P2MPSpool",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")]
        ),
        // p2mpd.toml, its drop-ins and flag overrides, validated with file:line errors.
        .target(name: "P2MPConfiguration"),
        // libsystemd through a C module map (pkg-config libsystemd, Debian libsystemd-dev).
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        // sd_notify, the journald LogHandler, sd_listen_fds.
        .target(
            name: "P2MPSystemd",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")]
        ),
        // Receiver orchestration: the daemon's main loop, sessions, admission, journald events.
        .target(
            name: "P2MPDaemon",
            dependencies: [
                "P2MPWire", "P2MPProtocol", "P2MPTransport", "P2MPSpool", "P2MPConfiguration", "P2MPSystemd",
                "P2MPSecurity", "P2MPKeys",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // Sender orchestration: pushes, reports.
        .target(
            name: "P2MPClient",
            dependencies: [
                "P2MPWire", "P2MPProtocol", "P2MPTransport", "P2MPSpool", "P2MPSecurity", "P2MPKeys",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Deterministic in-memory network for protocol tests (virtual clock, seeded RNG).
        .target(
            name: "P2MPSimulation",
            dependencies: ["P2MPWire", "P2MPProtocol", .product(name: "HeapModule", package: "swift-collections")],
            swiftSettings: optimizedInDebug
        ),
        // (test support) The daemon's receiving half, the real one, on in-memory disks with
        // faults, in the simulated network.
        .target(
            name: "P2MPDaemonSimulation",
            dependencies: [
                "P2MPDaemon", "P2MPSimulation", "P2MPProtocol", "P2MPSpool", "P2MPConfiguration", "P2MPWire",
                .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: optimizedInDebug
        ),
        // (test support) The native simulation under the trust core: the sender under
        // SecureLinks, every receiver under SecureSessions, and an attacker on the path.
        .target(
            name: "P2MPSecureSimulation",
            dependencies: [
                "P2MPSimulation", "P2MPProtocol", "P2MPSecurity", "P2MPWire",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: optimizedInDebug
        ),
        // Exit codes and error printing shared by the executables.
        .target(
            name: "P2MPCommandLine",
            dependencies: [.product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "p2mpd",
            dependencies: [
                "P2MPDaemon", "P2MPCommandLine", "P2MPConfiguration", "P2MPProtocol", "P2MPSpool", "P2MPTransport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "p2mpsend",
            dependencies: [
                "P2MPClient", "P2MPCommandLine", "P2MPProtocol", "P2MPSpool", "P2MPTransport", "P2MPWire", "P2MPSecurity",
                "P2MPKeys",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // bench/aead: seal/open throughput of both AEADs through P2MPSecurity (docs/SECURITY.md).
        .executableTarget(
            name: "p2mp-aead-bench",
            dependencies: ["P2MPSecurity", .product(name: "Crypto", package: "swift-crypto")],
            path: "bench/aead"
        ),
        .testTarget(name: "P2MPWireTests", dependencies: ["P2MPWire"]),
        .testTarget(
            name: "P2MPSecurityTests",
            dependencies: ["P2MPSecurity", "P2MPWire", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(
            name: "P2MPKeysTests",
            dependencies: ["P2MPKeys", "P2MPSecurity", "P2MPProtocol", .product(name: "Crypto", package: "swift-crypto")]
        ),
        .testTarget(name: "P2MPProtocolTests", dependencies: ["P2MPProtocol", "P2MPSimulation", "P2MPSecureSimulation"]),
        .testTarget(
            name: "P2MPSystemdTests",
            dependencies: ["P2MPSystemd", .product(name: "Logging", package: "swift-log")]
        ),
        .testTarget(name: "P2MPTransportTests", dependencies: ["P2MPTransport"]),
        .testTarget(name: "P2MPSpoolTests", dependencies: ["P2MPSpool"]),
        .testTarget(
            name: "P2MPDaemonTests", dependencies: ["P2MPDaemon", "P2MPDaemonSimulation", "P2MPSimulation", "P2MPProtocol", "P2MPWire"]),
        .testTarget(name: "P2MPClientTests", dependencies: ["P2MPClient", "P2MPSpool", "P2MPKeys", "P2MPWire"]),
        .testTarget(name: "P2MPConfigurationTests", dependencies: ["P2MPConfiguration"]),
        .testTarget(name: "IntegrationTests", dependencies: ["p2mpd", "p2mpsend", "P2MPWire"]),
        // The fuzz targets' properties (Tests/Fuzz/Properties, also compiled into the libFuzzer
        // binary by scripts/fuzz.sh), replayed over the committed corpus and saved crashes.
        .testTarget(
            name: "FuzzTests",
            dependencies: ["P2MPWire", "P2MPConfiguration", "P2MPSpool", "P2MPClient", "P2MPSecurity", "P2MPKeys"],
            path: "Tests/Fuzz",
            exclude: ["Entry", "Tools", "Corpus", "Crashes", "StandIns"],
            sources: ["Properties", "Replay"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
