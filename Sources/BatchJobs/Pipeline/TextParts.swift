extension String {
    /// `a/b`: a key or an id made of parts (`PACKAGE/SKU`), in one allocation. `a + "/" + b` grows a string
    /// part by part, ~400 instructions a part; a despatch import made 4.5 million such appends, a tenth of its
    /// applying and reading threads' work.
    static func keyPath(_ a: String, _ b: String) -> String {
        keyPath(a, b, nil)
    }

    /// `a/b/c` (`ORDER/PACKAGE/SKU`), in one allocation.
    static func keyPath(_ a: String, _ b: String, _ c: String?) -> String {
        let count = a.utf8.count + 1 + b.utf8.count + (c.map { 1 + $0.utf8.count } ?? 0)
        return String(unsafeUninitializedCapacity: count) { out in
            // Each part through a function of its own with nothing captured: a nested function that updated the
            // position it captured had its every call checked for exclusive access at run time (1% of a despatch
            // import's instructions).
            var at = put(a, into: out, at: 0)
            out[at] = UInt8(ascii: "/")
            at = put(b, into: out, at: at + 1)
            if let c {
                out[at] = UInt8(ascii: "/")
                at = put(c, into: out, at: at + 1)
            }
            return at
        }
    }

    /// Copies `part`'s UTF-8 to `out` at `at`; returns where it ended.
    @inline(__always)
    private static func put(_ part: String, into out: UnsafeMutableBufferPointer<UInt8>, at: Int) -> Int {
        var part = part  // `withUTF8` needs a variable; a native string's bytes are not copied
        return part.withUTF8 { bytes in
            guard let base = bytes.baseAddress, !bytes.isEmpty else { return at }
            (out.baseAddress! + at).initialize(from: base, count: bytes.count)
            return at + bytes.count
        }
    }
}

/// Writes `n` in decimal, as `String(n)` writes it, at `out`, which has room for 20 bytes; returns how many it wrote.
func writeDecimal(_ n: Int, to out: UnsafeMutablePointer<UInt8>) -> Int {
    var at = 0
    if n < 0 {
        out[0] = UInt8(ascii: "-")
        at = 1
    }
    var magnitude = n.magnitude
    let start = at
    repeat {
        out[at] = UInt8(ascii: "0") + UInt8(magnitude % 10)
        at += 1
        magnitude /= 10
    } while magnitude > 0
    var digits = UnsafeMutableBufferPointer(start: out + start, count: at - start)
    digits.reverse()
    return at
}

extension String {
    /// `a|b` for two numbers in decimal (a stock level's fingerprint: its snapshot and the value pushed), written
    /// in one small buffer and made a string once; interpolated, they cost ~10% of an import's reading thread.
    static func decimals(_ a: Int, _ b: Int, separator: UInt8 = UInt8(ascii: "|")) -> String {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 41) { buffer in
            let base = buffer.baseAddress!
            var at = writeDecimal(a, to: base)
            base[at] = separator
            at += 1
            at += writeDecimal(b, to: base + at)
            return String(decoding: UnsafeBufferPointer(start: base, count: at), as: UTF8.self)
        }
    }
}

/// Text put together from parts in one byte buffer and made a string once (see ``String/keyPath(_:_:)``):
/// kept between uses, its buffer is allocated once.
struct TextBuffer {
    private var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func append(_ part: String) {
        var part = part
        part.withUTF8 { bytes.append(contentsOf: $0) }
    }

    /// `n` in decimal, as `String(n)` writes it.
    mutating func append(_ n: Int) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            let count = writeDecimal(n, to: digits.baseAddress!)
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[..<count]))
        }
    }

    mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// The text's UTF-8 bytes, read where they are (no string made).
    func withUTF8<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try bytes.withUnsafeBufferPointer(body)
    }

    var text: String { String(decoding: bytes, as: UTF8.self) }
}
