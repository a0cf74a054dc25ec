import Crypto
import Logging
import NIOCore
import P2MPConfiguration
import P2MPProtocol
import P2MPSimulation
import P2MPSpool
import P2MPWire

import P2MPDaemon

/// A `NativeScenario` whose receivers are the daemon's real `IncomingTransfers` (admission,
/// sessions, commits) on `SimulatedStorage` disks with faults; a restart is a crash of the
/// daemon (its disk loses what was not synced) and a new `IncomingTransfers` on the same
/// disk. Everything derives from the seed.
public struct DaemonScenario: Sendable, CustomStringConvertible {
    public var network: NativeScenario
    public var faults: [DiskFaults]

    public init(seed: UInt64) {
        network = NativeScenario(seed: seed)
        var random = SeededRandom(seed: seed ^ 0xD15C_FA17)
        let size = UInt64(network.file.count)
        faults = (0..<network.receiverCount).map { _ in
            var faults = DiskFaults()
            if random.chance(0.08) { faults.capacity = size == 0 ? 0 : UInt64.random(in: 0..<size, using: &random) }
            if random.chance(0.08) { faults.writeFailure = Double.random(in: 0.01...0.1, using: &random) }
            if random.chance(0.08) { faults.commitFailure = Double.random(in: 0.2...0.8, using: &random) }
            if random.chance(0.2) { faults.slowness = Double.random(in: 0.02...0.3, using: &random) }
            return faults
        }
    }

    public var description: String {
        "\(network); disks: "
            + faults.enumerated().filter { !$0.element.isFaultless }.map { "\($0.offset): \($0.element)" }.joined(separator: "; ")
    }
}

public enum DaemonSimulation {
    public struct Result: Sendable {
        public var scenario: DaemonScenario
        public var outcomes: [NativeSender.Outcome?]
        public var committed: [[UInt8]?]
        public var faultsStruck: [[String]]
        /// Broken promises of the spool found after a crash, and liveness breaks.
        public var stepViolations: [String]
        /// The loss and closing events the daemons logged, and their broken promises
        /// (`LossEventAudit`).
        public var loggedEvents: [LossEventAudit.Record]
        public var lossEventViolations: [String]
        public var elapsed: Duration

        /// Every broken promise; empty when the run was correct.
        public var violations: [String] {
            var found = stepViolations + lossEventViolations
            let file = scenario.network.file
            for index in outcomes.indices {
                let faults = scenario.faults[index]
                if let committed = committed[index], committed != file {
                    found.append("receiver \(index) committed \(committed.count) wrong bytes")
                }
                switch outcomes[index] {
                case .committed?:
                    if committed[index] != file { found.append("sender counts receiver \(index) committed, its disk disagrees") }
                case .rejected(let rejection)? where rejection.reason == .noSpace:
                    if faults.capacity >= UInt64(file.count) { found.append("receiver \(index) refused for space it had") }
                case .failed(let completion)? where completion.status == .writeFailed:
                    if faultsStruck[index].isEmpty { found.append("receiver \(index) failed to write with no disk fault") }
                case .noAnswer(let phase, _)?:
                    if scenario.network.vanishing[index] == nil {
                        found.append("receiver \(index) reported silent (\(phase)) although it never vanished")
                    }
                case let other?:
                    found.append("receiver \(index) ended \(other)")
                case nil:
                    found.append("receiver \(index) has no outcome when the run ended")
                }
            }
            return found
        }
    }

    public static func run(_ scenario: DaemonScenario, trace: ((String) -> Void)? = nil) -> Result {
        var run = DaemonSimulationRun(scenario, trace: trace)
        return run.run()
    }
}

/// One run's state, stepped through methods (the machines are mutated in place).
struct DaemonSimulationRun {
    let scenario: DaemonScenario
    let trace: ((String) -> Void)?
    var network: SimulatedNetwork
    var readLatency: SeededRandom
    var disks: [SimulatedStorage]
    var daemons: [IncomingTransfers]
    var daemonTimeouts: [Instant?]
    var inboxes: [[[UInt8]]]
    var readAt: [Instant?]
    var restarts: [Int]
    var pendingRestarts: [Int: Duration]
    var sender: NativeSender
    var buffer = [UInt8](repeating: 0, count: NativeDatagram.maximumSize)
    var now = Instant.zero
    var events = 0
    var violations: [String] = []
    let audit = LossEventAudit()
    static let senderAddress = DaemonPeer(address: try! SocketAddress(ipAddress: "127.0.0.1", port: 40_000))

    init(_ scenario: DaemonScenario, trace: ((String) -> Void)?) {
        self.scenario = scenario
        self.trace = trace
        let base = scenario.network
        network = SimulatedNetwork(random: SeededRandom(seed: base.seed ^ 0xDAE0_0000_0000_0001))
        readLatency = SeededRandom(seed: base.seed ^ 0x0BAD_BEEF)
        disks = scenario.faults.enumerated().map { SimulatedStorage(faults: $0.element, seed: base.seed &+ UInt64($0.offset)) }
        daemons = []
        daemonTimeouts = Array(repeating: nil, count: base.receiverCount)
        inboxes = Array(repeating: [], count: base.receiverCount)
        readAt = Array(repeating: nil, count: base.receiverCount)
        restarts = Array(repeating: 0, count: base.receiverCount)
        pendingRestarts = base.restarting
        sender = NativeSender(
            fileSize: UInt64(base.file.count), receiverCount: base.receiverCount,
            configuration: .init(
                transferID: base.seed | 1, name: "file.bin", sha256: ContentDigest(Array(SHA256.hash(data: base.file)))!,
                segmentSize: base.segmentSize, window: base.window, giveUpAfter: base.giveUpAfter, rateLimit: base.rateLimit))
        daemons = (0..<base.receiverCount).map { makeDaemon($0) }
    }

    static var configuration: DaemonConfiguration {
        var configuration = DaemonConfiguration.defaults
        configuration.minFreeSpace = ByteSize(bytes: 0)
        configuration.maxTransfers = 4
        configuration.idleTimeout = .seconds(120)
        configuration.lossEventInterval = .seconds(1)
        return configuration
    }

    func makeDaemon(_ index: Int) -> IncomingTransfers {
        let base = scenario.network
        let logger = audit.logger(label: "p2mpd-\(index)-\(restarts[index])")
        let daemon = IncomingTransfers(
            configuration: Self.configuration, storage: disks[index], hooks: RecordedHooks(), logger: logger,
            lossSeed: base.seed &+ UInt64(index) &* 7_919 &+ UInt64(restarts[index]), wallClock: { 0 })
        var configuration = Self.configuration
        configuration.loss = base.receiverLoss
        daemon.reconfigure(configuration, windowBytes: 1_024 * max(1, base.segmentSize))
        return daemon
    }

    func conditions(for receiver: Int) -> NetworkConditions {
        var conditions = scenario.network.conditions
        if let vanishAt = scenario.network.vanishing[receiver], now >= .zero + vanishAt { conditions.loss = 1 }
        return conditions
    }

    mutating func run() -> DaemonSimulation.Result {
        let deadline = Instant.zero + scenario.network.timeLimit
        sender.start(now: now)
        drainSender()
        while !sender.isFinished, violations.isEmpty {
            var next = Instant.earliest(sender.nextTimeout, network.nextDeliveryTime)
            for index in daemons.indices {
                next = Instant.earliest(next, Instant.earliest(daemonTimeouts[index], readAt[index]))
            }
            for at in pendingRestarts.values { next = Instant.earliest(next, .zero + at) }
            guard let next, next <= deadline else { break }
            now = next
            events += 1
            step()
        }
        return DaemonSimulation.Result(
            scenario: scenario, outcomes: (0..<daemons.count).map { sender.outcome(of: $0) },
            committed: disks.map { $0.committed["file.bin"] }, faultsStruck: disks.map(\.faultsStruck),
            stepViolations: violations, loggedEvents: audit.records,
            lossEventViolations: audit.violations(interval: Self.configuration.lossEventInterval),
            elapsed: now.duration(since: .zero))
    }

    mutating func step() {
        audit.setTime(now)
        if let (receiver, _) = pendingRestarts.first(where: { .zero + $0.value <= now }) {
            pendingRestarts[receiver] = nil
            crash(receiver)
            return
        }
        if let index = readAt.indices.first(where: { readAt[$0].map { $0 <= now } ?? false }) {
            readAt[index] = nil
            let batch = inboxes[index]
            inboxes[index].removeAll(keepingCapacity: true)
            for datagram in batch {
                datagram.withUnsafeBytes { daemons[index].handle($0, from: Self.senderAddress, now: now) }
            }
            drainDaemon(index)
            return
        }
        if let delivery = network.nextDeliveryTime, delivery == now, let datagram = network.popDelivery() {
            if datagram.to == NativeSimulation.senderNode {
                datagram.bytes.withUnsafeBytes { sender.handle($0, from: datagram.from, now: now) }
                drainSender()
                checkSender()
                return
            }
            inboxes[datagram.to].append(datagram.bytes)
            if readAt[datagram.to] == nil {
                readAt[datagram.to] = now + .nanoseconds(Int64.random(in: 0...200_000, using: &readLatency))
            }
            return
        }
        sender.handleTimeout(now: now)
        drainSender()
        for index in daemons.indices {
            if let due = daemonTimeouts[index], due <= now {
                daemons[index].handleTimeout(now: now)
                drainDaemon(index)
            }
        }
        checkSender()
    }

    /// The daemon of receiver `index` dies (kill -9) and starts again on its disk.
    mutating func crash(_ index: Int) {
        disks[index].crash()
        restarts[index] += 1
        inboxes[index].removeAll()  // The socket's queue goes with the process.
        readAt[index] = nil
        daemons[index] = makeDaemon(index)
        daemonTimeouts[index] = nil
        trace?("\(now) receiver \(index) crashes and restarts")
        checkSpool(index)
    }

    /// The spool's promises after a crash: a committed name holds the whole file, and
    /// every partial's recorded prefix is the file's own bytes.
    mutating func checkSpool(_ index: Int) {
        let file = scenario.network.file
        if let committed = disks[index].committed["file.bin"], committed != file {
            violations.append("step \(events) at \(now): receiver \(index) holds a partial file under the final name")
        }
        for (key, data) in disks[index].partials {
            let durable = Int(data.recordedPrefix)
            if durable > file.count || Array(data.bytes[0..<durable]) != Array(file[0..<durable]) {
                violations.append("step \(events) at \(now): partial \(key) of receiver \(index) records \(durable) bytes that are not the file's")
            }
        }
    }

    mutating func checkSender() {
        for receiver in daemons.indices where sender.outcome(of: receiver) == nil && sender.deadline(of: receiver) == nil {
            violations.append("step \(events) at \(now): the sender has neither an outcome nor a deadline for receiver \(receiver)")
        }
    }

    mutating func drainSender() {
        while true {
            while let event = sender.pollEvent() {
                trace?("\(now) sender \(event)")
                if case .payloadNeeded(let block) = event { sender.supplyPayload(block, from: scenario.network.file, now: now) }
            }
            let now = self.now
            guard let transmit = buffer.withUnsafeMutableBytes({ sender.pollTransmit(into: $0, now: now) }) else {
                if sender.hasEvents { continue }
                break
            }
            network.send(
                Array(buffer[0..<transmit.size]), from: NativeSimulation.senderNode, to: transmit.receiver, now: now,
                conditions: conditions(for: transmit.receiver))
        }
    }

    mutating func drainDaemon(_ index: Int) {
        while daemons[index].pollQuery() != nil {}
        while let transmit = buffer.withUnsafeMutableBytes({ daemons[index].pollTransmit(into: $0) }) {
            network.send(
                Array(buffer[0..<transmit.size]), from: index, to: NativeSimulation.senderNode, now: now,
                conditions: conditions(for: index))
        }
        daemonTimeouts[index] = daemons[index].nextTimeout
    }
}

/// Hooks that only count: the simulation checks commits, not child processes.
struct RecordedHooks: PostReceiveHooks {
    func run(command: String, timeout: Duration, _ invocation: PostReceiveHook.Invocation) {}
}
