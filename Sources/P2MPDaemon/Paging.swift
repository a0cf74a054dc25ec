/// Pages of a snapshot, for answers that can exceed one datagram (LISTING, REPORT): from
/// `cursor` on, as many items as fit in `budget` bytes (at least none, never a partial item).
func cutPage<Item>(of items: [Item], from cursor: UInt32, budget: Int, size: (Item) -> Int) -> [Item] {
    var page: [Item] = []
    var remaining = budget
    var index = Int(cursor)
    while index < items.count, size(items[index]) <= remaining {
        remaining -= size(items[index])
        page.append(items[index])
        index += 1
    }
    return page
}
