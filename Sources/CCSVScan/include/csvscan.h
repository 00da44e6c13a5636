#ifndef VOXBATCH_CSVSCAN_H
#define VOXBATCH_CSVSCAN_H

// The fast path of CSVKit's reader: finds the field bounds of many records in one pass, 64 bytes at
// a time (SIMD).
//
// It handles only what is common and well formed — unquoted fields, quoted fields (doubled quotes
// and line breaks inside included), blank lines — and stops before anything else, which the Swift
// parser reads and reports exactly. So it never has to be right about an error, only about when to
// stop.

#include <stdint.h>

/// A quoted field's start in `bounds` carries this bit when its content holds doubled quotes
/// that the caller must turn into single ones.
static const intptr_t VB_CSV_ESCAPED_FIELD = (intptr_t)1 << 61;

/// Record flags.
enum {
    /// Some field's start carries VB_CSV_ESCAPED_FIELD.
    VB_CSV_HAS_ESCAPES = 1,
    /// The record holds a byte >= 0x80 or a NUL: its text must be checked (UTF-8, NUL).
    VB_CSV_CHECK_TEXT = 2,
};

/// One record found by vb_csv_scan_records; its fields follow the previous record's in `bounds`.
typedef struct {
    /// Offset just past the record's line break.
    intptr_t end;
    /// Fields written to `bounds` (two offsets each: start and end of the content); 0 for a blank line.
    intptr_t fields;
    /// Line breaks inside quoted fields.
    int32_t newlines;
    int32_t flags;
} vb_csv_record;

/// Parses consecutive well-formed records from `base[start ..< end]` (the first starting at `start`),
/// writing each one's field bounds to `bounds` and a summary to `records`. Stops before the first
/// record that is not complete before `end`, or that needs the careful parser: a malformed field, a
/// CR inside quotes, a field over `max_field_bytes`, more than `max_fields` fields, or more fields
/// than `bounds` has room for. Returns the number of records (0: parse the next one the careful way).
intptr_t vb_csv_scan_records(const uint8_t *base, intptr_t start, intptr_t end, uint8_t delimiter,
                             intptr_t max_field_bytes, intptr_t max_fields, intptr_t *bounds,
                             intptr_t bounds_capacity, vb_csv_record *records, intptr_t records_capacity);

/// The offset of the first invalid UTF-8 sequence in `p[0 ..< n]` (or of the first NUL, with
/// `reject_nul`), or -1 when there is none. With `allow_truncated_end`, a sequence cut by the end of
/// the bytes (a chunk boundary) is not invalid.
intptr_t vb_utf8_first_invalid(const uint8_t *p, intptr_t n, int allow_truncated_end, int reject_nul);

/// How many bytes of `p[0 ..< n]` equal `byte`.
intptr_t vb_count_byte(const uint8_t *p, intptr_t n, uint8_t byte);

/// The SIMD width in use ("avx2", "sse2" or "scalar"), for benchmarks and diagnostics.
const char *vb_csv_scan_kind(void);

/// Uses the named variant ("avx2", "sse2", "scalar", or "best" for the default) from now on (tests
/// run each one); returns 0 if this CPU lacks it.
int vb_csv_scan_select(const char *kind);

/// The separators of packed rows (fields each ended by 0x1F, rows each by 0x1E) in `p[0 ..< n]`: writes the
/// offset of each, in order, to `ends` and the number of rows to `*rows`; returns how many separators there
/// are. -1: `p` holds a control character a file must not carry (a byte below 0x20 other than tab, LF, CR
/// and the two separators, or DEL); -2: more separators than `capacity` (or `n` past 2^31). With `wide`, AVX2
/// when the CPU has it; else (and without `wide`: tests run both) a byte loop.
intptr_t vb_packed_separators(const uint8_t *p, intptr_t n, int32_t *ends, intptr_t capacity, intptr_t *rows, int wide);

/// Whether this CPU runs AVX2.
int vb_cpu_has_avx2(void);

/// Writes the leading records of packed rows `p[0 ..< n]` (fields each ended by `field_end`, records each by
/// `record_end`) that need no quotes (no `delimiter`, quote, CR or LF in them) and, with `guards`, no formula
/// guard (no field starting with =, +, -, @ or tab) to `out` as CSV: the fields joined by `delimiter`, each
/// record followed by `eol[0 ..< eol_len]`. Stops before the first record that needs either, or that does not
/// end before `n`. Returns the bytes of `p` used; `*written`: the bytes written to `out` (room for
/// `n + n * eol_len` is always enough), `*records`: the records. `wide`: as for vb_packed_separators.
intptr_t vb_packed_write_plain(const uint8_t *p, intptr_t n, uint8_t field_end, uint8_t record_end, uint8_t delimiter,
                               int guards, const uint8_t *eol, intptr_t eol_len, uint8_t *out, intptr_t *written,
                               intptr_t *records, int wide);

#endif
