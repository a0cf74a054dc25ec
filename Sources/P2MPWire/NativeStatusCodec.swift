extension NativeDatagram {
    // Bodies of STATUS and REPORT (docs/PROTOCOL.md, "Status").

    /// REPORT's fixed part: total, cursor, count, the summary's numbers, its version length.
    static let reportFixedSize = 4 + 4 + 2 + 8 * 4 + 4 + 4 + 8 * 3 + 1
    /// A transfer's fixed part: state, size, bytes, rate, time, and the three lengths.
    static let reportTransferFixedSize = 1 + 8 * 4 + 2 + 1 + 2
    /// The version and a transfer's sender carry a u8 length.
    public static let maximumShortTextLength = 255

    static func decodeStatus(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> NativePacket {
        try require(body.remaining == 4)
        return .status(cursor: body.readUInt32())
    }

    static func decodeReport(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> NativePacket {
        try require(body.remaining >= reportFixedSize)
        let total = body.readUInt32()
        let cursor = body.readUInt32()
        let count = Int(body.readUInt16())
        let uptime = body.readUInt64()
        let time = body.readUInt64()
        let used = body.readUInt64()
        let free = body.readUInt64()
        let files = body.readUInt32()
        let partials = body.readUInt32()
        let completed = body.readUInt64()
        let failed = body.readUInt64()
        let bytesReceived = body.readUInt64()
        let version = try readShortText(&body, require: require)
        let summary = NativeStatusReport.Summary(
            version: version, uptimeSeconds: uptime, time: time, spoolUsedBytes: used, spoolFreeBytes: free,
            spoolFiles: files, partials: partials, completed: completed, failed: failed, bytesReceived: bytesReceived)
        var transfers: [NativeStatusReport.Transfer] = []
        for _ in 0..<count {
            try require(body.remaining >= reportTransferFixedSize + 1)
            let rawState = body.readUInt8()
            guard let state = NativeStatusReport.Transfer.State(rawValue: rawState) else {
                throw .invalidTransferState(rawState)
            }
            let size = body.readUInt64()
            let bytes = body.readUInt64()
            let rate = body.readUInt64()
            let time = body.readUInt64()
            let name = try readName(&body, require: require)
            let sender = try readShortText(&body, require: require)
            try require(body.remaining >= 2)
            let textLength = Int(body.readUInt16())
            guard textLength <= maximumTextLength else { throw .textTooLong(length: textLength) }
            try require(body.remaining >= textLength)
            let text = try body.readString(length: textLength)
            transfers.append(
                .init(state: state, name: name, sender: sender, size: size, bytes: bytes, rate: rate, time: time, text: text))
        }
        try require(body.remaining == 0)
        return .report(NativeStatusReport(summary: summary, total: total, cursor: cursor, transfers: transfers))
    }

    /// A u8 length and that many bytes of UTF-8.
    private static func readShortText(
        _ body: inout NativeReader, require: (Bool) throws(NativeDecodingError) -> Void
    ) throws(NativeDecodingError) -> String {
        try require(body.remaining >= 1)
        let length = Int(body.readUInt8())
        try require(body.remaining >= length)
        return try body.readString(length: length)
    }

    static func appendReport(_ report: NativeStatusReport, to buffer: inout [UInt8]) {
        precondition(report.transfers.count <= Int(UInt16.max), "a REPORT holds at most 65,535 transfers")
        let summary = report.summary
        buffer.appendBigEndian(report.total)
        buffer.appendBigEndian(report.cursor)
        buffer.appendBigEndian(UInt16(report.transfers.count))
        for number in [summary.uptimeSeconds, summary.time, summary.spoolUsedBytes, summary.spoolFreeBytes] {
            buffer.appendBigEndian(number)
        }
        buffer.appendBigEndian(summary.spoolFiles)
        buffer.appendBigEndian(summary.partials)
        for number in [summary.completed, summary.failed, summary.bytesReceived] { buffer.appendBigEndian(number) }
        appendShortText(summary.version, to: &buffer)
        for transfer in report.transfers {
            buffer.append(transfer.state.rawValue)
            for number in [transfer.size, transfer.bytes, transfer.rate, transfer.time] { buffer.appendBigEndian(number) }
            appendName(transfer.name, to: &buffer)
            appendShortText(transfer.sender, to: &buffer)
            appendText(transfer.text, to: &buffer)
        }
    }

    /// Appends a u8 length and the text's UTF-8, cut to at most 255 bytes at a scalar boundary.
    static func appendShortText(_ text: String, to buffer: inout [UInt8]) {
        let length = cutLength(of: text, limit: maximumShortTextLength)
        buffer.append(UInt8(length))
        buffer.append(contentsOf: text.utf8.prefix(length))
    }
}
