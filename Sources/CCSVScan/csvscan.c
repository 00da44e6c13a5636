#include "csvscan.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/// One bit per byte of a 64-byte block.
typedef struct {
    uint64_t quote, delimiter, lf, cr;
    /// Bytes >= 0x80 or NUL.
    uint64_t text;
} vb_masks;

static inline uint64_t prefix_xor_portable(uint64_t x) {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

static inline void masks_portable(const uint8_t *p, uint8_t delimiter, vb_masks *m) {
    uint64_t q = 0, d = 0, lf = 0, cr = 0, t = 0;
    for (int i = 0; i < 64; i++) {
        uint8_t b = p[i];
        uint64_t bit = (uint64_t)1 << i;
        if (b == '"') q |= bit;
        if (b == delimiter) d |= bit;
        if (b == '\n') lf |= bit;
        if (b == '\r') cr |= bit;
        if (b == 0 || b >= 0x80) t |= bit;
    }
    m->quote = q;
    m->delimiter = d;
    m->lf = lf;
    m->cr = cr;
    m->text = t;
}

#define VB_SCAN_NAME scan_portable
#define VB_SCAN_TARGET
#define VB_SCAN_MASKS masks_portable
#define VB_SCAN_PREFIX prefix_xor_portable
#include "scan_records.h"
#undef VB_SCAN_NAME
#undef VB_SCAN_TARGET
#undef VB_SCAN_MASKS
#undef VB_SCAN_PREFIX

#if defined(__x86_64__)

static inline void masks_sse2(const uint8_t *p, uint8_t delimiter, vb_masks *m) {
    const __m128i q = _mm_set1_epi8('"'), d = _mm_set1_epi8((char)delimiter);
    const __m128i lf = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'), zero = _mm_setzero_si128();
    uint64_t mq = 0, md = 0, mlf = 0, mcr = 0, mt = 0;
    for (int i = 0; i < 4; i++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + 16 * i));
        int shift = 16 * i;
        mq |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, q)) << shift;
        md |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, d)) << shift;
        mlf |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)) << shift;
        mcr |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr)) << shift;
        mt |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_or_si128(v, _mm_cmpeq_epi8(v, zero))) << shift;
    }
    m->quote = mq;
    m->delimiter = md;
    m->lf = mlf;
    m->cr = mcr;
    m->text = mt;
}

#define VB_SCAN_NAME scan_sse2
#define VB_SCAN_TARGET
#define VB_SCAN_MASKS masks_sse2
#define VB_SCAN_PREFIX prefix_xor_portable
#include "scan_records.h"
#undef VB_SCAN_NAME
#undef VB_SCAN_TARGET
#undef VB_SCAN_MASKS
#undef VB_SCAN_PREFIX

#define VB_AVX2 __attribute__((target("avx2,pclmul")))

VB_AVX2 static inline uint64_t movemask64(__m256i lo, __m256i hi) {
    return (uint64_t)(uint32_t)_mm256_movemask_epi8(lo) | ((uint64_t)(uint32_t)_mm256_movemask_epi8(hi) << 32);
}

VB_AVX2 static inline void masks_avx2(const uint8_t *p, uint8_t delimiter, vb_masks *m) {
    const __m256i lo = _mm256_loadu_si256((const __m256i *)p);
    const __m256i hi = _mm256_loadu_si256((const __m256i *)(p + 32));
    const __m256i q = _mm256_set1_epi8('"'), d = _mm256_set1_epi8((char)delimiter);
    const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r'), zero = _mm256_setzero_si256();
    m->quote = movemask64(_mm256_cmpeq_epi8(lo, q), _mm256_cmpeq_epi8(hi, q));
    m->delimiter = movemask64(_mm256_cmpeq_epi8(lo, d), _mm256_cmpeq_epi8(hi, d));
    m->lf = movemask64(_mm256_cmpeq_epi8(lo, lf), _mm256_cmpeq_epi8(hi, lf));
    m->cr = movemask64(_mm256_cmpeq_epi8(lo, cr), _mm256_cmpeq_epi8(hi, cr));
    m->text = movemask64(_mm256_or_si256(lo, _mm256_cmpeq_epi8(lo, zero)),
                         _mm256_or_si256(hi, _mm256_cmpeq_epi8(hi, zero)));
}

/// Prefix XOR as one carry-less multiplication by all ones.
VB_AVX2 static inline uint64_t prefix_xor_clmul(uint64_t x) {
    __m128i v = _mm_set_epi64x(0, (long long)x);
    return (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(v, _mm_set1_epi8((char)0xFF), 0));
}

#define VB_SCAN_NAME scan_avx2
#define VB_SCAN_TARGET VB_AVX2
#define VB_SCAN_MASKS masks_avx2
#define VB_SCAN_PREFIX prefix_xor_clmul
#include "scan_records.h"

#endif

typedef intptr_t (*scan_fn)(const uint8_t *, intptr_t, intptr_t, uint8_t, intptr_t, intptr_t, intptr_t *, intptr_t,
                            vb_csv_record *, intptr_t);

static scan_fn chosen_scan;
static const char *chosen_kind;

/// The variants, widest first.
static const char *const kinds[] = {"avx2", "sse2", "scalar"};

/// The scanner for `kind` (one of `kinds`), or 0 when this CPU cannot run it.
static scan_fn variant(const char *kind) {
    if (strcmp(kind, "scalar") == 0) return scan_portable;
#if defined(__x86_64__)
    if (strcmp(kind, "sse2") == 0) return scan_sse2;
    if (strcmp(kind, "avx2") == 0) {
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul")) return scan_avx2;
    }
#endif
    return 0;
}

static void use(scan_fn fn, const char *kind) {
    __atomic_store_n(&chosen_kind, kind, __ATOMIC_RELAXED);
    __atomic_store_n(&chosen_scan, fn, __ATOMIC_RELEASE);
}

/// Uses the widest variant this CPU can run.
static scan_fn choose(void) {
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        scan_fn fn = variant(kinds[i]);
        if (fn != 0) {
            use(fn, kinds[i]);
            return fn;
        }
    }
    return 0;  // not reached: the portable variant runs everywhere
}

intptr_t vb_csv_scan_records(const uint8_t *base, intptr_t start, intptr_t end, uint8_t delimiter,
                             intptr_t max_field_bytes, intptr_t max_fields, intptr_t *bounds,
                             intptr_t bounds_capacity, vb_csv_record *records, intptr_t records_capacity) {
    scan_fn fn = __atomic_load_n(&chosen_scan, __ATOMIC_ACQUIRE);
    if (fn == 0) fn = choose();
    return fn(base, start, end, delimiter, max_field_bytes, max_fields, bounds, bounds_capacity, records,
              records_capacity);
}

int vb_csv_scan_select(const char *kind) {
    if (strcmp(kind, "best") == 0) {
        choose();
        return 1;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcmp(kind, kinds[i]) != 0) continue;
        scan_fn fn = variant(kinds[i]);
        if (fn == 0) return 0;
        use(fn, kinds[i]);  // our own string: the caller's may not outlive the call
        return 1;
    }
    return 0;
}

const char *vb_csv_scan_kind(void) {
    if (__atomic_load_n(&chosen_scan, __ATOMIC_ACQUIRE) == 0) choose();
    return __atomic_load_n(&chosen_kind, __ATOMIC_RELAXED);
}

intptr_t vb_utf8_first_invalid(const uint8_t *p, intptr_t n, int allow_truncated_end, int reject_nul) {
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    intptr_t i = 0;
    while (i < n) {
        // Runs of ASCII (without NUL, when NUL counts as invalid), eight bytes at a time.
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            uint64_t stop = w & highs;
            if (reject_nul) stop |= (w - ones) & ~w & highs;
            if (stop) break;
            i += 8;
        }
        if (i >= n) break;
        uint8_t b = p[i];
        if (b == 0 && reject_nul) return i;
        if (b < 0x80) {
            i++;
            continue;
        }
        // One multi-byte sequence (Unicode table 3-7: no overlongs, no surrogates, nothing past U+10FFFF).
        int length;
        uint8_t lower = 0x80, upper = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) {
            length = 2;
        } else if (b >= 0xE0 && b <= 0xEF) {
            length = 3;
            if (b == 0xE0) lower = 0xA0;
            if (b == 0xED) upper = 0x9F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            length = 4;
            if (b == 0xF0) lower = 0x90;
            if (b == 0xF4) upper = 0x8F;
        } else {
            return i;
        }
        for (int k = 1; k < length; k++) {
            if (i + k >= n) return allow_truncated_end ? -1 : i;
            uint8_t c = p[i + k];
            if (c < (k == 1 ? lower : 0x80) || c > (k == 1 ? upper : 0xBF)) return i;
        }
        i += length;
    }
    return -1;
}

intptr_t vb_count_byte(const uint8_t *p, intptr_t n, uint8_t byte) {
    intptr_t count = 0;
    intptr_t i = 0;
#if defined(__x86_64__)
    // Per-lane counters (a match subtracts -1), summed every 255 blocks before a lane can overflow.
    const __m128i target = _mm_set1_epi8((char)byte), zero = _mm_setzero_si128();
    while (i + 16 <= n) {
        __m128i lanes = _mm_setzero_si128();
        intptr_t stop = i + 255 * 16;
        if (stop > n) stop = n;
        for (; i + 16 <= stop; i += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
            lanes = _mm_sub_epi8(lanes, _mm_cmpeq_epi8(v, target));
        }
        __m128i sums = _mm_sad_epu8(lanes, zero);
        count += _mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; i < n; i++) count += p[i] == byte;
    return count;
}

// Packed rows (BatchJobs' outbound records): fields ended by 0x1F, rows by 0x1E.

static intptr_t packed_separators_portable(const uint8_t *p, intptr_t from, intptr_t n, int32_t *ends, intptr_t k,
                                           intptr_t capacity, intptr_t *rows) {
    for (intptr_t i = from; i < n; i++) {
        uint8_t b = p[i];
        if (b >= 0x20 && b != 0x7F) continue;
        if (b == 0x1F || b == 0x1E) {
            if (k == capacity) return -2;
            ends[k++] = (int32_t)i;
            *rows += b == 0x1E;
        } else if (b != 0x09 && b != 0x0A && b != 0x0D) {
            return -1;
        }
    }
    return k;
}

#if defined(__x86_64__)
VB_AVX2 static intptr_t packed_separators_avx2(const uint8_t *p, intptr_t n, int32_t *ends, intptr_t capacity,
                                               intptr_t *rows) {
    const __m256i unit = _mm256_set1_epi8(0x1F), row = _mm256_set1_epi8(0x1E), tab = _mm256_set1_epi8(0x09);
    const __m256i lf = _mm256_set1_epi8(0x0A), cr = _mm256_set1_epi8(0x0D), del = _mm256_set1_epi8(0x7F);
    intptr_t i = 0, k = 0;
    for (; i + 32 <= n; i += 32) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(p + i));
        const __m256i control = _mm256_cmpeq_epi8(_mm256_min_epu8(v, unit), v);  // v <= 0x1F
        const __m256i units = _mm256_cmpeq_epi8(v, unit), ends_of_rows = _mm256_cmpeq_epi8(v, row);
        const __m256i separators = _mm256_or_si256(units, ends_of_rows);
        const __m256i allowed = _mm256_or_si256(separators, _mm256_or_si256(_mm256_cmpeq_epi8(v, tab),
                                                _mm256_or_si256(_mm256_cmpeq_epi8(v, lf), _mm256_cmpeq_epi8(v, cr))));
        const __m256i bad = _mm256_or_si256(_mm256_andnot_si256(allowed, control), _mm256_cmpeq_epi8(v, del));
        if (_mm256_movemask_epi8(bad) != 0) return -1;
        uint32_t found = (uint32_t)_mm256_movemask_epi8(separators);
        if (found == 0) continue;
        *rows += __builtin_popcount((uint32_t)_mm256_movemask_epi8(ends_of_rows));
        if (k + __builtin_popcount(found) > capacity) return -2;
        do {
            ends[k++] = (int32_t)(i + __builtin_ctz(found));
            found &= found - 1;
        } while (found);
    }
    return packed_separators_portable(p, i, n, ends, k, capacity, rows);
}
#endif

int vb_cpu_has_avx2(void) {
#if defined(__x86_64__)
    static int known = -1;
    int has = __atomic_load_n(&known, __ATOMIC_RELAXED);
    if (has < 0) {
        __builtin_cpu_init();
        has = __builtin_cpu_supports("avx2") ? 1 : 0;
        __atomic_store_n(&known, has, __ATOMIC_RELAXED);
    }
    return has;
#else
    return 0;
#endif
}

intptr_t vb_packed_separators(const uint8_t *p, intptr_t n, int32_t *ends, intptr_t capacity, intptr_t *rows, int wide) {
    *rows = 0;
    if (n > INT32_MAX) return -2;
#if defined(__x86_64__)
    if (wide && vb_cpu_has_avx2()) return packed_separators_avx2(p, n, ends, capacity, rows);
#endif
    return packed_separators_portable(p, 0, n, ends, 0, capacity, rows);
}

/// Whether `b` starts a field the formula guard looks at (CR needs quotes anyway).
static inline int packed_starts_formula(uint8_t b) {
    return b == '=' || b == '+' || b == '-' || b == '@' || b == 0x09;
}

static inline int packed_needs_quotes(uint8_t b, uint8_t delimiter) {
    return b == delimiter || b == '"' || b == '\n' || b == '\r';
}

/// The end (the offset of its `record_end`) of the record that starts at `s`, looked for from `from`; -1: not
/// complete before `n`; -2: it needs quotes or the guard.
static intptr_t packed_plain_end_portable(const uint8_t *p, intptr_t s, intptr_t from, intptr_t n, uint8_t field_end,
                                          uint8_t record_end, uint8_t delimiter, int guards) {
    for (intptr_t i = from; i < n; i++) {
        uint8_t b = p[i];
        if (b == record_end) return i;
        if (packed_needs_quotes(b, delimiter)) return -2;
        if (guards && packed_starts_formula(b) && (i == s || p[i - 1] == field_end)) return -2;
    }
    return -1;
}

static inline void packed_copy_portable(const uint8_t *p, intptr_t from, intptr_t to, uint8_t field_end,
                                        uint8_t delimiter, uint8_t *out) {
    for (intptr_t i = from; i < to; i++) out[i - from] = p[i] == field_end ? delimiter : p[i];
}

#if defined(__x86_64__)
VB_AVX2 static intptr_t packed_plain_end_avx2(const uint8_t *p, intptr_t s, intptr_t n, uint8_t field_end,
                                              uint8_t record_end, uint8_t delimiter, int guards) {
    const __m256i fe = _mm256_set1_epi8((char)field_end), re = _mm256_set1_epi8((char)record_end);
    const __m256i de = _mm256_set1_epi8((char)delimiter), qu = _mm256_set1_epi8('"');
    const __m256i lf = _mm256_set1_epi8('\n'), cr = _mm256_set1_epi8('\r');
    const __m256i eq = _mm256_set1_epi8('='), pl = _mm256_set1_epi8('+'), mi = _mm256_set1_epi8('-');
    const __m256i at = _mm256_set1_epi8('@'), tab = _mm256_set1_epi8(0x09);
    uint32_t carry = 1;  // the record's first byte starts a field
    intptr_t i = s;
    for (; i + 32 <= n; i += 32) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(p + i));
        const uint32_t ends = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, re));
        // Only the bytes before the record's end count.
        const uint32_t within = ends ? (ends & (0u - ends)) - 1 : 0xFFFFFFFFu;
        const __m256i quotes = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, de), _mm256_cmpeq_epi8(v, qu)),
                                               _mm256_or_si256(_mm256_cmpeq_epi8(v, lf), _mm256_cmpeq_epi8(v, cr)));
        uint32_t bad = (uint32_t)_mm256_movemask_epi8(quotes);
        if (guards) {
            const __m256i starters = _mm256_or_si256(
                _mm256_or_si256(_mm256_cmpeq_epi8(v, eq), _mm256_cmpeq_epi8(v, pl)),
                _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(v, mi), _mm256_cmpeq_epi8(v, at)),
                                _mm256_cmpeq_epi8(v, tab)));
            const uint32_t seps = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(v, fe));
            bad |= (uint32_t)_mm256_movemask_epi8(starters) & ((seps << 1) | carry);
            carry = seps >> 31;
        }
        if (bad & within) return -2;
        if (ends) return i + __builtin_ctz(ends);
    }
    // The rest, byte by byte (the byte before `i` tells whether `i` starts a field).
    return packed_plain_end_portable(p, s, i, n, field_end, record_end, delimiter, guards);
}

VB_AVX2 static void packed_copy_avx2(const uint8_t *p, intptr_t from, intptr_t to, uint8_t field_end,
                                     uint8_t delimiter, uint8_t *out) {
    const __m256i fe = _mm256_set1_epi8((char)field_end), de = _mm256_set1_epi8((char)delimiter);
    intptr_t i = from;
    for (; i + 32 <= to; i += 32) {
        const __m256i v = _mm256_loadu_si256((const __m256i *)(p + i));
        _mm256_storeu_si256((__m256i *)(out + (i - from)), _mm256_blendv_epi8(v, de, _mm256_cmpeq_epi8(v, fe)));
    }
    packed_copy_portable(p, i, to, field_end, delimiter, out + (i - from));
}
#endif

intptr_t vb_packed_write_plain(const uint8_t *p, intptr_t n, uint8_t field_end, uint8_t record_end, uint8_t delimiter,
                               int guards, const uint8_t *eol, intptr_t eol_len, uint8_t *out, intptr_t *written,
                               intptr_t *records, int wide) {
    wide = wide && vb_cpu_has_avx2();
    intptr_t s = 0, w = 0, r = 0;
    while (s < n) {
        intptr_t e;
#if defined(__x86_64__)
        if (wide) e = packed_plain_end_avx2(p, s, n, field_end, record_end, delimiter, guards);
        else
#endif
            e = packed_plain_end_portable(p, s, s, n, field_end, record_end, delimiter, guards);
        if (e < 0) break;
        // The record's fields without the last one's separator, the others made delimiters; then the line end.
        if (e > s) {
#if defined(__x86_64__)
            if (wide) packed_copy_avx2(p, s, e - 1, field_end, delimiter, out + w);
            else
#endif
                packed_copy_portable(p, s, e - 1, field_end, delimiter, out + w);
            w += e - 1 - s;
        }
        for (intptr_t k = 0; k < eol_len; k++) out[w++] = eol[k];
        r++;
        s = e + 1;
    }
    *written = w;
    *records = r;
    return s;
}
