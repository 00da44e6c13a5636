extension Sequence<UInt8> {
    /// Lower-case hexadecimal, two digits a byte (without `String(format:)`, which costs a locale lookup
    /// a byte).
    var hex: String {
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(hexDigit(byte >> 4))
            out.append(hexDigit(byte & 0x0F))
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension UnsafeRawBufferPointer {
    /// Lower-case hexadecimal, written straight into the string (a row's fingerprint is one per row).
    var hex: String {
        String(unsafeUninitializedCapacity: count * 2) { out in
            for (i, byte) in enumerated() {
                out[2 * i] = hexDigit(byte >> 4)
                out[2 * i + 1] = hexDigit(byte & 0x0F)
            }
            return count * 2
        }
    }
}

/// The lower-case hexadecimal digit of `nibble` (0–15).
@inline(__always)
private func hexDigit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 0x30 + nibble : 0x57 + nibble }
