// The record scanner, instantiated once per instruction set by csvscan.c, which defines:
//   VB_SCAN_NAME     the function's name
//   VB_SCAN_TARGET   its target attribute (may be empty)
//   VB_SCAN_MASKS    a function (p, delimiter, vb_masks *) classifying 64 bytes
//   VB_SCAN_PREFIX   a function turning quote bits into "inside quotes" bits (prefix XOR)
//
// No include guard: csvscan.c includes it once per instruction set.
//
// How quotes are checked without looking at bytes one by one: the prefix XOR of the quote bits says
// which bytes are inside quotes; a quote that is inside opens a quoted run, one that is outside closes
// it. A record is well formed exactly when every opening quote starts a field or directly follows a
// closing quote (a doubled quote), and every closing quote is followed by a separator or by an opening
// quote. Anything else is a malformed record, left to the Swift parser.

VB_SCAN_TARGET
static int VB_SCAN_NAME(vb_csv_scanner *scanner, const uint8_t *base, intptr_t start, intptr_t end,
                        uint8_t delimiter, intptr_t *bounds, intptr_t max_fields, intptr_t max_field_bytes,
                        vb_csv_record *out) {
    intptr_t field = start;      // start of the current field
    intptr_t nfields = 0;
    intptr_t newlines = 0;
    uint64_t text = 0;           // bytes >= 0x80 or NUL seen in the record
    int32_t flags = 0;
    uint8_t pad[64];

    // Carried from one block to the next (bit 0 of the next block).
    uint64_t field_starts_here; // a field starts at bit 0 (or at the record's start bit)
    uint64_t after_close = 0;   // bit 0 follows a closing quote
    uint64_t close_pending = 0; // the previous block ended with a closing quote: bit 0 must separate or reopen
    int field_escaped = 0;      // the current field holds a doubled quote in an earlier block

    intptr_t pos;
    vb_masks m;
    uint64_t inside = 0, valid, live;
    if (max_field_bytes < 64) return VB_CSV_FALLBACK;  // limits that small: the careful parser checks each field
    // The kept block is good for one record only: whatever parses the record after it (this scanner
    // or, if it steps aside, the Swift parser) may read its quotes differently from how the block's
    // inside-quotes bits assumed.
    intptr_t kept = scanner->block;
    scanner->block = -1;
    if (kept >= 0 && start >= kept && start < kept + 64) {
        // The block the previous record ended in is classified already: start there.
        pos = kept;
        m = scanner->masks;
        inside = scanner->inside;
        valid = scanner->valid;
        live = valid & ~(((uint64_t)1 << (start - pos)) - 1);
        field_starts_here = (uint64_t)1 << (start - pos);
        goto classified;
    }
    pos = start;
    field_starts_here = 1;

    while (pos < end) {
        {
            const uint8_t *p = base + pos;
            valid = ~(uint64_t)0;
            intptr_t left = end - pos;
            if (left < 64) {
                // The last, partial block: classify a padded copy (never read past `end`).
                memcpy(pad, p, (size_t)left);
                memset(pad + left, 'x', (size_t)(64 - left));
                p = pad;
                valid = ((uint64_t)1 << left) - 1;
            }
            uint64_t carry = (uint64_t)((int64_t)inside >> 63);
            VB_SCAN_MASKS(p, delimiter, &m);
            inside = VB_SCAN_PREFIX(m.quote) ^ carry;
            live = valid;
        }
    classified:;
        uint64_t separators = (m.delimiter | m.lf | m.cr) & ~inside & live;
        uint64_t last_separates = separators >> 63;
        uint64_t opens = m.quote & inside & live;
        uint64_t closes = m.quote & ~inside & live;
        uint64_t starts = (separators << 1) | field_starts_here;
        uint64_t bad = (opens & ~starts & ~((closes << 1) | after_close))
                     | (closes & ~(separators >> 1) & ~(opens >> 1) & ~((uint64_t)1 << 63));
        if (close_pending && !((separators | opens) & 1)) bad |= 1;
        uint64_t escapes = closes & (opens >> 1);  // the first quote of each doubled pair
        if (close_pending && (opens & 1)) field_escaped = 1;
        uint64_t quoted_lf = m.lf & inside & live;
        uint64_t quoted_cr = m.cr & inside & live;

        if (separators != 0) {
            // The separators up to and including the first line break, which ends the record.
            uint64_t line_ends = (m.lf | m.cr) & separators;
            uint64_t seps = line_ends != 0 ? separators & (line_ends ^ (line_ends - 1)) : separators;
            if (nfields + __builtin_popcountll(seps) > max_fields) return VB_CSV_FALLBACK;
            // Only the block's first field can be longer than a block (max_field_bytes >= 64).
            if (pos + __builtin_ctzll(seps) - field > max_field_bytes) return VB_CSV_FALLBACK;
            intptr_t *o = bounds + 2 * nfields;
            intptr_t at;
            if ((escapes | (uint64_t)field_escaped) == 0) {
                do {
                    at = pos + __builtin_ctzll(seps);
                    intptr_t q = base[field] == '"';  // a quoted field loses its quotes
                    o[0] = field + q;
                    o[1] = at - q;
                    o += 2;
                    field = at + 1;
                    seps &= seps - 1;
                } while (seps != 0);
            } else {
                do {
                    int bit = __builtin_ctzll(seps);
                    at = pos + bit;
                    intptr_t q = base[field] == '"';
                    uint64_t before = ((uint64_t)1 << bit) - 1;
                    intptr_t escaped = 0;
                    if ((escapes & before) | (uint64_t)field_escaped) {
                        escaped = VB_CSV_ESCAPED_FIELD;
                        flags |= VB_CSV_HAS_ESCAPES;
                        escapes &= ~before;
                        field_escaped = 0;
                    }
                    o[0] = (field + q) | escaped;
                    o[1] = at - q;
                    o += 2;
                    field = at + 1;
                    seps &= seps - 1;
                } while (seps != 0);
            }
            nfields = (o - bounds) / 2;
            if (line_ends != 0) {
                int bit = __builtin_ctzll(line_ends);
                uint64_t before = ((uint64_t)1 << bit) - 1;
                if ((bad | quoted_cr) & before) return VB_CSV_FALLBACK;
                newlines += __builtin_popcountll(quoted_lf & before);
                text |= m.text & live & before;
                intptr_t record_end;
                if ((m.lf >> bit) & 1) {
                    record_end = at + 1;
                } else {
                    if (at + 1 >= end) return VB_CSV_INCOMPLETE;  // CR at the end: is an LF next?
                    record_end = base[at + 1] == '\n' ? at + 2 : at + 1;
                }
                // The next record starts in this block (outside quotes, like this one ended): keep it.
                scanner->block = pos;
                scanner->masks = m;
                scanner->inside = inside;
                scanner->valid = valid;
                out->end = record_end;
                out->fields = nfields;
                out->newlines = newlines;
                out->flags = flags | (text != 0 ? VB_CSV_CHECK_TEXT : 0);
                return VB_CSV_RECORD;
            }
        }

        // The block ends inside the current field.
        if (bad || quoted_cr) return VB_CSV_FALLBACK;
        newlines += __builtin_popcountll(quoted_lf);
        text |= m.text & live;
        if (escapes) field_escaped = 1;
        field_starts_here = last_separates;
        after_close = closes >> 63;
        close_pending = closes >> 63;
        pos += 64;
    }
    return VB_CSV_INCOMPLETE;
}
