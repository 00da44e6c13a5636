import PropertyBased
import Testing

@testable import CSVKit

/// ``PackedSeparators`` finds exactly what a byte-by-byte walk finds, with AVX2 (where the CPU has it) and without.
@Suite struct PackedSeparatorsTests {
    /// The walk the scan replaces: each separator's offset, the rows, or nil at a control character.
    static func walked(_ bytes: [UInt8]) -> (ends: [Int32], rows: Int)? {
        var ends: [Int32] = [], rows = 0
        for (i, b) in bytes.enumerated() {
            switch b {
            case 0x1F: ends.append(Int32(i))
            case 0x1E: ends.append(Int32(i)); rows += 1
            case 0x09, 0x0A, 0x0D: continue
            case 0..<0x20, 0x7F: return nil
            default: continue
            }
        }
        return (ends, rows)
    }

    static func found(_ bytes: [UInt8], scratch: inout [Int32], wide: Bool) -> (ends: [Int32], rows: Int)? {
        guard let found = bytes.withUnsafeBufferPointer({ PackedSeparators.find(in: $0, into: &scratch, wide: wide) }) else {
            return nil
        }
        return (Array(scratch.prefix(found.count)), found.rows)
    }


    /// Text, both separators, the control characters a file may carry and those it may not, multi-byte text
    /// and runs long enough to cross 32-byte blocks.
    static let pieces: [[UInt8]] = [
        [0x1F], [0x1F], [0x1F], [0x1E], [0x09], [0x0A], [0x0D], [0x00], [0x01], [0x1D], [0x7F], [0x20], [0x80], [0xFF],
        Array("é🎉".utf8), Array("WEB-0000001".utf8), Array(String(repeating: "x", count: 40).utf8),
    ]

    @Test func findsWhatAByteWalkFinds() async {
        for wide in [true, false] {
            var scratch: [Int32] = []  // kept between inputs, as the pipeline keeps it
            await propertyCheck(count: 500, input: Gen.element(of: Self.pieces).map { $0 ?? [] }.array(of: 0...60)) { pieces in
                let bytes = Array(pieces.joined())
                let expected = Self.walked(bytes), got = Self.found(bytes, scratch: &scratch, wide: wide)
                #expect(got?.ends == expected?.ends && got?.rows == expected?.rows, "wide: \(wide): \(bytes)")
            }
        }
    }

    @Test func findsASeparatorOrAControlCharacterAtEveryOffset() {
        for wide in [true, false] {
            var scratch: [Int32] = []
            for length in [1, 31, 32, 33, 63, 64, 65, 100] {
                for at in 0..<length {
                    for byte: UInt8 in [0x1F, 0x1E, 0x00, 0x1D, 0x7F, 0x0A] {
                        var bytes = [UInt8](repeating: 0x61, count: length)
                        bytes[at] = byte
                        let expected = Self.walked(bytes), got = Self.found(bytes, scratch: &scratch, wide: wide)
                        #expect(got?.ends == expected?.ends && got?.rows == expected?.rows, "wide: \(wide): \(byte) at \(at) of \(length)")
                    }
                }
            }
        }
    }
}
