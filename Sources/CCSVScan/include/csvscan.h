#ifndef VOXBATCH_CSVSCAN_H
#define VOXBATCH_CSVSCAN_H

// The fast path of CSVKit's reader: finds one record's field bounds 64 bytes at a time (SIMD).
//
// It handles only what is common and well formed — unquoted fields, quoted fields (doubled quotes
// and line breaks inside included) — and hands everything else back to the Swift parser, which is
// the one that knows how to report a malformed record. So it never has to be right about an error,
// only about when to step aside.

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

/// What vb_csv_scan_record found.
enum {
    /// A record was parsed: `out` and `bounds` describe it.
    VB_CSV_RECORD = 1,
    /// No line break ends the record before `end` (more data, or the last record of the file).
    VB_CSV_INCOMPLETE = 0,
    /// Something the fast path does not handle (a malformed field, a CR inside quotes, more fields
    /// than `max_fields`, a field over `max_field_bytes`): parse this record the careful way.
    VB_CSV_FALLBACK = -1,
};

typedef struct {
    /// Offset just past the record's line break.
    intptr_t end;
    /// Fields written to `bounds` (two offsets each: start and end of the content).
    intptr_t fields;
    /// Line breaks inside quoted fields.
    intptr_t newlines;
    int32_t flags;
} vb_csv_record;

/// One bit per byte of a 64-byte block.
typedef struct {
    uint64_t quote, delimiter, lf, cr;
    /// Bytes >= 0x80 or NUL.
    uint64_t text;
} vb_masks;

/// What the scanner keeps between records: the block the last record ended in, already classified,
/// so the next record starts there instead of classifying those bytes again.
typedef struct {
    /// The block's offset, or -1 when nothing is kept.
    intptr_t block;
    vb_masks masks;
    uint64_t inside;
    uint64_t valid;
} vb_csv_scanner;

/// Forgets the kept block; call it whenever the buffer's bytes move or change.
static inline void vb_csv_scanner_reset(vb_csv_scanner *scanner) { scanner->block = -1; }

/// Parses the record that starts at `base[start]` (not a line break) and ends before `base[end]`.
int vb_csv_scan_record(vb_csv_scanner *scanner, const uint8_t *base, intptr_t start, intptr_t end, uint8_t delimiter,
                       intptr_t *bounds, intptr_t max_fields, intptr_t max_field_bytes,
                       vb_csv_record *out);

/// 1 when `p[0 ..< n]` is valid UTF-8 without a NUL byte, else 0 (the caller then finds out where).
int vb_text_is_clean(const uint8_t *p, intptr_t n);

/// The SIMD width in use ("avx2", "sse2" or "scalar"), for benchmarks and diagnostics.
const char *vb_csv_scan_kind(void);

/// Uses the named variant ("avx2", "sse2", "scalar", or "best" for the default) from now on (tests
/// run each one); returns 0 if this CPU lacks it.
int vb_csv_scan_select(const char *kind);

#endif
