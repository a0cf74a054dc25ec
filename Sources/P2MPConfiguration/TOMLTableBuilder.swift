/// A table while its document is parsed, remembering how it came to exist so that TOML's
/// rules against redefinition can be enforced (TOML 1.0, "Table" and "Array of Tables"):
///
/// - a `[header]` defines a table once; it may name a table that earlier headers only
///   created on their way (`[a.b]` then `[a]`), never one defined or made by dotted keys;
/// - dotted keys (`a.b = 1`) create and extend tables within their own section only, and
///   never reach into a table a header defined;
/// - inline tables and arrays are values: complete where they are written, closed to
///   headers and dotted keys.
final class TOMLTableBuilder {
    enum Origin {
        /// Created on the way to a deeper header (`a` for `[a.b]`), or the root.
        case implicit
        /// Defined by a `[header]` or as an element of an `[[array]]`.
        case header
        /// Created by a dotted key in the current section.
        case dotted
    }

    enum Child {
        case table(TOMLTableBuilder)
        case arrayOfTables(ArrayOfTables)
        case value(TOMLValue)
    }

    /// The elements of an `[[array]]`, the last of which later headers and keys reach.
    final class ArrayOfTables {
        var elements: [TOMLTableBuilder]

        init(_ first: TOMLTableBuilder) {
            elements = [first]
        }
    }

    var origin: Origin
    private var keys: [String] = []
    private var children: [String: Child] = [:]

    init(origin: Origin) {
        self.origin = origin
    }

    subscript(key: String) -> Child? { children[key] }

    func insert(_ child: Child, at key: String) {
        if children.updateValue(child, forKey: key) == nil { keys.append(key) }
    }

    /// The finished table.
    var table: TOMLTable {
        var table = TOMLTable()
        for key in keys {
            guard let child = children[key] else { continue }
            table.keys.append(key)
            table.values[key] = child.value
        }
        return table
    }

    // MARK: The rules

    /// The table a header's leading parts name (`a.b` of `[a.b.c]`): tables on the way are
    /// created as needed; the last element of an array of tables stands for the array.
    func headerParent(_ path: ArraySlice<String>) throws(TOMLTableBuilder.Conflict) -> TOMLTableBuilder {
        var table = self
        for (offset, key) in zip(path.indices, path) {
            switch table[key] {
            case nil:
                let created = TOMLTableBuilder(origin: .implicit)
                table.insert(.table(created), at: key)
                table = created
            case .table(let existing): table = existing
            case .arrayOfTables(let array): table = array.elements[array.elements.count - 1]
            case .value: throw Conflict(path: Array(path[...offset]), problem: .isAValue)
            }
        }
        return table
    }

    /// `[path]`: the table it defines.
    func defineTable(_ path: [String]) throws(TOMLTableBuilder.Conflict) -> TOMLTableBuilder {
        let parent = try headerParent(path.dropLast())
        let key = path[path.count - 1]
        switch parent[key] {
        case nil:
            let created = TOMLTableBuilder(origin: .header)
            parent.insert(.table(created), at: key)
            return created
        case .table(let existing) where existing.origin == .implicit:
            existing.origin = .header
            return existing
        case .table(let existing):
            throw Conflict(path: path, problem: existing.origin == .header ? .definedTwice : .madeByDottedKeys)
        case .arrayOfTables: throw Conflict(path: path, problem: .isAnArrayOfTables)
        case .value: throw Conflict(path: path, problem: .isAValue)
        }
    }

    /// `[[path]]`: the new element it appends.
    func appendTable(_ path: [String]) throws(TOMLTableBuilder.Conflict) -> TOMLTableBuilder {
        let parent = try headerParent(path.dropLast())
        let key = path[path.count - 1]
        let element = TOMLTableBuilder(origin: .header)
        switch parent[key] {
        case nil: parent.insert(.arrayOfTables(ArrayOfTables(element)), at: key)
        case .arrayOfTables(let array): array.elements.append(element)
        case .table: throw Conflict(path: path, problem: .isATable)
        case .value: throw Conflict(path: path, problem: .isAValue)
        }
        return element
    }

    /// `path = value` in this table's section.
    func setValue(_ value: TOMLValue, at path: [String]) throws(TOMLTableBuilder.Conflict) {
        var table = self
        for (offset, key) in path.dropLast().enumerated() {
            switch table[key] {
            case nil:
                let created = TOMLTableBuilder(origin: .dotted)
                table.insert(.table(created), at: key)
                table = created
            case .table(let existing) where existing.origin != .header:
                // A table that headers only passed through becomes one of this section's.
                existing.origin = .dotted
                table = existing
            case .table, .arrayOfTables:
                throw Conflict(path: Array(path[...offset]), problem: .definedByHeader)
            case .value:
                throw Conflict(path: Array(path[...offset]), problem: .isAValue)
            }
        }
        let key = path[path.count - 1]
        guard table[key] == nil else { throw Conflict(path: path, problem: .definedTwice) }
        table.insert(.value(value), at: key)
    }

    /// A key used against TOML's rules; the parser adds the line.
    struct Conflict: Error {
        enum Problem {
            case definedTwice, madeByDottedKeys, definedByHeader, isAValue, isATable, isAnArrayOfTables
        }

        /// The key up to the part in conflict, relative to the section.
        var path: [String]
        var problem: Problem

        var message: String {
            let name = path.map(ConfigurationLoader.displayKeyPart).joined(separator: ".")
            return switch problem {
            case .definedTwice: "'\(name)' is defined twice"
            case .madeByDottedKeys: "[\(name)] redefines a table that dotted keys made"
            case .definedByHeader: "dotted key '\(name)' reaches into a table defined by a [header]"
            case .isAValue: "'\(name)' is a value (inline tables and arrays included), not a table to add to"
            case .isATable: "[[\(name)]] names a table, not an array of tables"
            case .isAnArrayOfTables: "[\(name)] names an array of tables, expected [[\(name)]]"
            }
        }
    }
}

extension TOMLTableBuilder.Child {
    var value: TOMLValue {
        switch self {
        case .table(let table): .table(table.table)
        case .arrayOfTables(let array): .array(array.elements.map { .table($0.table) })
        case .value(let value): value
        }
    }
}
