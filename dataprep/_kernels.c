/* Compiled inner loops of the dedup and quality stages.
 *
 * Everything here has a pure-Python/numpy twin (dataprep.text, stages.dedup.minhash/vector,
 * stages.quality.kernel) that gives bit-identical results; tests compare the two on random input.
 * The module is optional: the package works, more slowly, when it was not built.
 *
 *   set_tables(fold, multi)          per-code-point normalisation table, built in Python (kernel.py)
 *   shingle_hashes(texts, n, kind)   normalise, cut units, hash every n-gram of units
 *   signatures(texts, n, kind, scheme, a, b, seed, probes) the same, fused with MinHash per text:
 *                                    datasketch's affine32 permutations or one-permutation hashing
 *   pair_jaccard(parts, part_of, start_of, count_of, pairs, width) exact Jaccard of distinct hashes
 *   sig_agreement(parts, part_of, row_of, pairs, num_perm) shared MinHash values per pair
 *   band_pairs(keys, bands, usable, small_group)           LSH candidate pairs of all bands
 *   components(n, left, right)                             connected components (union-find)
 *   ngram_repetition(h, lengths, doc_starts, top_sizes, dup_sizes) word n-gram repetition per
 *                                    document, all sizes in one call (quality stage)
 *   sha1_32(data), xxh32(data)       the shingle hashes on their own (for tests)
 *
 * SHA-1 follows FIPS 180-4 (with the x86 SHA extensions when the CPU has them); XXH32 follows
 * the xxHash specification (github.com/Cyan4973/xxHash, doc/xxhash_spec.md).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

/* An AVX2 build of the MinHash loop next to the default one, picked at load time (needs ifunc:
 * x86-64 Linux); elsewhere the default build only. */
#if defined(HAVE_X86) && defined(__linux__)
#define AVX2_CLONE __attribute__((target_clones("avx2", "default")))
#else
#define AVX2_CLONE
#endif

#define CLS_WORD 0u
#define CLS_SPACE 1u
#define CLS_SINGLE 2u
#define MULTI_FLAG 0x80000000u

enum { KIND_SHA1 = 0, KIND_XXH32 = 1, KIND_VEC64 = 2 };

static PyObject *g_fold_obj = NULL, *g_multi_obj = NULL;
static const uint32_t *g_fold = NULL, *g_multi = NULL;
static Py_ssize_t g_fold_len = 0;
static uint8_t g_ascii[128]; /* ASCII text: folded byte, ' ' for a separator */
static int g_ascii_ok = 0;   /* every ASCII character folds to one ASCII byte of a word, or separates */
#define POW_TAB 1024
static uint64_t g_pow[POW_TAB]; /* VEC_P ** k */

/* ------------------------------------------------------------------------------------------ */
/* hashes                                                                                       */

static inline uint32_t rotl32(uint32_t x, int r) { return (x << r) | (x >> (32 - r)); }

static inline uint64_t fmix64(uint64_t h) {
    h ^= h >> 33;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= h >> 33;
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 33;
    return h;
}

static inline uint32_t fmix32(uint32_t h) {
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}

static inline uint32_t load_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline uint32_t load_le32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v; /* x86/ARM little-endian hosts */
}

typedef void (*sha1_blocks_fn)(uint32_t state[5], const uint8_t *data, size_t nblocks);

static void sha1_blocks_portable(uint32_t st[5], const uint8_t *data, size_t nblocks) {
    uint32_t w[80];
    for (size_t blk = 0; blk < nblocks; blk++, data += 64) {
        for (int t = 0; t < 16; t++) w[t] = load_be32(data + 4 * t);
        for (int t = 16; t < 80; t++) w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];
        for (int t = 0; t < 80; t++) {
            uint32_t f, k;
            if (t < 20) { f = (b & c) | (~b & d); k = 0x5A827999u; }
            else if (t < 40) { f = b ^ c ^ d; k = 0x6ED9EBA1u; }
            else if (t < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8F1BBCDCu; }
            else { f = b ^ c ^ d; k = 0xCA62C1D6u; }
            uint32_t tmp = rotl32(a, 5) + f + e + k + w[t];
            e = d; d = c; c = rotl32(b, 30); b = a; a = tmp;
        }
        st[0] += a; st[1] += b; st[2] += c; st[3] += d; st[4] += e;
    }
}

#ifdef HAVE_X86
/* Four rounds per SHA1RNDS4; the message schedule W[t] = rotl1(W[t-3]^W[t-8]^W[t-14]^W[t-16]) is
 * computed four words at a time by SHA1MSG1/SHA1MSG2, and SHA1NEXTE derives E for the next group. */
#define SHA1_GROUP(F)                                                                              \
    do {                                                                                           \
        if (i >= 4)                                                                                \
            m[i & 3] = _mm_sha1msg2_epu32(                                                         \
                _mm_xor_si128(_mm_sha1msg1_epu32(m[i & 3], m[(i + 1) & 3]), m[(i + 2) & 3]),       \
                m[(i + 3) & 3]);                                                                   \
        __m128i e_ = _mm_sha1nexte_epu32(before, m[i & 3]);                                        \
        before = abcd;                                                                             \
        abcd = _mm_sha1rnds4_epu32(abcd, e_, F);                                                   \
        i++;                                                                                       \
    } while (0)

__attribute__((target("sha,sse4.1,ssse3")))
static void sha1_blocks_shani(uint32_t st[5], const uint8_t *data, size_t nblocks) {
    const __m128i mask = _mm_set_epi64x(0x0001020304050607ULL, 0x08090a0b0c0d0e0fULL);
    __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)st), 0x1B);
    __m128i e0 = _mm_set_epi32((int)st[4], 0, 0, 0);
    for (size_t blk = 0; blk < nblocks; blk++, data += 64) {
        __m128i abcd_save = abcd, e_save = e0, m[4];
        for (int j = 0; j < 4; j++)
            m[j] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + 16 * j)), mask);
        __m128i before = abcd;
        abcd = _mm_sha1rnds4_epu32(abcd, _mm_add_epi32(e0, m[0]), 0);
        int i = 1;
        SHA1_GROUP(0); SHA1_GROUP(0); SHA1_GROUP(0); SHA1_GROUP(0);
        SHA1_GROUP(1); SHA1_GROUP(1); SHA1_GROUP(1); SHA1_GROUP(1); SHA1_GROUP(1);
        SHA1_GROUP(2); SHA1_GROUP(2); SHA1_GROUP(2); SHA1_GROUP(2); SHA1_GROUP(2);
        SHA1_GROUP(3); SHA1_GROUP(3); SHA1_GROUP(3); SHA1_GROUP(3); SHA1_GROUP(3);
        e0 = _mm_sha1nexte_epu32(before, e_save);
        abcd = _mm_add_epi32(abcd, abcd_save);
    }
    abcd = _mm_shuffle_epi32(abcd, 0x1B);
    _mm_storeu_si128((__m128i *)st, abcd);
    st[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}
#endif

static sha1_blocks_fn g_sha1_blocks = sha1_blocks_portable;

/* datasketch's sha1_hash32: the first four bytes of SHA-1, read little-endian. */
static uint32_t sha1_32(const uint8_t *data, size_t len) {
    uint32_t st[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};
    size_t full = len / 64;
    if (full) g_sha1_blocks(st, data, full);
    uint8_t tail[128];
    size_t rest = len - full * 64;
    memcpy(tail, data + full * 64, rest);
    tail[rest] = 0x80;
    size_t tail_len = rest + 1 + 8 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, tail_len - rest - 1);
    uint64_t bits = (uint64_t)len * 8;
    for (int k = 0; k < 8; k++) tail[tail_len - 1 - k] = (uint8_t)(bits >> (8 * k));
    g_sha1_blocks(st, tail, tail_len / 64);
    uint32_t h0 = st[0];
    return (h0 >> 24) | ((h0 >> 8) & 0xFF00u) | ((h0 << 8) & 0xFF0000u) | (h0 << 24);
}

#define P1 0x9E3779B1u
#define P2 0x85EBCA77u
#define P3 0xC2B2AE3Du
#define P4 0x27D4EB2Fu
#define P5 0x165667B1u

static inline uint32_t xxh32_round(uint32_t acc, uint32_t lane) {
    acc += lane * P2;
    return rotl32(acc, 13) * P1;
}

static uint32_t xxh32(const uint8_t *p, size_t len) {
    const uint8_t *end = p + len;
    uint32_t h;
    if (len >= 16) {
        uint32_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = 0u - P1;
        const uint8_t *limit = end - 16;
        do {
            v1 = xxh32_round(v1, load_le32(p));
            v2 = xxh32_round(v2, load_le32(p + 4));
            v3 = xxh32_round(v3, load_le32(p + 8));
            v4 = xxh32_round(v4, load_le32(p + 12));
            p += 16;
        } while (p <= limit);
        h = rotl32(v1, 1) + rotl32(v2, 7) + rotl32(v3, 12) + rotl32(v4, 18);
    } else {
        h = P5;
    }
    h += (uint32_t)len;
    while (p + 4 <= end) {
        h += load_le32(p) * P3;
        h = rotl32(h, 17) * P4;
        p += 4;
    }
    while (p < end) {
        h += (*p++) * P5;
        h = rotl32(h, 11) * P1;
    }
    h ^= h >> 15;
    h *= P2;
    h ^= h >> 13;
    h *= P3;
    h ^= h >> 16;
    return h;
}

/* ------------------------------------------------------------------------------------------ */
/* growable buffers                                                                             */

typedef struct {
    char *p;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t more) {
    if (b->len + more <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more) cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
        PyErr_NoMemory();
        return -1;
    }
    b->p = q;
    b->cap = cap;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* normalised units of one text                                                                */

#define VEC_P 0x100000001B3ULL
#define VEC_MIX 0x9E3779B97F4A7C15ULL

typedef struct {
    Buf bytes;  /* UTF-8 of " ".join(units) */
    Buf starts; /* size_t byte offset where each unit starts */
    Buf ends;   /* size_t byte offset where each unit ends */
    Buf uhash;  /* uint64 vector hash of each unit */
    size_t nunits;
} Units;

#define CHUNK 4096 /* characters between buffer checks: each gives at most 3 characters of 4 bytes */

/* The loop state lives in locals (not behind a pointer) so the compiler keeps it in registers. */
#define UNIT_END()                                                                                 \
    do {                                                                                           \
        if (in_unit) {                                                                             \
            if (VEC) uh[nunits] = fmix64(sum ^ (ulen * VEC_MIX));                                  \
            else ends[nunits] = blen;                                                              \
            nunits++;                                                                              \
            in_unit = 0;                                                                           \
        }                                                                                          \
    } while (0)

#define UNIT_START()                                                                               \
    do {                                                                                           \
        if (!VEC) {                                                                                \
            if (nunits) out[blen++] = ' ';                                                         \
            starts[nunits] = blen;                                                                 \
        } else {                                                                                   \
            sum = 0;                                                                               \
            pw = 1;                                                                                \
            ulen = 0;                                                                              \
        }                                                                                          \
        in_unit = 1;                                                                               \
    } while (0)

#define UNIT_ADD(CP)                                                                               \
    do {                                                                                           \
        uint32_t c_ = (CP);                                                                        \
        if (VEC) {                                                                                 \
            sum += ((uint64_t)c_ + 1) * pw;                                                        \
            pw *= VEC_P;                                                                           \
            ulen++;                                                                                \
        } else if (c_ < 0x80) {                                                                    \
            out[blen++] = (uint8_t)c_;                                                             \
        } else if (c_ < 0x800) {                                                                   \
            out[blen++] = (uint8_t)(0xC0 | (c_ >> 6));                                             \
            out[blen++] = (uint8_t)(0x80 | (c_ & 0x3F));                                           \
        } else if (c_ < 0x10000) { /* surrogates as three bytes (Python's surrogatepass) */         \
            out[blen++] = (uint8_t)(0xE0 | (c_ >> 12));                                            \
            out[blen++] = (uint8_t)(0x80 | ((c_ >> 6) & 0x3F));                                    \
            out[blen++] = (uint8_t)(0x80 | (c_ & 0x3F));                                           \
        } else {                                                                                   \
            out[blen++] = (uint8_t)(0xF0 | (c_ >> 18));                                            \
            out[blen++] = (uint8_t)(0x80 | ((c_ >> 12) & 0x3F));                                   \
            out[blen++] = (uint8_t)(0x80 | ((c_ >> 6) & 0x3F));                                    \
            out[blen++] = (uint8_t)(0x80 | (c_ & 0x3F));                                           \
        }                                                                                          \
    } while (0)

#define EMIT(E)                                                                                    \
    do {                                                                                           \
        uint32_t e_ = (E), cls_ = (e_ >> 24) & 3u;                                                 \
        if (cls_ == CLS_WORD) {                                                                    \
            if (!in_unit) UNIT_START();                                                            \
            UNIT_ADD(e_ & 0x1FFFFFu);                                                              \
        } else {                                                                                   \
            UNIT_END();                                                                            \
            if (cls_ == CLS_SINGLE) {                                                              \
                UNIT_START();                                                                      \
                UNIT_ADD(e_ & 0x1FFFFFu);                                                          \
                UNIT_END();                                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

#define UNIT_LOOP(CTYPE, VEC_ARG)                                                                  \
    do {                                                                                          \
        const int VEC = VEC_ARG;                                                                  \
        const CTYPE *src = (const CTYPE *)data;                                                    \
        for (Py_ssize_t i = lo; i < hi; i++) {                                                     \
            uint32_t cp = src[i];                                                                  \
            uint32_t e = cp < fold_len ? fold[cp] : cp;                                            \
            if (e & MULTI_FLAG) {                                                                  \
                const uint32_t *m = multi + 4 * (e & 0xFFFFFFu);                                   \
                for (uint32_t k = 0; k < m[0]; k++) EMIT(m[1 + k]);                                \
            } else {                                                                               \
                EMIT(e);                                                                           \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* The same for ASCII text, without branches per character: every folded byte is written, and
 * the write position, unit starts and unit ends advance only where the rules say, so runs of
 * separators collapse to one space. */
/* Vector unit hashes of ASCII text, also without branches per character: a unit's running sum
 * and length are stored in the slot of the unit being read, and the slot advances where a unit
 * ends; powers of VEC_P come from a table (a running product past it). */
static int ascii_unit_hashes(const uint8_t *src, Py_ssize_t n, Units *u) {
    size_t ne = 0, len = 0;
    uint64_t sum = 0, pwl = 0;
    uint8_t prev = ' ';
    for (Py_ssize_t lo = 0; lo < n; lo += CHUNK) {
        Py_ssize_t hi = lo + CHUNK < n ? lo + CHUNK : n;
        size_t most = (size_t)(hi - lo) + 2;
        if (buf_reserve(&u->uhash, most * 8) < 0 || buf_reserve(&u->ends, most * sizeof(size_t)) < 0) return -1;
        uint64_t *rs = (uint64_t *)u->uhash.p;
        size_t *rl = (size_t *)u->ends.p;
        for (Py_ssize_t i = lo; i < hi; i++) {
            uint8_t m = g_ascii[src[i] & 0x7F];
            int sp = m == ' ', psp = prev == ' ';
            rs[ne] = sum;
            rl[ne] = len;
            ne += sp & (!psp);
            uint64_t pw;
            if (__builtin_expect(len < POW_TAB, 1)) {
                pw = g_pow[len];
            } else {
                pwl = len == POW_TAB ? g_pow[POW_TAB - 1] * VEC_P : pwl * VEC_P;
                pw = pwl;
            }
            uint64_t next = sum + ((uint64_t)m + 1) * pw;
            sum = sp ? 0 : next;
            len = sp ? 0 : len + 1;
            prev = m;
        }
        u->uhash.len = ne * 8;
        u->ends.len = ne * sizeof(size_t);
    }
    if (buf_reserve(&u->uhash, 8) < 0 || buf_reserve(&u->ends, sizeof(size_t)) < 0) return -1;
    uint64_t *rs = (uint64_t *)u->uhash.p;
    size_t *rl = (size_t *)u->ends.p;
    if (prev != ' ') { /* the last unit runs to the end */
        rs[ne] = sum;
        rl[ne] = len;
        ne++;
    }
    for (size_t k = 0; k < ne; k++) rs[k] = fmix64(rs[k] ^ ((uint64_t)rl[k] * VEC_MIX));
    u->nunits = ne;
    return 0;
}

static int ascii_units(const uint8_t *src, Py_ssize_t n, Units *u, int want_vec) {
    if (want_vec) return ascii_unit_hashes(src, n, u);
    size_t blen = 0, ns = 0, ne = 0;
    uint8_t prev = ' ';
    for (Py_ssize_t lo = 0; lo < n; lo += CHUNK) {
        Py_ssize_t hi = lo + CHUNK < n ? lo + CHUNK : n;
        size_t most = (size_t)(hi - lo) + 2;
        if (buf_reserve(&u->bytes, most) < 0 || buf_reserve(&u->starts, most * sizeof(size_t)) < 0 ||
            buf_reserve(&u->ends, most * sizeof(size_t)) < 0)
            return -1;
        uint8_t *out = (uint8_t *)u->bytes.p;
        size_t *starts = (size_t *)u->starts.p, *ends = (size_t *)u->ends.p;
        for (Py_ssize_t i = lo; i < hi; i++) {
            uint8_t m = g_ascii[src[i] & 0x7F];
            int sp = m == ' ', psp = prev == ' ';
            out[blen] = m;
            starts[ns] = blen;
            ends[ne] = blen;
            ns += (!sp) & psp;
            ne += sp & (!psp);
            blen += !(sp & psp);
            prev = m;
        }
        u->bytes.len = blen;
        u->starts.len = ns * sizeof(size_t);
        u->ends.len = ne * sizeof(size_t);
    }
    if (buf_reserve(&u->ends, sizeof(size_t)) < 0) return -1;
    if (prev != ' ') ((size_t *)u->ends.p)[ne++] = blen; /* close the last unit */
    else if (blen) blen--;                                 /* drop the trailing space */
    u->bytes.len = blen;
    u->nunits = ns;
    return 0;
}

/* Cut a text into normalised units (see dataprep.text.normalize_for_dedup and units; NFKC has
 * been applied by the caller). */
static int text_units(PyObject *text, Units *u, int want_vec) {
    u->bytes.len = u->starts.len = u->ends.len = u->uhash.len = 0;
    u->nunits = 0;
    if (text == Py_None) return 0;
    if (!PyUnicode_Check(text)) {
        PyErr_SetString(PyExc_TypeError, "texts must be str or None");
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0) return -1;
#endif
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (g_ascii_ok && PyUnicode_IS_ASCII(text)) return ascii_units(data, n, u, want_vec);
    const uint32_t *fold = g_fold, *multi = g_multi;
    const uint32_t fold_len = (uint32_t)g_fold_len;
    size_t blen = 0, nunits = 0;
    int in_unit = 0;
    uint64_t sum = 0, pw = 1, ulen = 0;
    for (Py_ssize_t lo = 0; lo < n; lo += CHUNK) {
        Py_ssize_t hi = lo + CHUNK < n ? lo + CHUNK : n;
        size_t most = (size_t)(hi - lo) * 3 + 2; /* units this chunk can add */
        if (buf_reserve(&u->bytes, most * 5) < 0 || buf_reserve(&u->starts, most * sizeof(size_t)) < 0 ||
            buf_reserve(&u->ends, most * sizeof(size_t)) < 0 || buf_reserve(&u->uhash, most * 8) < 0)
            return -1;
        u->bytes.len = blen;
        u->starts.len = u->ends.len = nunits * sizeof(size_t);
        u->uhash.len = nunits * 8;
        uint8_t *out = (uint8_t *)u->bytes.p;
        size_t *starts = (size_t *)u->starts.p, *ends = (size_t *)u->ends.p;
        uint64_t *uh = (uint64_t *)u->uhash.p;
        if (want_vec) {
            if (kind == PyUnicode_1BYTE_KIND) UNIT_LOOP(uint8_t, 1);
            else if (kind == PyUnicode_2BYTE_KIND) UNIT_LOOP(uint16_t, 1);
            else UNIT_LOOP(uint32_t, 1);
            if (hi == n) { const int VEC = 1; UNIT_END(); }
        } else {
            if (kind == PyUnicode_1BYTE_KIND) UNIT_LOOP(uint8_t, 0);
            else if (kind == PyUnicode_2BYTE_KIND) UNIT_LOOP(uint16_t, 0);
            else UNIT_LOOP(uint32_t, 0);
            if (hi == n) { const int VEC = 0; UNIT_END(); }
        }
        u->bytes.len = blen;
        u->starts.len = u->ends.len = nunits * sizeof(size_t);
        u->uhash.len = nunits * 8;
    }
    u->nunits = nunits;
    return 0;
}

static void units_free(Units *u) {
    free(u->bytes.p);
    free(u->starts.p);
    free(u->ends.p);
    free(u->uhash.p);
}

/* ------------------------------------------------------------------------------------------ */
/* shingle_hashes(texts, n, kind) -> (hashes: bytes, counts: bytes of int64)                    */

static PyObject *py_set_tables(PyObject *self, PyObject *args) {
    PyObject *fold, *multi;
    if (!PyArg_ParseTuple(args, "SS", &fold, &multi)) return NULL;
    if (PyBytes_GET_SIZE(fold) % 4 || PyBytes_GET_SIZE(multi) % 16) {
        PyErr_SetString(PyExc_ValueError, "bad table sizes");
        return NULL;
    }
    Py_INCREF(fold);
    Py_INCREF(multi);
    Py_XDECREF(g_fold_obj);
    Py_XDECREF(g_multi_obj);
    g_fold_obj = fold;
    g_multi_obj = multi;
    g_fold = (const uint32_t *)PyBytes_AS_STRING(fold);
    g_multi = (const uint32_t *)PyBytes_AS_STRING(multi);
    g_fold_len = PyBytes_GET_SIZE(fold) / 4;
    g_pow[0] = 1;
    for (int k = 1; k < POW_TAB; k++) g_pow[k] = g_pow[k - 1] * 0x100000001B3ULL;
    g_ascii_ok = g_fold_len >= 128;
    for (int c = 0; c < 128 && g_ascii_ok; c++) {
        uint32_t e = g_fold[c], cls = (e >> 24) & 3u, cp = e & 0x1FFFFFu;
        if (e & MULTI_FLAG || cls == CLS_SINGLE || (cls == CLS_WORD && (cp >= 128 || cp == ' ')))
            g_ascii_ok = 0;
        g_ascii[c] = cls == CLS_SPACE ? ' ' : (uint8_t)cp;
    }
    Py_RETURN_NONE;
}

/* Append the hash of every shingle of one text to out (4 or 8 bytes each, by kind); returns how
 * many, or -1 on error. A text with fewer than n units has one shingle of all of them. */
static Py_ssize_t doc_hashes(PyObject *text, Py_ssize_t n, int kind, Units *u, Buf *out) {
    if (text_units(text, u, kind == KIND_VEC64) < 0) return -1;
    size_t nu = u->nunits, m, windows;
    if (nu == 0) return 0;
    if (nu < (size_t)n) {
        m = nu;
        windows = 1;
    } else {
        m = (size_t)n;
        windows = nu - (size_t)n + 1;
    }
    size_t width = kind == KIND_VEC64 ? 8 : 4;
    if (buf_reserve(out, windows * width) < 0) return -1;
    if (kind == KIND_VEC64) {
        const uint64_t *uh = (const uint64_t *)u->uhash.p;
        uint64_t *o = (uint64_t *)(out->p + out->len);
        for (size_t k = 0; k < windows; k++) {
            uint64_t acc = m;
            for (size_t j = 0; j < m; j++) {
                acc *= VEC_MIX;
                acc ^= acc >> 29;
                acc ^= uh[k + j];
            }
            o[k] = fmix64(acc);
        }
    } else {
        const size_t *st = (const size_t *)u->starts.p, *en = (const size_t *)u->ends.p;
        const uint8_t *bytes = (const uint8_t *)u->bytes.p;
        uint32_t *o = (uint32_t *)(out->p + out->len);
        for (size_t k = 0; k < windows; k++) {
            const uint8_t *p = bytes + st[k];
            size_t len = en[k + m - 1] - st[k];
            o[k] = kind == KIND_SHA1 ? sha1_32(p, len) : xxh32(p, len);
        }
    }
    out->len += windows * width;
    return (Py_ssize_t)windows;
}

static int check_args(Py_ssize_t n, int kind) {
    if (!g_fold) {
        PyErr_SetString(PyExc_RuntimeError, "set_tables() was not called");
        return -1;
    }
    if (n < 1 || kind < 0 || kind > 2) {
        PyErr_SetString(PyExc_ValueError, "n must be >= 1 and kind in 0..2");
        return -1;
    }
    return 0;
}

static PyObject *py_shingle_hashes(PyObject *self, PyObject *args) {
    PyObject *texts;
    Py_ssize_t n;
    int kind;
    if (!PyArg_ParseTuple(args, "Oni", &texts, &n, &kind) || check_args(n, kind) < 0) return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence");
    if (!seq) return NULL;
    Py_ssize_t ndocs = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Units u;
    memset(&u, 0, sizeof(u));
    Buf out = {0}, counts = {0};
    PyObject *result = NULL;
    if (buf_reserve(&counts, (size_t)ndocs * 8 + 8) < 0) goto done;
    for (Py_ssize_t d = 0; d < ndocs; d++) {
        Py_ssize_t c = doc_hashes(items[d], n, kind, &u, &out);
        if (c < 0) goto done;
        ((int64_t *)counts.p)[d] = (int64_t)c;
    }
    {
        PyObject *h = PyBytes_FromStringAndSize(out.p ? out.p : "", (Py_ssize_t)out.len);
        PyObject *c = PyBytes_FromStringAndSize(counts.p, ndocs * 8);
        if (h && c) result = PyTuple_Pack(2, h, c);
        Py_XDECREF(h);
        Py_XDECREF(c);
    }
done:
    units_free(&u);
    free(out.p);
    free(counts.p);
    Py_DECREF(seq);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* MinHash                                                                                      */

AVX2_CLONE
static void perm_min_doc(const uint32_t *h, int64_t cnt, const uint32_t *a, const uint32_t *b,
                         Py_ssize_t num_perm, uint32_t *out) {
    for (Py_ssize_t j = 0; j < num_perm; j++) out[j] = 0xFFFFFFFFu;
    for (int64_t s = 0; s < cnt; s++) {
        uint32_t hv = fmix32(h[s]);
        for (Py_ssize_t j = 0; j < num_perm; j++) {
            uint32_t v = a[j] * hv + b[j];
            out[j] = v < out[j] ? v : out[j];
        }
    }
}

/* One-permutation MinHash of one document, empty bins filled by optimal densification (see
 * stages/dedup/vector.py, whose numpy code gives the same values). orig: num_perm scratch. */
static void oph_doc(const uint64_t *h, int64_t cnt, Py_ssize_t num_perm, uint64_t seedmix, const int64_t *probes,
                    Py_ssize_t attempts, uint32_t *sig, uint32_t *orig) {
    for (Py_ssize_t j = 0; j < num_perm; j++) sig[j] = 0xFFFFFFFFu;
    for (int64_t s = 0; s < cnt; s++) {
        uint64_t x = fmix64(h[s] ^ seedmix);
        uint64_t bin = ((x >> 32) * (uint64_t)num_perm) >> 32;
        uint32_t v = (uint32_t)(x & 0xFFFFFFFFu);
        if (v > 0xFFFFFFFEu) v = 0xFFFFFFFEu;
        if (v < sig[bin]) sig[bin] = v;
    }
    Py_ssize_t empty = 0;
    uint32_t smallest = 0xFFFFFFFFu;
    for (Py_ssize_t j = 0; j < num_perm; j++) {
        empty += sig[j] == 0xFFFFFFFFu;
        if (sig[j] < smallest) smallest = sig[j];
    }
    if (empty == 0 || empty == num_perm) return;
    memcpy(orig, sig, (size_t)num_perm * 4);
    for (Py_ssize_t j = 0; j < num_perm; j++) {
        if (orig[j] != 0xFFFFFFFFu) continue;
        uint32_t v = smallest; /* no probe hit: the row's smallest filled value */
        for (Py_ssize_t t = 0; t < attempts; t++) {
            uint32_t src = orig[probes[t * num_perm + j]];
            if (src != 0xFFFFFFFFu) {
                v = src;
                break;
            }
        }
        sig[j] = v;
    }
}

/* signatures(texts, n, kind, scheme, a, b, seed, probes[, want_hashes]) -> (docs x num_perm) uint32
 * signatures: shingle hashes and MinHash fused per document, so hashes never leave the cache.
 * scheme 0 is datasketch's permutations (a, b; 64-bit hashes use their high half), 1 one-permutation
 * hashing (num_perm = len(a); seed and the probe table as in stages/dedup/vector.py). With
 * want_hashes: (signatures, uint32 shingle hashes of all documents one after another (the high half
 * of 64-bit ones), int64 count per document). */
static PyObject *py_signatures(PyObject *self, PyObject *args) {
    PyObject *texts;
    Py_ssize_t n;
    int kind, scheme;
    unsigned long long seed;
    Py_buffer ab, bb, pb;
    int want_hashes = 0;
    if (!PyArg_ParseTuple(args, "Oniiy*y*Ky*|p", &texts, &n, &kind, &scheme, &ab, &bb, &seed, &pb, &want_hashes))
        return NULL;
    PyObject *seq = NULL, *result = NULL, *sigs = NULL, *counts = NULL;
    Units u;
    memset(&u, 0, sizeof(u));
    Buf hb = {0}, conv = {0}, kept = {0};
    uint32_t *orig = NULL;
    Py_ssize_t num_perm = ab.len / 4, attempts = num_perm > 0 ? pb.len / 8 / num_perm : 0;
    if (check_args(n, kind) < 0) goto done;
    if (num_perm < 1 || bb.len != ab.len || (scheme == 1 && attempts * num_perm * 8 != pb.len) || scheme < 0 ||
        scheme > 1) {
        PyErr_SetString(PyExc_ValueError, "signatures: inconsistent arguments");
        goto done;
    }
    seq = PySequence_Fast(texts, "texts must be a sequence");
    if (!seq) goto done;
    Py_ssize_t ndocs = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    sigs = PyBytes_FromStringAndSize(NULL, ndocs * num_perm * 4);
    counts = want_hashes ? PyBytes_FromStringAndSize(NULL, ndocs * 8) : NULL;
    orig = malloc((size_t)num_perm * 4);
    if (!sigs || !orig || (want_hashes && !counts)) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    uint32_t *sig = (uint32_t *)PyBytes_AS_STRING(sigs);
    for (Py_ssize_t d = 0; d < ndocs; d++, sig += num_perm) {
        hb.len = 0;
        Py_ssize_t cnt = doc_hashes(items[d], n, kind, &u, &hb);
        if (cnt < 0) goto done;
        if (want_hashes) ((int64_t *)PyBytes_AS_STRING(counts))[d] = cnt;
        if (want_hashes && cnt > 0) { /* 32 bits of every shingle hash, for exact verification later */
            if (buf_reserve(&kept, (size_t)cnt * 4) < 0) goto done;
            uint32_t *o = (uint32_t *)(kept.p + kept.len);
            if (kind == KIND_VEC64)
                for (Py_ssize_t k = 0; k < cnt; k++) o[k] = (uint32_t)(((uint64_t *)hb.p)[k] >> 32);
            else
                memcpy(o, hb.p, (size_t)cnt * 4);
            kept.len += (size_t)cnt * 4;
        }
        conv.len = 0;
        if (scheme == 0) {
            const uint32_t *h32 = (const uint32_t *)hb.p;
            if (kind == KIND_VEC64) {
                if (buf_reserve(&conv, (size_t)cnt * 4) < 0) goto done;
                for (Py_ssize_t k = 0; k < cnt; k++) ((uint32_t *)conv.p)[k] = (uint32_t)(((uint64_t *)hb.p)[k] >> 32);
                h32 = (const uint32_t *)conv.p;
            }
            perm_min_doc(h32, cnt, ab.buf, bb.buf, num_perm, sig);
        } else {
            const uint64_t *h64 = (const uint64_t *)hb.p;
            if (kind != KIND_VEC64) {
                if (buf_reserve(&conv, (size_t)cnt * 8) < 0) goto done;
                for (Py_ssize_t k = 0; k < cnt; k++) ((uint64_t *)conv.p)[k] = ((uint32_t *)hb.p)[k];
                h64 = (const uint64_t *)conv.p;
            }
            oph_doc(h64, cnt, num_perm, (uint64_t)seed * VEC_MIX, pb.buf, attempts, sig, orig);
        }
    }
    if (!want_hashes) {
        result = sigs;
        sigs = NULL;
    } else {
        PyObject *hashes = PyBytes_FromStringAndSize(kept.p ? kept.p : "", (Py_ssize_t)kept.len);
        if (hashes) result = PyTuple_Pack(3, sigs, hashes, counts);
        Py_XDECREF(hashes);
    }
done:
    Py_XDECREF(sigs);
    Py_XDECREF(counts);
    units_free(&u);
    free(hb.p);
    free(conv.p);
    free(kept.p);
    free(orig);
    Py_XDECREF(seq);
    PyBuffer_Release(&ab);
    PyBuffer_Release(&bb);
    PyBuffer_Release(&pb);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* pair_jaccard(parts, part_of, start_of, count_of, pairs, width) -> float64 per pair: |A & B| / |A | B|
 * over distinct hashes of width bytes (4 or 8). Item k's hashes are count_of[k] values from element
 * start_of[k] of parts[part_of[k]] (buffers, typically memory-mapped files: nothing is copied). */
static PyObject *py_pair_jaccard(PyObject *self, PyObject *args) {
    PyObject *parts_obj;
    Py_buffer ob, sb, cb, pb;
    int width;
    if (!PyArg_ParseTuple(args, "Oy*y*y*y*i", &parts_obj, &ob, &sb, &cb, &pb, &width)) return NULL;
    PyObject *result = NULL, *parts = NULL;
    Py_buffer *views = NULL;
    Py_ssize_t nviews = 0;
    uint64_t *keys = NULL;
    uint8_t *marks = NULL;
    size_t cap = 0;
    const int32_t *part_of = ob.buf;
    const int64_t *start_of = sb.buf, *count_of = cb.buf, *pairs = pb.buf;
    Py_ssize_t nitems = cb.len / 8, npairs = pb.len / 16;
    if ((width != 4 && width != 8) || ob.len / 4 != nitems || sb.len / 8 != nitems) {
        PyErr_SetString(PyExc_ValueError, "pair_jaccard: inconsistent arguments");
        goto done;
    }
    parts = PySequence_Fast(parts_obj, "parts must be a sequence of buffers");
    if (!parts) goto done;
    Py_ssize_t nparts = PySequence_Fast_GET_SIZE(parts);
    views = calloc((size_t)nparts + 1, sizeof(Py_buffer));
    if (!views) {
        PyErr_NoMemory();
        goto done;
    }
    for (; nviews < nparts; nviews++)
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(parts, nviews), &views[nviews], PyBUF_SIMPLE) < 0) goto done;
    for (Py_ssize_t k = 0; k < nitems; k++) {
        int32_t q = part_of[k];
        if (q < 0 || q >= nparts || start_of[k] < 0 || count_of[k] < 0 ||
            (start_of[k] + count_of[k]) * width > views[q].len) {
            PyErr_SetString(PyExc_IndexError, "pair_jaccard: an item lies outside its part");
            goto done;
        }
    }
    result = PyBytes_FromStringAndSize(NULL, npairs * 8);
    if (!result) goto done;
    double *out = (double *)PyBytes_AS_STRING(result);
    for (Py_ssize_t p = 0; p < npairs; p++) {
        int64_t i = pairs[2 * p], j = pairs[2 * p + 1];
        if (i < 0 || j < 0 || i >= nitems || j >= nitems) {
            Py_CLEAR(result);
            PyErr_SetString(PyExc_IndexError, "pair_jaccard: item out of range");
            goto done;
        }
        size_t na = (size_t)count_of[i], nb = (size_t)count_of[j];
        size_t need = 16;
        while (need < 2 * (na + nb)) need *= 2;
        if (need > cap) {
            free(keys);
            free(marks);
            keys = malloc(need * 8);
            marks = malloc(need);
            cap = need;
            if (!keys || !marks) {
                Py_CLEAR(result);
                PyErr_NoMemory();
                goto done;
            }
        }
        memset(marks, 0, need);
        size_t maskv = need - 1, distinct = 0, inter = 0;
        for (int side = 0; side < 2; side++) {
            int64_t item = side ? j : i;
            const uint8_t *s = (const uint8_t *)views[part_of[item]].buf + start_of[item] * width;
            size_t cnt = side ? nb : na;
            uint8_t bit = side ? 2 : 1;
            for (size_t k = 0; k < cnt; k++) {
                uint64_t key = width == 8 ? ((const uint64_t *)s)[k] : ((const uint32_t *)s)[k];
                size_t slot = (size_t)(fmix64(key) & maskv);
                while (marks[slot] && keys[slot] != key) slot = (slot + 1) & maskv;
                if (!marks[slot]) {
                    keys[slot] = key;
                    marks[slot] = bit;
                    distinct++;
                } else if (!(marks[slot] & bit)) {
                    marks[slot] |= bit;
                    inter++;
                }
            }
        }
        out[p] = distinct ? (double)inter / (double)distinct : 1.0;
    }
done:
    for (Py_ssize_t k = 0; k < nviews; k++) PyBuffer_Release(&views[k]);
    free(views);
    free(keys);
    free(marks);
    Py_XDECREF(parts);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&sb);
    PyBuffer_Release(&cb);
    PyBuffer_Release(&pb);
    return result;
}

/* sig_agreement(parts, part_of, row_of, pairs, num_perm) -> int32 per pair: the number of the
 * num_perm MinHash values two items share (item k's signature: row row_of[k] of parts[part_of[k]],
 * a row-major uint32 matrix with num_perm columns, often memory-mapped). The twin is
 * stages.dedup.kernel.sig_agreement in numpy. */
static PyObject *py_sig_agreement(PyObject *self, PyObject *args) {
    PyObject *parts_obj;
    Py_buffer ob, rb, pb;
    Py_ssize_t num_perm;
    if (!PyArg_ParseTuple(args, "Oy*y*y*n", &parts_obj, &ob, &rb, &pb, &num_perm)) return NULL;
    PyObject *result = NULL, *parts = NULL;
    Py_buffer *views = NULL;
    Py_ssize_t nviews = 0;
    const int32_t *part_of = ob.buf;
    const int64_t *row_of = rb.buf, *pairs = pb.buf;
    Py_ssize_t nitems = rb.len / 8, npairs = pb.len / 16;
    if (num_perm < 1 || ob.len / 4 != nitems) {
        PyErr_SetString(PyExc_ValueError, "sig_agreement: inconsistent arguments");
        goto done;
    }
    parts = PySequence_Fast(parts_obj, "parts must be a sequence of buffers");
    if (!parts) goto done;
    Py_ssize_t nparts = PySequence_Fast_GET_SIZE(parts);
    views = calloc((size_t)nparts + 1, sizeof(Py_buffer));
    if (!views) {
        PyErr_NoMemory();
        goto done;
    }
    for (; nviews < nparts; nviews++)
        if (PyObject_GetBuffer(PySequence_Fast_GET_ITEM(parts, nviews), &views[nviews], PyBUF_SIMPLE) < 0) goto done;
    for (Py_ssize_t k = 0; k < nitems; k++) {
        int32_t q = part_of[k];
        if (q < 0 || q >= nparts || row_of[k] < 0 || (row_of[k] + 1) * num_perm * 4 > views[q].len) {
            PyErr_SetString(PyExc_IndexError, "sig_agreement: an item lies outside its part");
            goto done;
        }
    }
    result = PyBytes_FromStringAndSize(NULL, npairs * 4);
    if (!result) goto done;
    int32_t *out = (int32_t *)PyBytes_AS_STRING(result);
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t p = 0; p < npairs; p++) {
        int64_t i = pairs[2 * p], j = pairs[2 * p + 1];
        if (i < 0 || j < 0 || i >= nitems || j >= nitems) {
            out[p] = -1;
            continue;
        }
        const uint32_t *a = (const uint32_t *)views[part_of[i]].buf + row_of[i] * num_perm;
        const uint32_t *b = (const uint32_t *)views[part_of[j]].buf + row_of[j] * num_perm;
        int32_t same = 0;
        for (Py_ssize_t k = 0; k < num_perm; k++) same += a[k] == b[k];
        out[p] = same;
    }
    Py_END_ALLOW_THREADS
    for (Py_ssize_t p = 0; p < npairs; p++)
        if (out[p] < 0) {
            Py_CLEAR(result);
            PyErr_SetString(PyExc_IndexError, "sig_agreement: item out of range");
            break;
        }
done:
    for (Py_ssize_t k = 0; k < nviews; k++) PyBuffer_Release(&views[k]);
    free(views);
    Py_XDECREF(parts);
    PyBuffer_Release(&ob);
    PyBuffer_Release(&rb);
    PyBuffer_Release(&pb);
    return result;
}

/* ------------------------------------------------------------------------------------------ */

/* band_pairs(keys, bands, usable, small_group) -> uint64 codes i << 32 | j (i < j), distinct, in
 * no particular order: the LSH candidate pairs of all bands. keys is the band x item matrix of band
 * keys (row-major); within a band, the usable items sharing a key form a group: every pair of a group
 * of up to small_group items, else a star from its smallest member and a chain through the others in
 * ascending order. The twin is stages.dedup.cluster.group_pairs, applied per band. */
typedef struct {
    uint64_t *v;
    Py_ssize_t n, cap;
} CodeSet; /* open addressing; 0 marks an empty slot (no pair has code 0, as j > i >= 0) */

static int codeset_grow(CodeSet *s) {
    Py_ssize_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *v = calloc((size_t)cap, 8);
    if (!v) return -1;
    for (Py_ssize_t i = 0; i < s->cap; i++) {
        uint64_t c = s->v[i];
        if (!c) continue;
        size_t h = (size_t)(fmix64(c) & (uint64_t)(cap - 1));
        while (v[h]) h = (h + 1) & (size_t)(cap - 1);
        v[h] = c;
    }
    free(s->v);
    s->v = v;
    s->cap = cap;
    return 0;
}

static int codeset_add(CodeSet *s, uint64_t c) {
    if (2 * (s->n + 1) > s->cap && codeset_grow(s) < 0) return -1;
    size_t mask = (size_t)(s->cap - 1), h = (size_t)(fmix64(c) & mask);
    while (s->v[h]) {
        if (s->v[h] == c) return 0;
        h = (h + 1) & mask;
    }
    s->v[h] = c;
    s->n++;
    return 0;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static void sort_u64(uint64_t *v, Py_ssize_t n) {
    if (n > 16) {
        qsort(v, (size_t)n, 8, cmp_u64);
        return;
    }
    for (Py_ssize_t i = 1; i < n; i++) { /* groups are mostly pairs: insertion sort */
        uint64_t x = v[i];
        Py_ssize_t j = i;
        for (; j > 0 && v[j - 1] > x; j--) v[j] = v[j - 1];
        v[j] = x;
    }
}

/* Pairs of one group (members in g, ascending) into the set. */
static int group_codes(CodeSet *set, const uint64_t *g, Py_ssize_t n, Py_ssize_t small) {
    if (n <= small) {
        for (Py_ssize_t x = 0; x < n; x++)
            for (Py_ssize_t y = x + 1; y < n; y++)
                if (codeset_add(set, g[x] << 32 | g[y]) < 0) return -1;
        return 0;
    }
    for (Py_ssize_t y = 1; y < n; y++)
        if (codeset_add(set, g[0] << 32 | g[y]) < 0) return -1;
    for (Py_ssize_t y = 1; y + 1 < n; y++)
        if (codeset_add(set, g[y] << 32 | g[y + 1]) < 0) return -1;
    return 0;
}

typedef struct {
    uint64_t key;
    int64_t head; /* last member inserted (local index), -1 if empty */
} Slot;

/* One band: the usable items are first partitioned by the top bits of their mixed key, so each
 * partition's hash table stays small enough for the cache; then grouped per partition. */
static int band_groups(const uint64_t *keys, Py_ssize_t rows, Py_ssize_t b, const int64_t *usable, Py_ssize_t m,
                       Py_ssize_t small, int pbits, uint64_t *pk, int64_t *pi, Py_ssize_t *starts, Slot **tablep,
                       size_t *tcap, int64_t *next, int64_t *multi, uint64_t *group, CodeSet *set) {
    Py_ssize_t parts = (Py_ssize_t)1 << pbits;
    memset(starts, 0, (size_t)(parts + 1) * sizeof(Py_ssize_t));
    for (Py_ssize_t p = 0; p < m; p++) {
        uint64_t x = keys[b * rows + usable[p]] * 0x9E3779B97F4A7C15ULL;
        starts[pbits ? (Py_ssize_t)(x >> (64 - pbits)) + 1 : 1]++;
    }
    for (Py_ssize_t q = 0; q < parts; q++) starts[q + 1] += starts[q];
    /* scatter, keeping input order within a partition (starts[q] is the fill pointer, then restored) */
    for (Py_ssize_t p = 0; p < m; p++) {
        uint64_t k = keys[b * rows + usable[p]], x = k * 0x9E3779B97F4A7C15ULL;
        Py_ssize_t q = pbits ? (Py_ssize_t)(x >> (64 - pbits)) : 0, at = starts[q]++;
        pk[at] = k;
        pi[at] = usable[p];
    }
    for (Py_ssize_t q = parts; q > 0; q--) starts[q] = starts[q - 1];
    starts[0] = 0;
    for (Py_ssize_t q = 0; q < parts; q++) {
        Py_ssize_t a = starts[q], n = starts[q + 1] - a, nmulti = 0;
        if (n < 2) continue;
        size_t size = 4;
        while (size < 2 * (size_t)n) size <<= 1;
        if (size > *tcap) { /* sized for the largest partition so far (about 8192 slots unless keys are skewed) */
            Slot *t = realloc(*tablep, size * sizeof(Slot));
            if (!t) return -1;
            *tablep = t;
            *tcap = size;
        }
        Slot *table = *tablep;
        int tbits = 0;
        while (((size_t)1 << tbits) < size) tbits++;
        for (size_t h = 0; h < size; h++) table[h].head = -1;
        for (Py_ssize_t j = 0; j < n; j++) {
            uint64_t k = pk[a + j], x = (k * 0x9E3779B97F4A7C15ULL) << pbits;
            size_t h = (size_t)(x >> (64 - tbits));
            while (table[h].head >= 0 && table[h].key != k) h = (h + 1) & (size - 1);
            if (table[h].head < 0) {
                table[h].key = k;
                next[j] = -1;
            } else {
                next[j] = table[h].head;
                if (next[next[j]] < 0) multi[nmulti++] = (int64_t)h; /* its second member: a group now */
            }
            table[h].head = j;
        }
        for (Py_ssize_t t = 0; t < nmulti; t++) {
            Py_ssize_t g = 0;
            for (int64_t j = table[multi[t]].head; j >= 0; j = next[j]) group[g++] = (uint64_t)pi[a + j];
            sort_u64(group, g);
            if (group_codes(set, group, g, small) < 0) return -1;
        }
    }
    return 0;
}

static PyObject *py_band_pairs(PyObject *self, PyObject *args) {
    Py_buffer kb, ub;
    Py_ssize_t bands, small;
    if (!PyArg_ParseTuple(args, "y*ny*n", &kb, &bands, &ub, &small)) return NULL;
    PyObject *result = NULL;
    const uint64_t *keys = kb.buf;
    const int64_t *usable = ub.buf;
    Py_ssize_t m = ub.len / 8, rows = bands > 0 ? kb.len / 8 / bands : 0;
    int pbits = 0; /* about 4096 items per partition */
    while (pbits < 16 && ((Py_ssize_t)4096 << pbits) < m) pbits++;
    size_t tcap = 0;
    uint64_t *pk = NULL, *group = NULL;
    int64_t *pi = NULL, *next = NULL, *multi = NULL;
    Py_ssize_t *starts = NULL;
    Slot *table = NULL;
    CodeSet set = {NULL, 0, 0};
    if (bands <= 0 || kb.len != (Py_ssize_t)(rows * bands * 8) || small < 2) {
        PyErr_SetString(PyExc_ValueError, "band_pairs: inconsistent sizes");
        goto done;
    }
    for (Py_ssize_t p = 0; p < m; p++)
        if (usable[p] < 0 || usable[p] >= rows || usable[p] > 0xFFFFFFFFLL) {
            PyErr_SetString(PyExc_IndexError, "band_pairs: item out of range");
            goto done;
        }
    size_t mm = (size_t)(m ? m : 1);
    pk = malloc(mm * 8);
    pi = malloc(mm * 8);
    next = malloc(mm * 8);
    multi = malloc(mm * 8);
    group = malloc(mm * 8);
    starts = malloc(((size_t)1 << pbits) * sizeof(Py_ssize_t) + sizeof(Py_ssize_t));
    if (!pk || !pi || !next || !multi || !group || !starts || codeset_grow(&set) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t b = 0; b < bands && !err; b++)
        err = band_groups(keys, rows, b, usable, m, small, pbits, pk, pi, starts, &table, &tcap, next, multi, group,
                          &set);
    Py_END_ALLOW_THREADS
    if (err) {
        PyErr_NoMemory();
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, set.n * 8);
    if (!result) goto done;
    uint64_t *out = (uint64_t *)PyBytes_AS_STRING(result);
    Py_ssize_t k = 0;
    for (Py_ssize_t i = 0; i < set.cap; i++)
        if (set.v[i]) out[k++] = set.v[i];
done:
    free(pk);
    free(pi);
    free(next);
    free(multi);
    free(group);
    free(starts);
    free(table);
    free(set.v);
    PyBuffer_Release(&kb);
    PyBuffer_Release(&ub);
    return result;
}

/* components(n, left, right) -> int64 label per node: the smallest node of its connected component
 * (union-find with path halving). */
static PyObject *py_components(PyObject *self, PyObject *args) {
    Py_ssize_t n;
    Py_buffer lb, rb;
    if (!PyArg_ParseTuple(args, "ny*y*", &n, &lb, &rb)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t m = lb.len / 8;
    const int64_t *left = lb.buf, *right = rb.buf;
    if (n < 0 || rb.len != lb.len) {
        PyErr_SetString(PyExc_ValueError, "components: inconsistent sizes");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, n * 8);
    if (!result) goto done;
    int64_t *parent = (int64_t *)PyBytes_AS_STRING(result);
    for (Py_ssize_t i = 0; i < n; i++) parent[i] = i;
    for (Py_ssize_t e = 0; e < m; e++) {
        int64_t a = left[e], b = right[e];
        if (a < 0 || b < 0 || a >= n || b >= n) {
            Py_CLEAR(result);
            PyErr_SetString(PyExc_IndexError, "components: node out of range");
            goto done;
        }
        while (parent[a] != a) a = parent[a] = parent[parent[a]];
        while (parent[b] != b) b = parent[b] = parent[parent[b]];
        if (a == b) continue;
        if (a < b) parent[b] = a; else parent[a] = b; /* the smaller root stays the root */
    }
    for (Py_ssize_t i = 0; i < n; i++) { /* roots are smaller than their members: one pass settles all */
        int64_t r = parent[i];
        parent[i] = parent[r];
    }
done:
    PyBuffer_Release(&lb);
    PyBuffer_Release(&rb);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Word n-gram repetition (quality stage)                                                       */

/* ngram_repetition(h, lengths, doc_starts, top_sizes, dup_sizes) -> tuple of bytes of float64, one
 * per size (the top sizes, then the dup sizes), one value per document: Gopher's n-gram repetition
 * signals. h: uint64 hash per word, lengths: int64 characters per word (>= 0), doc_starts: int64
 * offsets of the n_docs documents (n_docs + 1 of them, from 0 to the number of words).
 *   top n: max over repeated n-grams (count > 1) of count x characters of the n-gram;
 *   dup n: characters of the words covered by repeat occurrences (the second and later ones) of an
 *          n-gram within its document.
 * The twin is stages.quality.kernel.repetition; n-grams are keyed by the same 64-bit hash (the
 * polynomial sum of h[i + k] * MIX ** (n - 1 - k), here rolled from window to window, xor the
 * document's mix), one hash table per document and size. */

#define NG_MIX 0x9E3779B97F4A7C15ULL
#define NG_DOC_MIX 0xD6E8FEB86659FD93ULL

typedef struct {
    uint64_t key;
    int64_t chars;  /* the most characters of an occurrence */
    uint32_t count; /* occurrences so far */
    uint32_t stamp; /* in use by the current pass when equal to the table's stamp */
} NgSlot;

typedef struct {
    NgSlot *slots;
    size_t cap, mask;
    int shift;
    uint32_t stamp;
} NgTable;

/* Start a pass of `windows` n-grams: a table of at least twice as many slots (the first ones of
 * the buffer, grown when too small), emptied by a new stamp. */
static int ng_begin(NgTable *t, size_t windows) {
    size_t size = 4;
    int bits = 2;
    while (size < 2 * windows) {
        size <<= 1;
        bits++;
    }
    if (size > t->cap) {
        NgSlot *s = calloc(size, sizeof(NgSlot));
        if (!s) return -1;
        free(t->slots);
        t->slots = s;
        t->cap = size;
    }
    if (++t->stamp == 0) { /* wrapped: old stamps could match again */
        memset(t->slots, 0, t->cap * sizeof(NgSlot));
        t->stamp = 1;
    }
    t->mask = size - 1;
    t->shift = 64 - bits;
    return 0;
}

/* The slot of key, inserted (count 0, chars -1) if absent. Keys are sums of products of word
 * hashes: multiplicative hashing (the top bits of key x an odd constant) spreads them enough. */
static inline NgSlot *ng_find(NgTable *t, uint64_t key) {
    size_t i = (size_t)((key * 0xBF58476D1CE4E5B9ULL) >> t->shift);
    for (;;) {
        NgSlot *s = &t->slots[i];
        if (s->stamp != t->stamp) {
            s->stamp = t->stamp;
            s->key = key;
            s->count = 0;
            s->chars = -1;
            return s;
        }
        if (s->key == key) return s;
        i = (i + 1) & t->mask;
    }
}

/* One document (words h[0..len), document number d) and one size n >= 1, len >= n. */
static int ng_doc(NgTable *t, const uint64_t *h, const int64_t *lengths, size_t len, uint64_t d, size_t n,
                  int top, double *out) {
    size_t windows = len - n + 1;
    if (ng_begin(t, windows) < 0) return -1;
    uint64_t pw = 1, g = 0, mix = d * NG_DOC_MIX;
    int64_t c = 0, covered = 0;
    for (size_t k = 0; k + 1 < n; k++) pw *= NG_MIX; /* MIX ** (n - 1): the weight of a window's first word */
    for (size_t k = 0; k < n; k++) {
        g = g * NG_MIX + h[k];
        c += lengths[k];
    }
    double best = 0.0;
    size_t end = 0; /* words before end are covered or behind the windows read */
    for (size_t i = 0;; i++) {
        NgSlot *s = ng_find(t, g ^ mix);
        if (top) {
            s->count++;
            if (c > s->chars) s->chars = c;
            if (s->count > 1) {
                double v = (double)s->count * (double)s->chars;
                if (v > best) best = v;
            }
        } else if (s->count++) { /* a repeat: cover words [i, i + n) */
            for (size_t j = i > end ? i : end; j < i + n; j++) covered += lengths[j];
            end = i + n;
        }
        if (i + 1 == windows) break;
        g = (g - h[i] * pw) * NG_MIX + h[i + n];
        c += lengths[i + n] - lengths[i];
    }
    *out = top ? best : (double)covered;
    return 0;
}

static int ng_sizes(PyObject *obj, Py_ssize_t **sizes, Py_ssize_t *count) {
    PyObject *seq = PySequence_Fast(obj, "sizes must be a sequence of int");
    if (!seq) return -1;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    *sizes = malloc((size_t)(m ? m : 1) * sizeof(Py_ssize_t));
    *count = m;
    if (!*sizes) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t k = 0; k < m; k++) {
        Py_ssize_t v = PyLong_AsSsize_t(PySequence_Fast_GET_ITEM(seq, k));
        if (v == -1 && PyErr_Occurred()) {
            Py_DECREF(seq);
            return -1;
        }
        if (v < 1) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_ValueError, "ngram_repetition: sizes must be >= 1");
            return -1;
        }
        (*sizes)[k] = v;
    }
    Py_DECREF(seq);
    return 0;
}

static PyObject *py_ngram_repetition(PyObject *self, PyObject *args) {
    Py_buffer hb, lb, sb;
    PyObject *top_obj, *dup_obj;
    if (!PyArg_ParseTuple(args, "y*y*y*OO", &hb, &lb, &sb, &top_obj, &dup_obj)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t *top = NULL, *dup = NULL, ntop = 0, ndup = 0;
    double **outs = NULL;
    NgTable table = {NULL, 0, 0, 0, 0};
    const uint64_t *h = hb.buf;
    const int64_t *lengths = lb.buf, *starts = sb.buf;
    Py_ssize_t nwords = hb.len / 8, ndocs = sb.len / 8 - 1;
    if (ng_sizes(top_obj, &top, &ntop) < 0 || ng_sizes(dup_obj, &dup, &ndup) < 0) goto done;
    if (hb.len % 8 || lb.len != hb.len || sb.len % 8 || ndocs < 0 || starts[0] != 0 || starts[ndocs] != nwords) {
        PyErr_SetString(PyExc_ValueError, "ngram_repetition: inconsistent sizes");
        goto done;
    }
    for (Py_ssize_t d = 0; d < ndocs; d++)
        if (starts[d + 1] < starts[d] || starts[d + 1] - starts[d] > (int64_t)UINT32_MAX) {
            PyErr_SetString(PyExc_ValueError, "ngram_repetition: doc_starts must be non-decreasing (documents "
                                              "of fewer than 2**32 words)");
            goto done;
        }
    for (Py_ssize_t k = 0; k < nwords; k++)
        if (lengths[k] < 0) {
            PyErr_SetString(PyExc_ValueError, "ngram_repetition: negative word length");
            goto done;
        }
    Py_ssize_t nout = ntop + ndup;
    result = PyTuple_New(nout);
    outs = malloc((size_t)(nout ? nout : 1) * sizeof(double *));
    if (!result || !outs) {
        Py_CLEAR(result);
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t k = 0; k < nout; k++) {
        PyObject *b = PyBytes_FromStringAndSize(NULL, ndocs * 8);
        if (!b) {
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(result, k, b);
        outs[k] = (double *)PyBytes_AS_STRING(b);
    }
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t d = 0; d < ndocs && !err; d++) {
        size_t a = (size_t)starts[d], len = (size_t)(starts[d + 1] - starts[d]);
        for (Py_ssize_t k = 0; k < nout && !err; k++) {
            size_t n = (size_t)(k < ntop ? top[k] : dup[k - ntop]);
            outs[k][d] = 0.0;
            if (len >= n) err = ng_doc(&table, h + a, lengths + a, len, (uint64_t)d, n, k < ntop, &outs[k][d]);
        }
    }
    Py_END_ALLOW_THREADS
    if (err) {
        Py_CLEAR(result);
        PyErr_NoMemory();
    }
done:
    free(top);
    free(dup);
    free(outs);
    free(table.slots);
    PyBuffer_Release(&hb);
    PyBuffer_Release(&lb);
    PyBuffer_Release(&sb);
    return result;
}

static PyObject *hash_of_bytes(PyObject *args, uint32_t (*fn)(const uint8_t *, size_t)) {
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "y*", &b)) return NULL;
    uint32_t v = fn(b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(v);
}

static PyObject *py_sha1_32(PyObject *self, PyObject *args) { return hash_of_bytes(args, sha1_32); }

static PyObject *py_xxh32(PyObject *self, PyObject *args) { return hash_of_bytes(args, xxh32); }

static PyObject *py_use_sha_extensions(PyObject *self, PyObject *args) {
    int on;
    if (!PyArg_ParseTuple(args, "p", &on)) return NULL;
    int had = g_sha1_blocks != sha1_blocks_portable;
#ifdef HAVE_X86
    unsigned a, b, c, d;
    int cpu = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29));
    if (cpu && __get_cpuid(1, &a, &b, &c, &d)) cpu = (c & (1u << 19)) && (c & (1u << 9));
    else cpu = 0;
    g_sha1_blocks = on && cpu ? sha1_blocks_shani : sha1_blocks_portable;
#else
    (void)on;
#endif
    return PyBool_FromLong(had);
}

static PyMethodDef methods[] = {
    {"set_tables", py_set_tables, METH_VARARGS, "set_tables(fold, multi): the normalisation table."},
    {"shingle_hashes", py_shingle_hashes, METH_VARARGS,
     "shingle_hashes(texts, n, kind) -> (hashes, counts): kind 0 sha1-32, 1 xxh32, 2 vector-64."},
    {"signatures", py_signatures, METH_VARARGS,
     "signatures(texts, n, kind, scheme, a, b, seed, probes) -> MinHash signatures, fused per text."},
    {"pair_jaccard", py_pair_jaccard, METH_VARARGS,
     "pair_jaccard(parts, part_of, start_of, count_of, pairs, width) -> float64 per pair."},
    {"sig_agreement", py_sig_agreement, METH_VARARGS,
     "sig_agreement(parts, part_of, row_of, pairs, num_perm) -> int32 shared MinHash values per pair."},
    {"band_pairs", py_band_pairs, METH_VARARGS,
     "band_pairs(keys, bands, usable, small_group) -> uint64 candidate pair codes, distinct."},
    {"components", py_components, METH_VARARGS, "components(n, left, right) -> smallest node per component."},
    {"ngram_repetition", py_ngram_repetition, METH_VARARGS,
     "ngram_repetition(h, lengths, doc_starts, top_sizes, dup_sizes) -> float64 bytes per size, per document."},
    {"sha1_32", py_sha1_32, METH_VARARGS, "First four bytes of SHA-1, little-endian."},
    {"xxh32", py_xxh32, METH_VARARGS, "XXH32 with seed 0."},
    {"use_sha_extensions", py_use_sha_extensions, METH_VARARGS,
     "use_sha_extensions(on) -> previous: use the CPU's SHA instructions when it has them."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_kernels", "Compiled dedup and quality kernels.", -1,
                                    methods};

PyMODINIT_FUNC PyInit__kernels(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    PyObject *on = Py_BuildValue("(i)", 1);
    PyObject *r = on ? py_use_sha_extensions(NULL, on) : NULL;
    Py_XDECREF(on);
    if (!r) {
        Py_DECREF(m);
        return NULL;
    }
    Py_DECREF(r);
    return m;
}
