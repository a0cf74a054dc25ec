import HeapModule

/// Per-key deadlines in a min-heap, pruned lazily: an entry counts only while it equals the
/// key's current deadline, so re-arming costs one insertion and no search.
struct DeadlineQueue: Sendable {
    private struct Entry: Comparable, Sendable {
        var deadline: Instant
        var key: Int
        static func < (lhs: Entry, rhs: Entry) -> Bool { (lhs.deadline, lhs.key) < (rhs.deadline, rhs.key) }
    }

    private var heap = Heap<Entry>()
    private var current: [Instant?]

    init(keys: Int) {
        current = Array(repeating: nil, count: keys)
    }

    func deadline(of key: Int) -> Instant? { current[key] }

    /// Sets or clears the deadline of `key`.
    mutating func set(_ key: Int, to deadline: Instant?) {
        guard current[key] != deadline else { return }
        current[key] = deadline
        guard let deadline else { return }
        heap.insert(Entry(deadline: deadline, key: key))
        if heap.count > 4 * current.count + 64 { rebuild() }
    }

    /// The earliest live deadline.
    mutating func earliest() -> Instant? {
        while let top = heap.min {
            if current[top.key] == top.deadline { return top.deadline }
            _ = heap.popMin()
        }
        return nil
    }

    /// Removes and returns a key whose deadline is at or before `now`, clearing its deadline.
    mutating func popDue(now: Instant) -> Int? {
        while let top = heap.min, top.deadline <= now {
            _ = heap.popMin()
            if current[top.key] == top.deadline {
                current[top.key] = nil
                return top.key
            }
        }
        return nil
    }

    private mutating func rebuild() {
        heap = Heap(current.indices.compactMap { key in current[key].map { Entry(deadline: $0, key: key) } })
    }
}
