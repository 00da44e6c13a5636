import CCSVScan

/// Rows packed for sending (each field ended by a unit separator, 0x1F, each row by a record separator, 0x1E),
/// split in one pass over their bytes: 32 bytes at a time where the CPU has AVX2.
public enum PackedSeparators {
    /// The unit separator: ends each field.
    public static let fieldEnd: UInt8 = 0x1F
    /// The record separator: ends each row.
    public static let rowEnd: UInt8 = 0x1E

    /// Writes the offset of each separator in `bytes`, in order, to `ends` (resized to hold them) and returns
    /// how many there are and how many of them end rows; `nil` when `bytes` holds a control character a file
    /// must not carry (below 0x20 but tab, LF, CR and the two separators, or DEL), or is 2 GiB or more (whose
    /// offsets would not fit). `wide`: AVX2 when the CPU has it (tests run the byte loop too).
    public static func find(in bytes: UnsafeBufferPointer<UInt8>, into ends: inout [Int32],
                            wide: Bool = true) -> (count: Int, rows: Int)? {
        // At most one separator a byte: room for that many, so the scan never runs out.
        if ends.count < bytes.count { ends = [Int32](repeating: 0, count: max(bytes.count, ends.count * 2)) }
        var rows = 0
        let count = ends.withUnsafeMutableBufferPointer { out in
            vb_packed_separators(bytes.baseAddress, bytes.count, out.baseAddress, out.count, &rows, wide ? 1 : 0)
        }
        return count >= 0 ? (count, rows) : nil
    }
}
