/* fastText inference (supervised models) without allocations per word, for the langid stage.
 *
 * Loads a .bin/.ftz model written by fastText 0.9.x (file format version 11 or 12) and predicts
 * labels with the same arithmetic as fastText's C++ (FastText::predictLine as called by the
 * Python binding's multilinePredict), so labels, their order and the float32 probabilities are
 * bit-identical; tests/test_ftmodel.py compares the two on many texts.
 *
 * What has to match, and how it is matched here:
 *   - tokens: the binding appends "\n" to each line; words are separated by ' ', '\r', '\t', '\v',
 *     '\f' and NUL; the final newline reads as the end-of-sentence word "</s>", and reading stops
 *     after any "</s>" token (a literal one too).
 *   - rows of a word: in-vocabulary words give their id then their character n-grams (computed at
 *     load), out-of-vocabulary words their n-grams only (none for "</s>"); tokens starting with
 *     "__label__" that are not in the vocabulary are skipped. n-grams count UTF-8 code points,
 *     hash with 32-bit FNV-1a over sign-extended bytes, go modulo `bucket`, through the pruning
 *     map of pruned models (dropped when absent) and are offset by nwords. Word n-grams
 *     (wordNgrams > 1) follow all of the line's rows.
 *   - hidden vector: rows are summed in that order in float32, then multiplied by
 *     (float)(1.0 / count). Dense matrices of 16/32/64/256/512 columns start from the first row
 *     (fastText's SIMD path), all others from zero; the two differ only in the sign of a zero.
 *   - losses: hierarchical softmax (depth-first search over the Huffman tree built from the label
 *     counts, pruned by log(threshold) and by the k-th best), softmax, one-vs-all and negative
 *     sampling (sigmoid table), each with its float/double steps as fastText compiles them.
 *   - order: the k best are kept in a binary heap run exactly as libstdc++'s push_heap/pop_heap/
 *     sort_heap run it, so equal scores come out in the same order as fastText's.
 *
 * The module must be compiled without -ffast-math and without FMA contraction (-std=c11 keeps
 * contraction off); the probabilities come from the same libm (expf, exp, log) fastText calls.
 * Checked against the manylinux x86-64 wheel (GCC, SSE, no FMA); a binding built to use FMA
 * (some arm64 builds) would round differently from its own source.
 *
 *   Model(path)                      load; ValueError when the file is unreadable or unsupported
 *   Model.predict(texts, k, threshold) -> (labels, probs, offsets)
 *       labels: list (one per text) of lists of str; probs: bytearray of float32, all texts one
 *       after the other; offsets: bytes of int64, len(texts) + 1 entries into probs.
 *       The batch is processed without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* clang contracts a * b + c into an FMA by default; GCC does not with -std=c11 */
#endif

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FT_MAGIC 793712314
#define FT_MAX_VERSION 12
#define KSUB 256

enum { LOSS_HS = 1, LOSS_NS = 2, LOSS_SOFTMAX = 3, LOSS_OVA = 4 };
enum { MODEL_SUP = 3 };
enum { TYPE_WORD = 0, TYPE_LABEL = 1 };

static const char EOS[] = "</s>";
/* the bytes that separate words (besides the newline, which ends the line) */
static const unsigned char sep[256] = {[' '] = 1, ['\r'] = 1, ['\t'] = 1, ['\v'] = 1, ['\f'] = 1, ['\0'] = 1};
static const char LABEL_PREFIX[] = "__label__";

/* ---------------------------------------------------------------------------------------------
 * Matrices */

typedef struct {
    int32_t dim, nsubq, dsub, lastdsub;
    float *centroids; /* dim * KSUB floats */
} PQ;

typedef struct {
    int quant;
    int64_t m, n;
    float *data;      /* dense: m * n */
    uint8_t *codes;   /* quantized: m * nsubq codes */
    PQ pq;
    float *norms;     /* quantized with qnorm: the decoded norm of every row; NULL: norm 1 */
} Mat;

static inline const float *pq_centroid(const PQ *pq, int32_t m, uint8_t c) {
    if (m == pq->nsubq - 1)
        return pq->centroids + (int64_t)m * KSUB * pq->dsub + (int64_t)c * pq->lastdsub;
    return pq->centroids + ((int64_t)m * KSUB + c) * pq->dsub;
}

/* ---------------------------------------------------------------------------------------------
 * The model object */

typedef struct {
    PyObject_HEAD
    int32_t version;
    int32_t dim, ws, epoch, min_count, neg, word_ngrams, loss, model, bucket, minn, maxn, lr_update_rate;
    double t;
    int32_t size, nwords, nlabels;
    int64_t ntokens, pruneidx_size;
    /* vocabulary */
    char *blob;           /* all entries' bytes */
    int64_t *woff;        /* size + 1 offsets into blob */
    uint32_t *whash;      /* fastText hash of each entry */
    int8_t *wtype;
    int64_t *wcount;
    int32_t *vtab;        /* open-addressing table of entry ids, -1 empty */
    uint32_t vmask;
    /* rows of each in-vocabulary word: its id, then its character n-grams */
    int64_t *soff;        /* nwords + 1 */
    int32_t *sids;
    /* pruning (pruned models only): bucket b is kept when bit b of prune_bits is set; its new
     * index is prune_vals[rank], rank = the number of kept buckets below b (prune_rank holds that
     * count for each 64-bucket word). A compact map: lookups stay in the CPU's caches. */
    uint64_t *prune_bits;
    uint32_t *prune_rank;
    int32_t *prune_vals;
    uint64_t bucket_magic; /* for h % bucket on 32-bit h */
    Mat in, out;
    int fast_first;       /* dense input whose sum starts from the first row */
    /* hierarchical softmax tree */
    int32_t *left, *right;
    float t_sigmoid[513];
    PyObject *labels;     /* tuple of str */
} Model;

/* ---------------------------------------------------------------------------------------------
 * Small helpers */

static inline uint32_t ft_hash_step(uint32_t h, uint8_t byte) {
    h ^= (uint32_t)(int32_t)(int8_t)byte;  /* fastText XORs the sign-extended char */
    return h * 16777619u;
}

static uint32_t ft_hash(const uint8_t *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = ft_hash_step(h, s[i]);
    return h;
}

/* h % d for 32-bit h and d > 0 (Lemire, Kaser & Kurz, "Faster remainder by direct computation"). */
static inline uint32_t fastmod32(uint32_t h, uint64_t magic, uint32_t d) {
    uint64_t low = magic * h;
    return (uint32_t)(((unsigned __int128)low * d) >> 64);
}

static int grow(void **p, size_t *cap, size_t need, size_t elsize) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elsize);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static inline float std_log(float x) { return (float)log((double)x + 1e-5); }

static int32_t vocab_find(const Model *M, uint32_t h, const uint8_t *w, size_t n) {
    uint32_t i = h & M->vmask;
    int32_t e;
    while ((e = M->vtab[i]) != -1) {
        if (M->whash[e] == h && (size_t)(M->woff[e + 1] - M->woff[e]) == n &&
            memcmp(M->blob + M->woff[e], w, n) == 0)
            return e;
        i = (i + 1) & M->vmask;
    }
    return -1;
}

static inline uint32_t popcount64(uint64_t v) { /* portable: without -mpopcnt the builtin is a call */
    v = v - ((v >> 1) & 0x5555555555555555u);
    v = (v & 0x3333333333333333u) + ((v >> 2) & 0x3333333333333333u);
    v = (v + (v >> 4)) & 0x0F0F0F0F0F0F0F0Fu;
    return (uint32_t)((v * 0x0101010101010101u) >> 56);
}

/* Appends the row of bucket id `id` (fastText's Dictionary::pushHash). */
static inline void push_hash(const Model *M, int32_t id, int32_t *ids, size_t *n) {
    if (M->pruneidx_size == 0 || id < 0) return;
    if (M->prune_bits) {
        const uint64_t w = M->prune_bits[(uint32_t)id >> 6], bit = (uint64_t)1 << (id & 63);
        if (!(w & bit)) return;
        id = M->prune_vals[M->prune_rank[(uint32_t)id >> 6] + popcount64(w & (bit - 1))];
    }
    ids[(*n)++] = M->nwords + id;
}

/* The character n-gram rows of word w (already wrapped in "<" ">"), appended to ids; ids must
 * have room for len * maxn entries. */
static void compute_ngrams(const Model *M, const uint8_t *w, size_t len, int32_t *ids, size_t *n) {
    const int64_t minn = M->minn, maxn = M->maxn;
    for (size_t i = 0; i < len; i++) {
        if ((w[i] & 0xC0) == 0x80) continue;
        uint32_t h = 2166136261u;
        size_t j = i;
        for (int64_t k = 1; j < len && k <= maxn; k++) {
            h = ft_hash_step(h, w[j++]);
            while (j < len && (w[j] & 0xC0) == 0x80) h = ft_hash_step(h, w[j++]);
            if (k >= minn && !(k == 1 && (i == 0 || j == len)))
                push_hash(M, (int32_t)fastmod32(h, M->bucket_magic, (uint32_t)M->bucket), ids, n);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * Heap of (score, label) pairs, ordered as fastText's comparePairs (l.first > r.first) orders
 * them, run step by step as libstdc++'s heap algorithms run, so that ties end in the same order. */

typedef struct {
    float s;
    int32_t i;
} Pair;

static inline int pair_before(const Pair *a, const Pair *b) { return a->s > b->s; }

static void heap_sift_up(Pair *h, ptrdiff_t hole, ptrdiff_t top, Pair v) {
    ptrdiff_t parent = (hole - 1) / 2;
    while (hole > top && pair_before(&h[parent], &v)) {
        h[hole] = h[parent];
        hole = parent;
        parent = (hole - 1) / 2;
    }
    h[hole] = v;
}

static void heap_adjust(Pair *h, ptrdiff_t hole, ptrdiff_t len, Pair v) {
    const ptrdiff_t top = hole;
    ptrdiff_t child = hole;
    while (child < (len - 1) / 2) {
        child = 2 * (child + 1);
        if (pair_before(&h[child], &h[child - 1])) child--;
        h[hole] = h[child];
        hole = child;
    }
    if ((len & 1) == 0 && child == (len - 2) / 2) {
        child = 2 * (child + 1);
        h[hole] = h[child - 1];
        hole = child - 1;
    }
    heap_sift_up(h, hole, top, v);
}

static inline void heap_push(Pair *h, ptrdiff_t len) { /* the new element is h[len - 1] */
    heap_sift_up(h, len - 1, 0, h[len - 1]);
}

static inline void heap_pop(Pair *h, ptrdiff_t len) { /* moves the front to h[len - 1] */
    if (len > 1) {
        Pair v = h[len - 1];
        h[len - 1] = h[0];
        heap_adjust(h, 0, len - 1, v);
    }
}

static void heap_sort(Pair *h, ptrdiff_t len) {
    while (len > 1) {
        len--;
        Pair v = h[len];
        h[len] = h[0];
        heap_adjust(h, 0, len, v);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Inference */

typedef struct {
    int32_t *ids; size_t ids_cap;
    uint32_t *wh; size_t wh_cap;
    uint8_t *wbuf; size_t wbuf_cap;
    uint8_t *utf8; size_t utf8_cap;
    float *hidden;
    float *output;
    Pair *heap;
    /* results of the batch */
    float *rs; int32_t *ri; size_t rn, rs_cap, ri_cap;
} Scratch;

static void scratch_free(Scratch *S) {
    free(S->ids); free(S->wh); free(S->wbuf); free(S->utf8);
    free(S->hidden); free(S->output); free(S->heap); free(S->rs); free(S->ri);
}

static inline float dot_out(const Model *M, const float *x, int64_t row) {
    const Mat *W = &M->out;
    if (!W->quant) {
        const float *r = W->data + row * W->n;
        float d = 0.0f;
        for (int64_t j = 0; j < W->n; j++) d += r[j] * x[j];
        return d;
    }
    const PQ *pq = &W->pq;
    const uint8_t *code = W->codes + (int64_t)pq->nsubq * row;
    float res = 0.0f;
    int32_t d = pq->dsub;
    for (int32_t m = 0; m < pq->nsubq; m++) {
        const float *c = pq_centroid(pq, m, code[m]);
        if (m == pq->nsubq - 1) d = pq->lastdsub;
        for (int32_t t = 0; t < d; t++) res += x[m * pq->dsub + t] * c[t];
    }
    return res * (W->norms ? W->norms[row] : 1.0f);
}

static void hidden_from_rows(const Model *M, const int32_t *ids, size_t n, float *x) {
    const Mat *A = &M->in;
    const int64_t dim = A->n;
    if (!A->quant) {
        size_t i = 0;
        if (M->fast_first) {
            memcpy(x, A->data + (int64_t)ids[0] * dim, (size_t)dim * sizeof(float));
            i = 1;
        } else {
            for (int64_t j = 0; j < dim; j++) x[j] = 0.0f;
        }
        for (; i < n; i++) {
            const float *r = A->data + (int64_t)ids[i] * dim;
            for (int64_t j = 0; j < dim; j++) x[j] += r[j];
        }
    } else {
        const PQ *pq = &A->pq;
        const int32_t nsubq = pq->nsubq, dsub = pq->dsub, lastdsub = pq->lastdsub;
        /* each row: its centroids gathered into `row`, then x += a * row element by element (the
         * compiler vectorises this loop; every element still gets one multiply and one add) */
        float *row = x + dim;
        for (int64_t j = 0; j < dim; j++) x[j] = 0.0f;
        for (size_t i = 0; i < n; i++) {
            const int32_t r = ids[i];
            const float a = A->norms ? A->norms[r] : 1.0f;
            const uint8_t *code = A->codes + (int64_t)nsubq * r;
            if (dsub == 2 && lastdsub == 2) { /* fastText's default (-dsub 2, even dim) */
                for (int32_t m = 0; m < nsubq; m++)
                    memcpy(row + 2 * m, pq->centroids + ((int64_t)m * KSUB + code[m]) * 2, 2 * sizeof(float));
            } else {
                for (int32_t m = 0; m < nsubq - 1; m++)
                    memcpy(row + m * dsub, pq->centroids + ((int64_t)m * KSUB + code[m]) * dsub,
                           (size_t)dsub * sizeof(float));
                const int32_t m = nsubq - 1;
                memcpy(row + m * dsub, pq->centroids + (int64_t)m * KSUB * dsub + (int64_t)code[m] * lastdsub,
                       (size_t)lastdsub * sizeof(float));
            }
            for (int64_t j = 0; j < dim; j++) x[j] += a * row[j];
        }
    }
    const float scale = (float)(1.0 / (double)n);
    for (int64_t j = 0; j < dim; j++) x[j] *= scale;
}

typedef struct {
    const Model *M;
    const float *hidden;
    Pair *heap;
    ptrdiff_t hn;
    ptrdiff_t k;
    float log_thr; /* std_log(threshold), which fastText computes at every node: the same value */
    int nan;       /* a dense dot product was NaN: fastText throws */
} Dfs;

static void hs_dfs(Dfs *D, int32_t node, float score) {
    const Model *M = D->M;
    if (score < D->log_thr) return;
    if (D->hn == D->k && score < D->heap[0].s) return;
    if (M->left[node] == -1 && M->right[node] == -1) {
        D->heap[D->hn].s = score;
        D->heap[D->hn].i = node;
        D->hn++;
        heap_push(D->heap, D->hn);
        if (D->hn > D->k) {
            heap_pop(D->heap, D->hn);
            D->hn--;
        }
        return;
    }
    float f = dot_out(M, D->hidden, node - M->nlabels);
    if (!M->out.quant && isnan(f)) {
        D->nan = 1;
        return;
    }
    f = 1.0f / (1.0f + expf(-f)); /* fastText: 1. / (1 + std::exp(-f)), the same value */
    hs_dfs(D, M->left[node], score + std_log(1.0f - f));
    if (D->nan) return;
    hs_dfs(D, M->right[node], score + std_log(f));
}

static inline float table_sigmoid(const Model *M, float x) {
    if (x < -8.0f) return 0.0f;
    if (x > 8.0f) return 1.0f;
    int64_t i = (int64_t)((x + 8.0f) * 512.0f / 8.0f / 2.0f);
    return M->t_sigmoid[i];
}

/* The k best (score, label) pairs from the output vector (fastText's Loss::findKBest). */
static ptrdiff_t find_k_best(const float *out, int32_t osz, ptrdiff_t k, float thr, Pair *heap) {
    ptrdiff_t hn = 0;
    for (int32_t i = 0; i < osz; i++) {
        if (out[i] < thr) continue;
        if (hn == k && std_log(out[i]) < heap[0].s) continue;
        heap[hn].s = std_log(out[i]);
        heap[hn].i = i;
        hn++;
        heap_push(heap, hn);
        if (hn > k) {
            heap_pop(heap, hn);
            hn--;
        }
    }
    return hn;
}

enum { OK = 0, ERR_NOMEM = 1, ERR_K = 2, ERR_NAN = 3 };

/* One line of UTF-8 (without its newline): appends its predictions to S->rs/S->ri. */
static int predict_line(const Model *M, const uint8_t *s, size_t len, int32_t k, float thr, Scratch *S,
                        size_t *count) {
    const int64_t maxn = M->maxn > 0 ? M->maxn : 0;
    size_t nids = 0, nwh = 0, p = 0;
    *count = 0;
    for (;;) {
        while (p < len && sep[s[p]]) p++;
        const uint8_t *tok;
        size_t tl;
        uint32_t h = 2166136261u;
        if (p >= len) {
            tok = (const uint8_t *)EOS;
            tl = 4;
            h = ft_hash(tok, tl);
        } else {
            size_t start = p;
            while (p < len && !sep[s[p]]) h = ft_hash_step(h, s[p++]);
            tok = s + start;
            tl = p - start;
        }
        const int is_eos = tl == 4 && memcmp(tok, EOS, 4) == 0;
        const int32_t wid = vocab_find(M, h, tok, tl);
        int type;
        if (wid >= 0)
            type = M->wtype[wid];
        else
            type = (tl >= 9 && memcmp(tok, LABEL_PREFIX, 9) == 0) ? TYPE_LABEL : TYPE_WORD;
        if (type == TYPE_WORD) {
            if (wid >= 0) {
                const int64_t a = M->soff[wid], b = M->soff[wid + 1];
                if (grow((void **)&S->ids, &S->ids_cap, nids + (size_t)(b - a), sizeof(int32_t))) return ERR_NOMEM;
                memcpy(S->ids + nids, M->sids + a, (size_t)(b - a) * sizeof(int32_t));
                nids += (size_t)(b - a);
            } else if (!is_eos && maxn > 0) {
                if (grow((void **)&S->wbuf, &S->wbuf_cap, tl + 2, 1) ||
                    grow((void **)&S->ids, &S->ids_cap, nids + (tl + 2) * (size_t)maxn, sizeof(int32_t)))
                    return ERR_NOMEM;
                S->wbuf[0] = '<';
                memcpy(S->wbuf + 1, tok, tl);
                S->wbuf[tl + 1] = '>';
                compute_ngrams(M, S->wbuf, tl + 2, S->ids, &nids);
            }
            if (grow((void **)&S->wh, &S->wh_cap, nwh + 1, sizeof(uint32_t))) return ERR_NOMEM;
            S->wh[nwh++] = h;
        }
        if (is_eos) break;
    }
    if (M->word_ngrams > 1 && nwh > 1) {
        const int64_t n = M->word_ngrams;
        if (grow((void **)&S->ids, &S->ids_cap, nids + nwh * (size_t)(n - 1), sizeof(int32_t))) return ERR_NOMEM;
        for (size_t i = 0; i < nwh; i++) {
            uint64_t hh = (uint64_t)(int64_t)(int32_t)S->wh[i];
            for (size_t j = i + 1; j < nwh && (int64_t)j < (int64_t)i + n; j++) {
                hh = hh * 116049371u + (uint64_t)(int64_t)(int32_t)S->wh[j];
                push_hash(M, (int32_t)(hh % (uint64_t)M->bucket), S->ids, &nids);
            }
        }
    }
    if (nids == 0) return OK; /* fastText predicts nothing for a line without rows */
    if (k == -1)
        k = (int32_t)M->out.m;
    else if (k <= 0)
        return ERR_K;

    hidden_from_rows(M, S->ids, nids, S->hidden);
    const int32_t osz = M->nlabels;
    const ptrdiff_t kk = k;
    ptrdiff_t hn;
    if (M->loss == LOSS_HS) {
        Dfs D = {M, S->hidden, S->heap, 0, kk, std_log(thr), 0};
        hs_dfs(&D, 2 * osz - 2, 0.0f);
        if (D.nan) return ERR_NAN;
        hn = D.hn;
    } else {
        float *out = S->output;
        for (int32_t i = 0; i < osz; i++) {
            out[i] = dot_out(M, S->hidden, i);
            if (!M->out.quant && isnan(out[i])) return ERR_NAN;
        }
        if (M->loss == LOSS_SOFTMAX) {
            float mx = out[0], z = 0.0f;
            for (int32_t i = 0; i < osz; i++) mx = (out[i] < mx) ? mx : out[i];
            for (int32_t i = 0; i < osz; i++) {
                out[i] = (float)exp((double)(out[i] - mx));
                z += out[i];
            }
            for (int32_t i = 0; i < osz; i++) out[i] /= z;
        } else {
            for (int32_t i = 0; i < osz; i++) out[i] = table_sigmoid(M, out[i]);
        }
        hn = find_k_best(out, osz, kk, thr, S->heap);
    }
    heap_sort(S->heap, hn);
    if (grow((void **)&S->rs, &S->rs_cap, S->rn + (size_t)hn, sizeof(float)) ||
        grow((void **)&S->ri, &S->ri_cap, S->rn + (size_t)hn, sizeof(int32_t)))
        return ERR_NOMEM;
    for (ptrdiff_t i = 0; i < hn; i++) {
        S->rs[S->rn] = expf(S->heap[i].s);
        S->ri[S->rn] = S->heap[i].i;
        S->rn++;
    }
    *count = (size_t)hn;
    return OK;
}

/* ---------------------------------------------------------------------------------------------
 * Texts: the str objects' own buffers, read without the GIL (the items are referenced). */

typedef struct {
    int kind;
    int ascii;
    const void *data;
    Py_ssize_t len;
} Text;

/* 0 ok, 1 a newline, 2 a lone surrogate */
static int text_check(const Text *t) {
    if (t->kind == PyUnicode_1BYTE_KIND) return memchr(t->data, '\n', (size_t)t->len) ? 1 : 0;
    int bad = 0;
    if (t->kind == PyUnicode_2BYTE_KIND) {
        const uint16_t *u = t->data;
        for (Py_ssize_t i = 0; i < t->len; i++) {
            if (u[i] == '\n') return 1;
            if (u[i] >= 0xD800 && u[i] <= 0xDFFF) bad = 2;
        }
    } else {
        const uint32_t *u = t->data;
        for (Py_ssize_t i = 0; i < t->len; i++) {
            if (u[i] == '\n') return 1;
            if (u[i] >= 0xD800 && u[i] <= 0xDFFF) bad = 2;
        }
    }
    return bad;
}

static inline size_t put_utf8(uint8_t *o, uint32_t c) {
    if (c < 0x80) { o[0] = (uint8_t)c; return 1; }
    if (c < 0x800) { o[0] = (uint8_t)(0xC0 | (c >> 6)); o[1] = (uint8_t)(0x80 | (c & 0x3F)); return 2; }
    if (c < 0x10000) {
        o[0] = (uint8_t)(0xE0 | (c >> 12)); o[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        o[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (uint8_t)(0xF0 | (c >> 18)); o[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    o[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F)); o[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

/* The UTF-8 bytes of a text (its own buffer when ASCII); NULL when out of memory. */
static const uint8_t *text_utf8(const Text *t, Scratch *S, size_t *n) {
    if (t->ascii) {
        *n = (size_t)t->len;
        return t->data;
    }
    if (grow((void **)&S->utf8, &S->utf8_cap, (size_t)t->len * 4 + 1, 1)) return NULL;
    uint8_t *o = S->utf8;
    size_t w = 0;
    if (t->kind == PyUnicode_1BYTE_KIND) {
        const uint8_t *u = t->data;
        for (Py_ssize_t i = 0; i < t->len; i++) w += put_utf8(o + w, u[i]);
    } else if (t->kind == PyUnicode_2BYTE_KIND) {
        const uint16_t *u = t->data;
        for (Py_ssize_t i = 0; i < t->len; i++) w += put_utf8(o + w, u[i]);
    } else {
        const uint32_t *u = t->data;
        for (Py_ssize_t i = 0; i < t->len; i++) w += put_utf8(o + w, u[i]);
    }
    *n = w;
    return o;
}

static PyObject *Model_predict(Model *self, PyObject *args) {
    PyObject *seq;
    int k;
    double threshold;
    if (!PyArg_ParseTuple(args, "Oid", &seq, &k, &threshold)) return NULL;
    if (!self->labels) {
        PyErr_SetString(PyExc_ValueError, "no model is loaded");
        return NULL;
    }
    PyObject *fast = PySequence_Fast(seq, "texts must be a list of str");
    if (!fast) return NULL;
    const Py_ssize_t nt = PySequence_Fast_GET_SIZE(fast);
    PyObject **items = PyMem_Malloc((size_t)(nt ? nt : 1) * sizeof(PyObject *));
    Text *texts = PyMem_Malloc((size_t)(nt ? nt : 1) * sizeof(Text));
    int64_t *offsets = PyMem_Malloc((size_t)(nt + 1) * sizeof(int64_t));
    Scratch S;
    memset(&S, 0, sizeof S);
    PyObject *result = NULL, *labels = NULL, *probs = NULL, *offs = NULL;
    Py_ssize_t held = 0;
    if (!items || !texts || !offsets) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < nt; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(fast, i);
        if (!PyUnicode_Check(o)) {
            PyErr_Format(PyExc_TypeError, "texts must be str, got %.100s", Py_TYPE(o)->tp_name);
            goto done;
        }
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(o) < 0) goto done;
#endif
        Py_INCREF(o);
        items[held++] = o;
        texts[i].kind = PyUnicode_KIND(o);
        texts[i].ascii = PyUnicode_IS_ASCII(o);
        texts[i].data = PyUnicode_DATA(o);
        texts[i].len = PyUnicode_GET_LENGTH(o);
    }
    const float thr = (float)threshold;
    S.hidden = malloc((size_t)self->in.n * 2 * sizeof(float)); /* the hidden vector, then a row */
    S.output = malloc((size_t)self->nlabels * sizeof(float));
    S.heap = malloc((size_t)(self->nlabels + 2) * sizeof(Pair));
    if (!S.hidden || !S.output || !S.heap) {
        PyErr_NoMemory();
        goto done;
    }
    int err = OK, check = 0;
    Py_BEGIN_ALLOW_THREADS
    /* the binding checks every line for newlines, then converts every line to UTF-8, then predicts */
    for (Py_ssize_t i = 0; i < nt && check != 1; i++) {
        int c = text_check(&texts[i]);
        if (c > check) check = c;
    }
    offsets[0] = 0;
    for (Py_ssize_t i = 0; i < nt && !check && err == OK; i++) {
        size_t n, count = 0;
        const uint8_t *u = text_utf8(&texts[i], &S, &n);
        if (!u)
            err = ERR_NOMEM;
        else
            err = predict_line(self, u, n, k, thr, &S, &count);
        offsets[i + 1] = offsets[i] + (int64_t)count;
    }
    Py_END_ALLOW_THREADS
    if (check == 1) {
        PyErr_SetString(PyExc_ValueError, "predict processes one line at a time (remove '\\n')");
        goto done;
    }
    if (check == 2) {
        PyErr_SetString(PyExc_TypeError, "a text has a lone surrogate, which UTF-8 cannot encode");
        goto done;
    }
    if (err == ERR_K) {
        PyErr_SetString(PyExc_ValueError, "k needs to be 1 or higher!");
        goto done;
    }
    if (err == ERR_NAN) { /* fastText's EncounteredNaNError */
        PyErr_SetString(PyExc_RuntimeError, "Encountered NaN.");
        goto done;
    }
    if (err == ERR_NOMEM) {
        PyErr_NoMemory();
        goto done;
    }
    labels = PyList_New(nt);
    probs = PyByteArray_FromStringAndSize(S.rs ? (const char *)S.rs : "", (Py_ssize_t)(S.rn * sizeof(float)));
    offs = PyBytes_FromStringAndSize((const char *)offsets, (Py_ssize_t)((nt + 1) * sizeof(int64_t)));
    if (!labels || !probs || !offs) goto done;
    for (Py_ssize_t i = 0; i < nt; i++) {
        const Py_ssize_t a = (Py_ssize_t)offsets[i], n = (Py_ssize_t)(offsets[i + 1] - offsets[i]);
        PyObject *l = PyList_New(n);
        if (!l) goto done;
        for (Py_ssize_t j = 0; j < n; j++) {
            PyObject *name = PyTuple_GET_ITEM(self->labels, S.ri[a + j]);
            Py_INCREF(name);
            PyList_SET_ITEM(l, j, name);
        }
        PyList_SET_ITEM(labels, i, l);
    }
    result = PyTuple_Pack(3, labels, probs, offs);
done:
    Py_XDECREF(labels);
    Py_XDECREF(probs);
    Py_XDECREF(offs);
    for (Py_ssize_t i = 0; i < held; i++) Py_DECREF(items[i]);
    PyMem_Free(items);
    PyMem_Free(texts);
    PyMem_Free(offsets);
    scratch_free(&S);
    Py_DECREF(fast);
    return result;
}

/* ---------------------------------------------------------------------------------------------
 * Loading */

typedef struct {
    FILE *f;
    const char *err;
} Reader;

static int rd(Reader *r, void *p, size_t n) {
    if (n && fread(p, 1, n, r->f) != n) {
        r->err = "the file ends early";
        return -1;
    }
    return 0;
}

static int read_pq(Reader *r, PQ *pq) {
    if (rd(r, &pq->dim, 4) || rd(r, &pq->nsubq, 4) || rd(r, &pq->dsub, 4) || rd(r, &pq->lastdsub, 4)) return -1;
    if (pq->dim <= 0 || pq->nsubq <= 0 || pq->dsub <= 0 || pq->lastdsub <= 0 || pq->lastdsub > pq->dsub ||
        (int64_t)(pq->nsubq - 1) * pq->dsub + pq->lastdsub != pq->dim) {
        r->err = "inconsistent product quantizer";
        return -1;
    }
    pq->centroids = malloc((size_t)pq->dim * KSUB * sizeof(float));
    if (!pq->centroids) {
        r->err = "out of memory";
        return -1;
    }
    return rd(r, pq->centroids, (size_t)pq->dim * KSUB * sizeof(float));
}

static int read_matrix(Reader *r, Mat *A, int quant) {
    A->quant = quant;
    if (!quant) {
        if (rd(r, &A->m, 8) || rd(r, &A->n, 8)) return -1;
        if (A->m < 0 || A->n <= 0 || A->m > ((int64_t)1 << 40) / A->n) {
            r->err = "bad matrix size";
            return -1;
        }
        A->data = malloc((size_t)(A->m * A->n) * sizeof(float) + 1);
        if (!A->data) {
            r->err = "out of memory";
            return -1;
        }
        return rd(r, A->data, (size_t)(A->m * A->n) * sizeof(float));
    }
    uint8_t qnorm;
    int32_t codesize;
    if (rd(r, &qnorm, 1) || rd(r, &A->m, 8) || rd(r, &A->n, 8) || rd(r, &codesize, 4)) return -1;
    if (A->m < 0 || A->n <= 0 || codesize < 0) {
        r->err = "bad matrix size";
        return -1;
    }
    A->codes = malloc((size_t)codesize + 1);
    if (!A->codes) {
        r->err = "out of memory";
        return -1;
    }
    if (rd(r, A->codes, (size_t)codesize) || read_pq(r, &A->pq)) return -1;
    if (A->pq.dim != A->n || (int64_t)A->pq.nsubq * A->m > codesize) {
        r->err = "inconsistent quantized matrix";
        return -1;
    }
    if (qnorm) {
        uint8_t *ncodes = malloc((size_t)A->m + 1);
        PQ npq = {0};
        int bad = !ncodes || rd(r, ncodes, (size_t)A->m) || read_pq(r, &npq);
        if (!bad) {
            A->norms = malloc((size_t)A->m * sizeof(float) + 1);
            if (!A->norms)
                bad = 1;
            else
                for (int64_t i = 0; i < A->m; i++) A->norms[i] = pq_centroid(&npq, 0, ncodes[i])[0];
        }
        free(ncodes);
        free(npq.centroids);
        if (bad) {
            if (!r->err) r->err = "out of memory";
            return -1;
        }
    }
    return 0;
}

static void mat_free(Mat *A) {
    free(A->data); free(A->codes); free(A->pq.centroids); free(A->norms);
}

static void build_tree(Model *M) {
    const int32_t osz = M->nlabels, nn = 2 * osz - 1;
    int32_t *parent = malloc((size_t)nn * sizeof(int32_t));
    int64_t *count = malloc((size_t)nn * sizeof(int64_t));
    M->left = malloc((size_t)nn * sizeof(int32_t));
    M->right = malloc((size_t)nn * sizeof(int32_t));
    if (parent && count && M->left && M->right) {
        for (int32_t i = 0; i < nn; i++) {
            parent[i] = M->left[i] = M->right[i] = -1;
            count[i] = (int64_t)1e15;
        }
        for (int32_t i = 0; i < osz; i++) count[i] = M->wcount[M->nwords + i];
        int32_t leaf = osz - 1, node = osz;
        for (int32_t i = osz; i < nn; i++) {
            int32_t mini[2];
            for (int j = 0; j < 2; j++) {
                if (leaf >= 0 && count[leaf] < count[node])
                    mini[j] = leaf--;
                else
                    mini[j] = node++;
            }
            M->left[i] = mini[0];
            M->right[i] = mini[1];
            count[i] = count[mini[0]] + count[mini[1]];
            parent[mini[0]] = parent[mini[1]] = i;
        }
    }
    free(parent);
    free(count);
}

static const char *load_model(Model *M, const char *path) {
    Reader R = {fopen(path, "rb"), NULL};
    Reader *r = &R;
    if (!R.f) return "cannot open the file";
    int32_t magic;
    const char *why = NULL;
#define FAIL(msg) do { why = (msg); goto out; } while (0)
#define READ(p, n) do { if (rd(r, (p), (n))) FAIL(r->err); } while (0)
    READ(&magic, 4);
    READ(&M->version, 4);
    if (magic != FT_MAGIC || M->version > FT_MAX_VERSION) FAIL("not a fastText model");
    if (M->version < 11) FAIL("unsupported file format version");
    int32_t a[12];
    READ(a, sizeof a);
    M->dim = a[0]; M->ws = a[1]; M->epoch = a[2]; M->min_count = a[3]; M->neg = a[4];
    M->word_ngrams = a[5]; M->loss = a[6]; M->model = a[7]; M->bucket = a[8]; M->minn = a[9];
    M->maxn = a[10]; M->lr_update_rate = a[11];
    READ(&M->t, 8);
    if (M->version == 11 && M->model == MODEL_SUP) M->maxn = 0; /* as fastText reads old supervised models */
    if (M->model != MODEL_SUP) FAIL("not a supervised model");
    if (M->loss < LOSS_HS || M->loss > LOSS_OVA) FAIL("unknown loss");
    if (M->minn < 0 || M->maxn < 0 || M->bucket < 0) FAIL("unsupported n-gram settings");
    if (M->bucket == 0 && (M->maxn > 0 || M->word_ngrams > 1)) FAIL("n-grams without buckets");

    READ(&M->size, 4);
    READ(&M->nwords, 4);
    READ(&M->nlabels, 4);
    READ(&M->ntokens, 8);
    READ(&M->pruneidx_size, 8);
    if (M->size < 0 || M->nwords < 0 || M->nlabels <= 0 || M->nwords + (int64_t)M->nlabels != M->size)
        FAIL("unsupported dictionary sizes");
    size_t blob_cap = 0, blob_n = 0;
    M->woff = malloc(((size_t)M->size + 1) * sizeof(int64_t));
    M->whash = malloc(((size_t)M->size + 1) * sizeof(uint32_t));
    M->wtype = malloc((size_t)M->size + 1);
    M->wcount = malloc(((size_t)M->size + 1) * sizeof(int64_t));
    if (!M->woff || !M->whash || !M->wtype || !M->wcount) FAIL("out of memory");
    for (int32_t i = 0; i < M->size; i++) {
        M->woff[i] = (int64_t)blob_n;
        int c;
        while ((c = getc(R.f)) != 0) {
            if (c == EOF) FAIL("the file ends early");
            if (grow((void **)&M->blob, &blob_cap, blob_n + 1, 1)) FAIL("out of memory");
            M->blob[blob_n++] = (char)c;
        }
        READ(&M->wcount[i], 8);
        READ(&M->wtype[i], 1);
        /* labels must follow the words, as fastText's dictionaries keep them */
        if (M->wtype[i] != (i < M->nwords ? TYPE_WORD : TYPE_LABEL)) FAIL("unsupported entry order");
    }
    M->woff[M->size] = (int64_t)blob_n;
    if (!M->blob && !(M->blob = malloc(1))) FAIL("out of memory");
    for (int32_t i = 0; i < M->size; i++)
        M->whash[i] = ft_hash((const uint8_t *)M->blob + M->woff[i], (size_t)(M->woff[i + 1] - M->woff[i]));
    uint32_t tsize = 16;
    while (tsize < 2u * (uint32_t)M->size + 16) tsize *= 2;
    M->vtab = malloc((size_t)tsize * sizeof(int32_t));
    if (!M->vtab) FAIL("out of memory");
    M->vmask = tsize - 1;
    memset(M->vtab, 0xFF, (size_t)tsize * sizeof(int32_t));
    for (int32_t i = 0; i < M->size; i++) { /* a repeated entry resolves to its last copy, as in fastText */
        const uint8_t *w = (const uint8_t *)M->blob + M->woff[i];
        const size_t n = (size_t)(M->woff[i + 1] - M->woff[i]);
        uint32_t s = M->whash[i] & M->vmask;
        for (;;) {
            int32_t e = M->vtab[s];
            if (e == -1 || (M->whash[e] == M->whash[i] && (size_t)(M->woff[e + 1] - M->woff[e]) == n &&
                            memcmp(M->blob + M->woff[e], w, n) == 0)) {
                M->vtab[s] = i;
                break;
            }
            s = (s + 1) & M->vmask;
        }
    }
    int64_t max_row = M->nwords; /* 1 + the largest input row a line can reach */
    if (M->pruneidx_size > 0) {
        if (M->bucket <= 0) FAIL("pruned model without buckets");
        /* a full map first (a later pair for the same bucket wins, as in fastText's map), then
         * the compact one */
        int32_t *full = malloc((size_t)M->bucket * sizeof(int32_t));
        const size_t nw = ((size_t)M->bucket + 63) / 64;
        M->prune_bits = calloc(nw, sizeof(uint64_t));
        M->prune_rank = malloc(nw * sizeof(uint32_t));
        if (!full || !M->prune_bits || !M->prune_rank) {
            free(full);
            FAIL("out of memory");
        }
        memset(full, 0xFF, (size_t)M->bucket * sizeof(int32_t));
        for (int64_t i = 0; i < M->pruneidx_size && i <= INT32_MAX; i++) {
            int32_t pr[2];
            if (rd(r, pr, 8) || pr[1] < 0) {
                free(full);
                FAIL(r->err ? r->err : "bad pruning index");
            }
            if (pr[0] >= 0 && pr[0] < M->bucket) full[pr[0]] = pr[1];
        }
        uint32_t kept = 0;
        for (int32_t b = 0; b < M->bucket; b++) kept += full[b] >= 0;
        M->prune_vals = malloc(((size_t)kept + 1) * sizeof(int32_t));
        if (!M->prune_vals) {
            free(full);
            FAIL("out of memory");
        }
        kept = 0;
        for (int32_t b = 0; b < M->bucket; b++) {
            if ((b & 63) == 0) M->prune_rank[b >> 6] = kept;
            if (full[b] >= 0) {
                M->prune_bits[b >> 6] |= (uint64_t)1 << (b & 63);
                M->prune_vals[kept++] = full[b];
                if (M->nwords + (int64_t)full[b] + 1 > max_row) max_row = M->nwords + (int64_t)full[b] + 1;
            }
        }
        free(full);
    }
    if (M->bucket > 0) M->bucket_magic = UINT64_MAX / (uint32_t)M->bucket + 1;

    uint8_t quant_input, qout;
    READ(&quant_input, 1);
    if (read_matrix(r, &M->in, quant_input)) FAIL(r->err);
    if (!quant_input && M->pruneidx_size >= 0) FAIL("pruned model without quantized input");
    READ(&qout, 1);
    if (read_matrix(r, &M->out, quant_input && qout)) FAIL(r->err);
    if (M->in.n != M->dim || M->out.n != M->dim) FAIL("matrix sizes differ from dim");
    if (M->out.m != M->nlabels) FAIL("output matrix size differs from the number of labels");
    /* every row a line can reach must exist */
    if (M->pruneidx_size < 0 && (M->maxn > 0 || M->word_ngrams > 1)) max_row = M->nwords + (int64_t)M->bucket;
    if (max_row > M->in.m) FAIL("input matrix smaller than the dictionary");
    M->fast_first = !M->in.quant && (M->in.n == 16 || M->in.n == 32 || M->in.n == 64 || M->in.n == 256 ||
                                     M->in.n == 512);

    /* rows of the in-vocabulary words */
    size_t scap = 0, sn = 0;
    M->soff = malloc(((size_t)M->nwords + 1) * sizeof(int64_t));
    if (!M->soff) FAIL("out of memory");
    uint8_t *wb = NULL;
    size_t wbcap = 0;
    for (int32_t i = 0; i < M->nwords; i++) {
        const size_t n = (size_t)(M->woff[i + 1] - M->woff[i]);
        const char *w = M->blob + M->woff[i];
        M->soff[i] = (int64_t)sn;
        const size_t need = sn + 1 + (n + 2) * (size_t)M->maxn;
        if (grow((void **)&M->sids, &scap, need, sizeof(int32_t)) || grow((void **)&wb, &wbcap, n + 2, 1)) {
            free(wb);
            FAIL("out of memory");
        }
        M->sids[sn++] = i;
        if (M->maxn > 0 && !(n == 4 && memcmp(w, EOS, 4) == 0)) {
            wb[0] = '<';
            memcpy(wb + 1, w, n);
            wb[n + 1] = '>';
            compute_ngrams(M, wb, n + 2, M->sids, &sn);
        }
    }
    free(wb);
    M->soff[M->nwords] = (int64_t)sn;
    if (!M->sids && !(M->sids = malloc(4))) FAIL("out of memory");

    if (M->loss == LOSS_HS) {
        build_tree(M);
        if (!M->left || !M->right) FAIL("out of memory");
    }
    for (int i = 0; i < 513; i++) {
        float x = (float)(i * 2 * 8) / 512.0f - 8.0f;
        M->t_sigmoid[i] = (float)(1.0 / (1.0 + (double)expf(-x)));
    }
    M->labels = PyTuple_New(M->nlabels);
    if (!M->labels) FAIL("out of memory");
    for (int32_t i = 0; i < M->nlabels; i++) {
        const int32_t e = M->nwords + i;
        PyObject *s = PyUnicode_DecodeUTF8(M->blob + M->woff[e], (Py_ssize_t)(M->woff[e + 1] - M->woff[e]), "strict");
        if (!s) {
            PyErr_Clear();
            FAIL("a label is not UTF-8");
        }
        PyTuple_SET_ITEM(M->labels, i, s);
    }
out:
#undef FAIL
#undef READ
    fclose(R.f);
    return why;
}

/* ---------------------------------------------------------------------------------------------
 * The Python type */

static void Model_clear(Model *M) {
    free(M->blob); free(M->woff); free(M->whash); free(M->wtype); free(M->wcount); free(M->vtab);
    free(M->soff); free(M->sids); free(M->prune_bits); free(M->prune_rank); free(M->prune_vals); free(M->left); free(M->right);
    mat_free(&M->in);
    mat_free(&M->out);
    Py_CLEAR(M->labels);
    memset((char *)M + sizeof(PyObject), 0, sizeof(Model) - sizeof(PyObject));
}

static int Model_init(Model *self, PyObject *args, PyObject *kwds) {
    PyObject *path_obj;
    static char *kwlist[] = {"path", NULL};
    if (self->labels) { /* another thread may be predicting with it */
        PyErr_SetString(PyExc_TypeError, "the model is already loaded");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O&", kwlist, PyUnicode_FSConverter, &path_obj)) return -1;
    const char *why = load_model(self, PyBytes_AS_STRING(path_obj));
    if (why) {
        PyErr_Format(PyExc_ValueError, "%s: %s", PyBytes_AS_STRING(path_obj), why);
        Py_DECREF(path_obj);
        Model_clear(self);
        return -1;
    }
    Py_DECREF(path_obj);
    return 0;
}

static void Model_dealloc(Model *self) {
    Model_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Model_get_labels(Model *self, void *c) {
    (void)c;
    if (!self->labels) return PyTuple_New(0);
    Py_INCREF(self->labels);
    return self->labels;
}

static PyObject *Model_get_info(Model *self, void *c) {
    (void)c;
    static const char *losses[] = {"", "hs", "ns", "softmax", "ova"};
    return Py_BuildValue("{s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:i,s:i,s:i,s:L,s:O,s:O}", "version", self->version,
                         "dim", self->dim, "minn", self->minn, "maxn", self->maxn, "word_ngrams", self->word_ngrams,
                         "bucket", self->bucket, "loss", losses[self->loss >= 1 && self->loss <= 4 ? self->loss : 0],
                         "nwords", self->nwords, "nlabels", self->nlabels, "size", self->size,
                         "pruneidx_size", (long long)self->pruneidx_size, "quant_input",
                         self->in.quant ? Py_True : Py_False, "quant_output", self->out.quant ? Py_True : Py_False);
}

static PyMethodDef Model_methods[] = {
    {"predict", (PyCFunction)Model_predict, METH_VARARGS,
     "predict(texts, k, threshold) -> (labels, probs, offsets): labels per text (lists of str), "
     "float32 probabilities of all texts (bytearray), int64 offsets of each text's first one (bytes)."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Model_getset[] = {
    {"labels", (getter)Model_get_labels, NULL, "the labels, in the model's order", NULL},
    {"info", (getter)Model_get_info, NULL, "the model's settings", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dataprep._fasttext.Model",
    .tp_basicsize = sizeof(Model),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A fastText supervised model loaded for prediction.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Model_init,
    .tp_dealloc = (destructor)Model_dealloc,
    .tp_methods = Model_methods,
    .tp_getset = Model_getset,
};

static PyObject *py_hash(PyObject *m, PyObject *arg) {
    (void)m;
    Py_buffer b;
    if (PyObject_GetBuffer(arg, &b, PyBUF_SIMPLE) < 0) return NULL;
    uint32_t h = ft_hash(b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(h);
}

static PyMethodDef module_methods[] = {
    {"hash", py_hash, METH_O, "fastText's 32-bit FNV-1a hash of bytes (sign-extended bytes)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_fasttext",
                                    "fastText inference, bit-identical to the fasttext binding.", -1,
                                    module_methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__fasttext(void) {
    if (PyType_Ready(&ModelType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&ModelType);
    if (PyModule_AddObject(m, "Model", (PyObject *)&ModelType) < 0) {
        Py_DECREF(&ModelType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
