@_spi(Testing) import CSVKit

/// One libFuzzer input: the first byte picks a configuration (delimiter, header, mode, encoding, tiny
/// chunks), the rest is a CSV file. Each input is read to the end and validated against a template with
/// every column type, through an error report; the reader must never crash, hang or allocate without
/// bound, whatever the bytes. And the SIMD scanner must read it exactly as the careful parser does:
/// every record, line number and error the same (a difference stops the fuzzer like a crash), and so must
/// the read-ahead thread when it scans whole chunks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let selector = data[0]
    let bytes = Array(UnsafeBufferPointer(start: data + 1, count: size - 1))
    let delimiters: [UInt8] = [0x2C, 0x3B, 0x09, 0x7C]
    let encodings: [CSVEncoding] = [.auto, .utf8, .windows1252, .utf16LE]
    var configuration = CSVConfiguration(delimiter: delimiters[Int(selector & 3)], hasHeader: selector & 4 == 0,
                                         encoding: encodings[Int(selector >> 3 & 3)],
                                         mode: selector & 32 == 0 ? .lenient : .strict)
    configuration.maxFieldBytes = 4096
    configuration.maxRecordBytes = 16_384
    configuration.maxFieldCount = 64
    configuration.chunkSize = 4096  // the default 1 MiB buffer would dominate every run
    let chunk = selector & 64 == 0 ? Int.max : 1 + Int(selector >> 7) * 6
    var careful = configuration
    careful.usesScanner = false
    careful.readsAhead = false
    var wholeChunks = configuration
    wholeChunks.readAheadScansWholeChunks = true
    let expected = events(bytes, careful, chunk: chunk)
    let scanned = events(bytes, configuration, chunk: chunk)
    if scanned != expected {
        fatalError("the scanner and the careful parser disagree:\n\(scanned)\n\(expected)")
    }
    let scannedAhead = events(bytes, wholeChunks, chunk: chunk)
    if scannedAhead != expected {
        fatalError("records found by the read-ahead thread differ:\n\(scannedAhead)\n\(expected)")
    }
    do {
        let reader = try CSVReader(source: MemorySource(bytes, chunkLimit: chunk), configuration: configuration)
        let template = CSVTemplate(name: "fuzz", columns: [
            ColumnRule("sku", required: true, maxLength: 20),
            ColumnRule("qty", .integer(min: 0, max: 1000)),
            ColumnRule("price", .decimal(scale: 2, min: 0)),
            ColumnRule("date", .date(formats: ["dd/MM/yyyy HH:mm", "iso8601"])),
            ColumnRule("email", .email),
            ColumnRule("flag", .boolean),
            ColumnRule("state", .enumeration(values: ["Accepted", "Pending"])),
            ColumnRule("postcode", .postcode(countryColumn: "country")),
            ColumnRule("country"),
        ], uniqueKey: ["sku"])
        let sink = MemorySink()
        _ = try FileValidation.run(reader: reader, template: template, report: ErrorReport(sink: sink)) { row in
            for i in 0..<row.fieldCount { _ = row.field(i) }
        }
    } catch {
        // A reported error is a correct outcome; only crashes, hangs and leaks are findings.
    }
    return 0
}

/// Everything a reader reports for `bytes`, in order: records with their numbers and lines, and errors.
func events(_ bytes: [UInt8], _ configuration: CSVConfiguration, chunk: Int) -> [String] {
    guard let reader = try? CSVReader(source: MemorySource(bytes, chunkLimit: chunk), configuration: configuration)
    else { return ["cannot open"] }
    var events: [String] = []
    while true {
        do {
            guard try reader.next() else { break }
            events.append("record \(reader.recordNumber) line \(reader.line): \(reader.fields)")
        } catch let error as CSVError {
            events.append("error \(error.code) record \(error.recordNumber) line \(error.line) column "
                          + "\(error.column ?? 0) \(error.excerpt) \(error.fields)")
            if configuration.mode == .strict { break }
        } catch {
            events.append("error \(error)")
            break
        }
    }
    return events
}

// SwiftPM links an executable's entry point as `fuzz_csv_main` (renamed to `main` at link time), which
// takes the place of libFuzzer's own `main`: hand control to libFuzzer's driver from it.
@_silgen_name("LLVMFuzzerRunDriver")
func runFuzzerDriver(_ argc: UnsafeMutablePointer<CInt>,
                     _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> CInt) -> CInt

@_cdecl("fuzz_csv_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var arguments = argv
    return runFuzzerDriver(&count, &arguments) { data, size in fuzzOne(data, size) }
}
