import HeapModule

/// Per-key deadlines in a min-heap, pruned lazily: an entry counts only while it equals the
/// key's current deadline, so re-arming costs one insertion and no search. Stale entries
/// are popped as soon as they reach the top, so the top is always live and `earliest` needs
/// no mutation.
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
        if let deadline { heap.insert(Entry(deadline: deadline, key: key)) }
        if heap.count > 4 * current.count + 64 { rebuild() }
        pruneTop()
    }

    /// The earliest live deadline.
    var earliest: Instant? { heap.min?.deadline }

    /// Removes and returns a key whose deadline is at or before `now`, clearing its deadline.
    mutating func popDue(now: Instant) -> Int? {
        while let top = heap.min, top.deadline <= now {
            _ = heap.popMin()
            if current[top.key] == top.deadline {
                current[top.key] = nil
                pruneTop()
                return top.key
            }
        }
        return nil
    }

    private mutating func pruneTop() {
        while let top = heap.min, current[top.key] != top.deadline { _ = heap.popMin() }
    }

    private mutating func rebuild() {
        heap = Heap(current.indices.compactMap { key in current[key].map { Entry(deadline: $0, key: key) } })
    }
}
