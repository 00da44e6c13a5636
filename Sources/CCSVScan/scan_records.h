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
// it. CSV is well formed exactly when every opening quote starts a field or directly follows a closing
// quote (a doubled quote), and every closing quote is followed by a separator or by an opening quote.
// A record where that fails anywhere stops the scan: the Swift parser reads it.

VB_SCAN_TARGET
static intptr_t VB_SCAN_NAME(const uint8_t *base, intptr_t start, intptr_t end, uint8_t delimiter,
                             intptr_t max_field_bytes, intptr_t max_fields, intptr_t *bounds,
                             intptr_t bounds_capacity, vb_csv_record *records, intptr_t records_capacity) {
    if (max_field_bytes < 64) return 0;  // limits that small: the careful parser checks each field
    if (records_capacity <= 0) return 0;
    intptr_t nrecords = 0;
    intptr_t nbounds = 0;         // fields written, all records
    intptr_t record_first = 0;    // the current record's first field
    intptr_t record_start = start;
    intptr_t field = start;       // the current field's first byte
    intptr_t newlines = 0;        // line feeds inside quotes in the current record
    int record_text = 0;          // a byte >= 0x80 or NUL in the current record, in an earlier block
    int record_problem = 0;       // something in an earlier block needs the careful parser
    int32_t record_flags = 0;
    int field_escaped = 0;        // the current field holds a doubled quote in an earlier block
    uint8_t pad[64];

    // Carried from one block to the next, about bit 0 of the next block.
    uint64_t inside_carry = 0;    // all ones when the block before ended inside quotes
    uint64_t starts_carry = 1;    // a field starts at bit 0
    uint64_t close_carry = 0;     // bit 63 before was a closing quote
    uint64_t cr_carry = 0;        // bit 63 before was a CR outside quotes

    for (intptr_t pos = start; pos < end; pos += 64) {
        const uint8_t *p = base + pos;
        uint64_t valid = ~(uint64_t)0;
        intptr_t left = end - pos;
        if (left < 64) {
            // The last, partial block: classify a padded copy (never read past `end`).
            memcpy(pad, p, (size_t)left);
            memset(pad + left, 'x', (size_t)(64 - left));
            p = pad;
            valid = ((uint64_t)1 << left) - 1;
        }
        vb_masks m;
        VB_SCAN_MASKS(p, delimiter, &m);
        uint64_t seps, line_ends, ends_field, crs, escapes, quoted_lf, problems;
        if ((((m.quote | m.cr) & valid) | inside_carry | close_carry | cr_carry) == 0) {
            // The common block: no quote, no CR, not inside quotes — nothing to check.
            seps = (m.delimiter | m.lf) & valid;
            line_ends = m.lf & valid;
            ends_field = seps;
            crs = escapes = quoted_lf = problems = 0;
        } else {
            uint64_t inside = VB_SCAN_PREFIX(m.quote) ^ inside_carry;
            inside_carry = (uint64_t)((int64_t)inside >> 63);
            uint64_t outside = ~inside & valid;
            crs = m.cr & outside;
            // The LF of a CR LF pair is no separator of its own: the CR ends the line.
            uint64_t paired_lf = m.lf & outside & ((crs << 1) | cr_carry);
            seps = (m.delimiter | m.lf | m.cr) & outside & ~paired_lf;
            line_ends = (m.lf | m.cr) & seps;
            ends_field = seps | paired_lf;  // what may follow a closing quote
            uint64_t opens = m.quote & inside & valid;
            uint64_t closes = m.quote & outside;
            uint64_t starts = (ends_field << 1) | starts_carry;
            problems = (opens & ~starts & ~((closes << 1) | close_carry))
                     | (closes & ~(ends_field >> 1) & ~(opens >> 1) & ~((uint64_t)1 << 63))
                     | (m.cr & inside & valid);
            if (close_carry && !((ends_field | opens) & 1)) problems |= 1;
            escapes = closes & (opens >> 1);  // the first quote of each doubled pair
            if (close_carry && (opens & 1)) field_escaped = 1;
            quoted_lf = m.lf & inside & valid;
            close_carry = closes >> 63;
        }
        uint64_t text = m.text & valid;
        uint64_t record_bits = ~(uint64_t)0;  // the bits of this block that belong to the current record

        uint64_t rest = seps;
        while (rest != 0) {
            // The separators up to and including the next line end.
            uint64_t next_end = line_ends & rest;
            uint64_t chunk = next_end != 0 ? rest & (next_end ^ (next_end - 1)) : rest;
            rest &= ~chunk;
            // Only a field that began in an earlier block can be longer than the limit (>= 64).
            if (pos + __builtin_ctzll(chunk) - field > max_field_bytes) record_problem = 1;
            intptr_t count = __builtin_popcountll(chunk);
            if (nbounds + count > bounds_capacity || nbounds - record_first + count > max_fields) return nrecords;
            intptr_t *o = bounds + 2 * nbounds;
            intptr_t at;
            if ((escapes | (uint64_t)field_escaped) == 0) {
                do {
                    at = pos + __builtin_ctzll(chunk);
                    intptr_t q = base[field] == '"';  // a quoted field loses its quotes
                    o[0] = field + q;
                    o[1] = at - q;
                    o += 2;
                    field = at + 1;
                    chunk &= chunk - 1;
                } while (chunk != 0);
            } else {
                do {
                    int bit = __builtin_ctzll(chunk);
                    at = pos + bit;
                    intptr_t q = base[field] == '"';
                    uint64_t before = ((uint64_t)1 << bit) - 1;
                    intptr_t escaped = 0;
                    if ((escapes & before) | (uint64_t)field_escaped) {
                        escaped = VB_CSV_ESCAPED_FIELD;
                        record_flags |= VB_CSV_HAS_ESCAPES;
                        escapes &= ~before;
                        field_escaped = 0;
                    }
                    o[0] = (field + q) | escaped;
                    o[1] = at - q;
                    o += 2;
                    field = at + 1;
                    chunk &= chunk - 1;
                } while (chunk != 0);
            }
            nbounds += count;
            if (next_end == 0) break;

            // A line end closes the record.
            int bit = __builtin_ctzll(next_end);
            uint64_t mine = record_bits & (((uint64_t)1 << bit) - 1);
            if (record_problem || (problems & mine)) return nrecords;
            intptr_t record_end;
            if ((m.lf >> bit) & 1) {
                record_end = at + 1;
            } else {
                if (at + 1 >= end) return nrecords;  // a CR at the end: is an LF next?
                record_end = base[at + 1] == '\n' ? at + 2 : at + 1;
            }
            vb_csv_record *r = records + nrecords;
            if (at == record_start) {
                r->fields = 0;  // a blank line
                nbounds = record_first;
            } else {
                r->fields = nbounds - record_first;
            }
            r->end = record_end;
            r->newlines = newlines + __builtin_popcountll(quoted_lf & mine);
            r->flags = record_flags | ((record_text || (text & mine)) ? VB_CSV_CHECK_TEXT : 0);
            nrecords++;
            if (nrecords == records_capacity) return nrecords;
            record_first = nbounds;
            record_start = field = record_end;
            newlines = 0;
            record_text = record_problem = field_escaped = 0;
            record_flags = 0;
            record_bits = ~((((uint64_t)2) << bit) - 1);
        }

        // The block ends inside the current record.
        if (problems & record_bits) record_problem = 1;
        if (text & record_bits) record_text = 1;
        newlines += __builtin_popcountll(quoted_lf & record_bits);
        if (escapes) field_escaped = 1;  // those before the last separator were taken by their fields
        starts_carry = ends_field >> 63;
        cr_carry = crs >> 63;
    }
    return nrecords;
}
