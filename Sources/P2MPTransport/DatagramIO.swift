import NIOCore
import P2MPProtocol

/// What a `DatagramApplication` may do: send datagrams, keep one timer, read the clock and
/// finish. Lives on one event loop; not thread-safe by design.
public final class DatagramIO<Outcome: Sendable> {
    private let loop: any EventLoop
    private let channels: [any Channel]
    private let promise: EventLoopPromise<Outcome>
    private var timer: Scheduled<Void>?
    private var scheduledDeadline: Instant?
    private var needsFlush: [Bool]
    private var isFinished = false
    private var batch: SegmentBatch?
    /// Datagrams queued by `send(maximumSize:to:write:)` since the last flush, back to back
    /// in one buffer, each sent as a slice of it at the flush.
    private var pendingDatagrams: ByteBuffer?
    private var pendingDestinations: [(address: SocketAddress, length: Int)] = []
    /// The buffer of the last flush, for the next one.
    private var spareDatagrams: ByteBuffer?
    /// Cleared for good when a segmented send fails (its datagrams are lost and
    /// retransmitted); datagrams then leave one by one.
    var segmentsInOneSend = System.supportsUDPSegmentationOffload
    /// Sends that carried several datagrams (for tests).
    private(set) var segmentedSends = 0
    /// Per destination, the largest datagram that leaves unfragmented: the kernel refuses a
    /// segmented send whose segments would need fragmenting, so larger ones go singly. At most
    /// `maximumKnownRoutes` destinations are remembered (the daemon answers any address).
    private var largestUnfragmented: [SocketAddress: Int] = [:]
    static var maximumKnownRoutes: Int { 1_024 }
    var onTimer: (() -> Void)?

    /// The smallest receive buffer of the sockets, in the kernel's accounting (which charges
    /// each datagram its payload plus bookkeeping, about twice the payload on loopback).
    public let receiveBufferBytes: Int

    init(loop: any EventLoop, channels: [any Channel], receiveBufferBytes: Int, promise: EventLoopPromise<Outcome>) {
        self.loop = loop
        self.channels = channels
        self.receiveBufferBytes = receiveBufferBytes
        self.promise = promise
        self.needsFlush = Array(repeating: false, count: channels.count)
    }

    /// Whether `finish` or `fail` ended the run.
    public var hasFinished: Bool { isFinished }

    /// The monotonic clock the protocol layer runs on.
    public var now: Instant { Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds) }

    /// Addresses the sockets are bound to.
    public var localAddresses: [SocketAddress] { channels.compactMap(\.localAddress) }

    public var allocator: ByteBufferAllocator { channels.first?.allocator ?? ByteBufferAllocator() }

    /// Queues `bytes` for `address`; queued datagrams leave together when the current event
    /// is handled, so the kernel can take them in one batch.
    public func send(_ bytes: [UInt8], to address: SocketAddress) {
        var buffer = allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        send(buffer, to: address)
    }

    public func send(_ buffer: ByteBuffer, to address: SocketAddress) {
        closeBatch()
        write(buffer, to: address, segmentSize: nil)
    }

    /// Queues one datagram of `size` bytes for `address`, written in place by `write` (which
    /// returns the bytes it wrote, at most `size`). Consecutive datagrams of one size for one
    /// address share one buffer and leave in one UDP GSO send, which the kernel cuts into
    /// datagrams again, where the system supports it: one system call and one trip through
    /// the stack for up to 64 datagrams.
    public func sendDatagram(
        size: Int, to address: SocketAddress, write: (UnsafeMutableRawBufferPointer) throws -> Int
    ) rethrows {
        guard !isFinished else { return }
        if let open = batch, !open.accepts(size: size, for: address) { closeBatch() }
        if batch == nil {
            batch = SegmentBatch(
                address: address, segmentSize: size,
                buffer: allocator.buffer(capacity: SegmentBatch.capacity(forSegmentSize: size)))
        }
        try batch!.append(size: size, write)
    }

    /// Queues one datagram of at most `maximumSize` bytes for `address` (an ACK, a reply, a
    /// seed-protocol segment), written in place by `write`, which returns the bytes it wrote.
    /// The datagrams of one flush share one buffer and leave as slices of it, after the
    /// segmented sends queued before them: no allocation per datagram.
    public func send(maximumSize: Int, to address: SocketAddress, write: (UnsafeMutableRawBufferPointer) -> Int) {
        guard !isFinished else { return }
        var buffer: ByteBuffer
        if let pending = pendingDatagrams {
            buffer = pending
        } else if var spare = spareDatagrams {
            spareDatagrams = nil
            spare.clear()  // Free of allocation when the channel has let go of its slices.
            buffer = spare
        } else {
            buffer = allocator.buffer(capacity: max(Self.pendingBufferBytes, maximumSize))
        }
        pendingDatagrams = nil  // So that the write below finds the storage unshared.
        let written = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: maximumSize) { write($0) }
        pendingDatagrams = buffer
        pendingDestinations.append((address, written))
    }

    private static var pendingBufferBytes: Int { 16 << 10 }

    /// Hands the datagrams `send(maximumSize:to:write:)` queued since the last flush to
    /// their channels. The buffer is kept: once the channel has written the slices (which
    /// a datagram channel does during the flush, unless the socket is full), its storage is
    /// unshared again and the next flush reuses it without allocating.
    private func sendPendingDatagrams() {
        guard var buffer = pendingDatagrams, !pendingDestinations.isEmpty else { return }
        pendingDatagrams = nil
        for (address, length) in pendingDestinations {
            guard let datagram = buffer.readSlice(length: length) else { break }
            write(datagram, to: address, segmentSize: nil)
        }
        pendingDestinations.removeAll(keepingCapacity: true)
        spareDatagrams = buffer
    }

    /// Hands the open batch to its channel.
    private func closeBatch() {
        guard let closed = batch else { return }
        batch = nil
        if closed.count == 1 {
            write(closed.buffer, to: closed.address, segmentSize: nil)
        } else if segmentsInOneSend, closed.segmentSize <= largestUnfragmentedDatagram(toward: closed.address) {
            segmentedSends += 1
            write(closed.buffer, to: closed.address, segmentSize: closed.segmentSize)
        } else {
            var buffer = closed.buffer
            while buffer.readableBytes > 0,
                let datagram = buffer.readSlice(length: min(closed.segmentSize, buffer.readableBytes))
            {
                write(datagram, to: closed.address, segmentSize: nil)
            }
        }
    }

    private func largestUnfragmentedDatagram(toward address: SocketAddress) -> Int {
        if let known = largestUnfragmented[address] { return known }
        let largest = PathMTU.largestDatagram(toward: address) ?? 0
        // Asking again costs one connect of a throwaway socket: forgetting all is cheap.
        if largestUnfragmented.count >= Self.maximumKnownRoutes { largestUnfragmented.removeAll(keepingCapacity: true) }
        largestUnfragmented[address] = largest
        return largest
    }

    private func write(_ buffer: ByteBuffer, to address: SocketAddress, segmentSize: Int?) {
        guard !isFinished, let index = channelIndex(for: address) else { return }
        guard let segmentSize else {
            channels[index].write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: nil)
            needsFlush[index] = true
            return
        }
        let metadata = AddressedEnvelope<ByteBuffer>.Metadata(
            ecnState: .transportNotCapable, packetInfo: nil, segmentSize: segmentSize)
        let written = loop.makePromise(of: Void.self)
        written.futureResult.assumeIsolated().whenFailure { [weak self] _ in
            // These datagrams are lost (retransmission recovers them); later ones go singly.
            self?.segmentsInOneSend = false
        }
        channels[index].write(
            AddressedEnvelope(remoteAddress: address, data: buffer, metadata: metadata), promise: written)
        needsFlush[index] = true
    }

    /// Arms the single timer for `deadline`, or disarms it with nil. A later deadline than
    /// the armed one leaves the armed timer in place (it fires early, harmlessly), which
    /// spares rescheduling on every acknowledgement.
    public func setTimer(_ deadline: Instant?) {
        guard let deadline else {
            timer?.cancel()
            timer = nil
            scheduledDeadline = nil
            return
        }
        if let scheduledDeadline, scheduledDeadline <= deadline { return }
        timer?.cancel()
        scheduledDeadline = deadline
        timer = loop.assumeIsolated().scheduleTask(deadline: .uptimeNanoseconds(deadline.nanoseconds)) {
            [weak self] in
            guard let self else { return }
            self.timer = nil
            self.scheduledDeadline = nil
            self.onTimer?()
            self.flush()
        }
    }

    /// Ends the run with `outcome`: closes the sockets and cancels the timer.
    public func finish(_ outcome: Outcome) {
        guard close() else { return }
        promise.succeed(outcome)
    }

    /// Ends the run with an error.
    public func fail(_ error: any Error) {
        guard close() else { return }
        promise.fail(error)
    }

    /// Hands what was queued to the sockets. The runner does it after each read batch and
    /// timer; an application calls it after work that completed on the loop outside those.
    public func flush() {
        closeBatch()
        sendPendingDatagrams()
        for index in channels.indices where needsFlush[index] {
            needsFlush[index] = false
            channels[index].flush()
        }
    }

    private func close() -> Bool {
        guard !isFinished else { return false }
        flush()
        isFinished = true
        setTimer(nil)
        onTimer = nil
        for channel in channels { channel.close(promise: nil) }
        return true
    }

    private func channelIndex(for address: SocketAddress) -> Int? {
        channels.firstIndex { $0.localAddress?.protocol == address.protocol }
    }
}
