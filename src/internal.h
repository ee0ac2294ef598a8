/*
 * internal.h -- definitions shared by the library's source files.  Not
 * installed; nothing here is part of the ABI.
 */
#ifndef SEQCLS_INTERNAL_H
#define SEQCLS_INTERNAL_H

#define SEQCLS_BUILDING 1
#include "seqcls.h"

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The element type of SEQCLS_F32 tensors.  The library is built a second
 * time with SEQCLS_REAL_DOUBLE for the gradient-check tests, so that
 * finite differences are tight; that build is never installed.
 */
#ifdef SEQCLS_REAL_DOUBLE
typedef double real;
#else
typedef float real;
#endif

#define SEQCLS_ALIGN 64

/* ---- errors (error.c) ---- */

/* Record a message for seqcls_last_error() and return `status`. */
int seqcls__fail(int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void seqcls__clear_error(void);

/* ---- memory (alloc.c): every allocation of the library goes here ---- */

void *seqcls__alloc(size_t bytes);            /* 64-byte aligned, uninitialised */
void *seqcls__calloc(size_t n, size_t size);  /* 64-byte aligned, zeroed; overflow-checked */
void seqcls__dealloc(void *p);
/* n * size zeroed bytes that cost no memory until written (large blocks
 * are mapped pages; *mapped says so), 64-byte aligned; freed only by
 * seqcls__free_pages with the same n, size and mapped. */
void *seqcls__zalloc_pages(size_t n, size_t size, int *mapped);
void seqcls__free_pages(void *p, size_t n, size_t size, int mapped);
#ifdef SEQCLS_FAULT_INJECTION
void seqcls__fault_fail_after(long n);   /* test builds: N-th allocation fails */
long seqcls__fault_allocations(void);    /* allocations since the last call above */
#endif
/* n * size, or SIZE_MAX on overflow. */
size_t seqcls__mul(size_t n, size_t size);

/* ---- little-endian integers, as every file format here stores them ---- */

static inline void le_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static inline void le_put64(unsigned char *p, uint64_t v)
{
    le_put32(p, (uint32_t)v);
    le_put32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t le_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t le_get64(const unsigned char *p)
{
    return (uint64_t)le_get32(p) | (uint64_t)le_get32(p + 4) << 32;
}

/* ---- tensors (tensor.c) ---- */

struct seqcls_tensor {
    int dtype;
    int ndim;
    int64_t shape[SEQCLS_MAX_DIMS];
    size_t numel;
    void *data;
    int owns;     /* TENSOR_BORROWS, TENSOR_HEAP or TENSOR_PAGES: how data is freed */
};

enum { TENSOR_BORROWS = 0, TENSOR_HEAP = 1, TENSOR_PAGES = 2 };

/* Create an owned real tensor; NULL on allocation failure. */
seqcls_tensor_t *seqcls__tensor_new(int ndim, const int64_t *shape);
/* Free the data the tensor owns (data becomes NULL, the header stays). */
void tensor_drop_data(seqcls_tensor_t *t);
/* Check dtype and exact shape; a dimension of -1 matches anything. */
int seqcls__tensor_check(const seqcls_tensor_t *t, const char *func, const char *what,
                         int dtype, int ndim, const int64_t *shape);

/* ---- random numbers (rng.c): xoshiro256**, seeded with splitmix64 ---- */

typedef struct { uint64_t s[4]; } rng_t;

void rng_seed(rng_t *r, uint64_t seed);
/* One step of splitmix64 on the 64-bit state *x (what rng_seed draws from;
 * seqcls_sample's generator). */
uint64_t rng_splitmix64(uint64_t *x);
uint64_t rng_next(rng_t *r);
double rng_uniform(rng_t *r);                   /* [0, 1) */
double rng_normal(rng_t *r);                    /* N(0, 1) */
void rng_fill_uniform(rng_t *r, real *x, size_t n, double lo, double hi);
void rng_fill_normal(rng_t *r, real *x, size_t n);
/* A counter-based generator: 64 random bits that depend only on (key, i),
 * and a key made from two values (for keys per sample and per layer). */
uint64_t rng_hash(uint64_t key, uint64_t i);
static inline uint64_t rng_key(uint64_t a, uint64_t b) { return rng_hash(a, b ^ 0x6a09e667f3bcc909ull); }
/* While on (this thread), the fills above leave parameters as they are:
 * the model loader sets it, since it overwrites every parameter. */
void rng_skip_init(int on);

/* ---- BLAS (blas.c): the only file that calls cblas_* ---- */

/* Row-major C = alpha * op(A) op(B) + beta * C, op(A) [M,K], op(B) [K,N]. */
void blas_gemm(int trans_a, int trans_b, int M, int N, int K, real alpha,
               const real *A, int lda, const real *B, int ldb, real beta,
               real *C, int ldc);
void blas_set_threads(int n);

/* ---- the hand-written kernels' instruction set (cpu.c) ---- */

/* Kernel sets, in increasing order; SEQCLS_MAX_CPU_ISA can lower the choice. */
enum { CPU_PORTABLE = 0, CPU_AVX2 = 1, CPU_AVX512 = 2 };
int cpu_isa(void);
/* Extensions of AVX-512 that some kernels use besides the set (the int8
 * and bfloat16 products, qgemm.c): does the CPU have them?  They are used
 * only when cpu_isa() is CPU_AVX512, so SEQCLS_MAX_CPU_ISA lowers them too. */
enum { CPU_FEAT_VNNI = 1, CPU_FEAT_BF16 = 2, CPU_FEAT_BWVL = 4 };
/* AVX-VNNI (256-bit vpdpbusd without AVX-512) comes with CPU_AVX2 and up. */
enum { CPU_FEAT_AVXVNNI = 8 };
int cpu_has(int feature);
/* AMX tiles for int8 (tdpbusd) and bfloat16 (tdpbf16ps): the CPU has them,
 * Linux granted this process their state, and SEQCLS_MAX_CPU_ISA (or
 * cpu_set_amx) does not exclude them.  Used only with CPU_AVX512. */
enum { CPU_AMX_INT8 = 1, CPU_AMX_BF16 = 2 };
int cpu_has_amx(int feature);
/* Tests: use the kernels of `isa` at most (-1: back to the default);
 * returns the set in use, no better than the CPU has. */
int cpu_set_isa(int isa);
/* Tests: allow the AMX kernels or not (-1: as the environment says);
 * returns whether they are allowed now (not whether the CPU has them). */
int cpu_set_amx(int allow);

/* ---- packed products for the recurrent steps (pgemm.c) ---- */


/* Reals needed to pack a [K, N] matrix. */
size_t pgemm_packed_len(int K, int N);
/* Pack op(B) [K, N] (B[k * ldb + n], or B[n * ldb + k] with trans) into dst. */
void pgemm_pack(real *dst, const real *B, int ldb, int trans, int K, int N);
/* The same with row k of B at rows[k] (N values), or zeros where NULL. */
void pgemm_pack_rows(real *dst, const real *const *rows, int K, int N);
/* C[M, N] = A[M, K] Bp + bias (beta 0) or C + (A Bp + bias) (beta 1), with
 * Bp from pgemm_pack and bias [N] or NULL. */
void pgemm(int M, int N, int K, const real *A, int lda, const real *Bp, int beta,
           const real *bias, real *C, int ldc);
/* C[M, N] = A[M, K] Bp + A2[M, K2] Bp2 + bias, summed in one pass (C is
 * written once). */
void pgemm2(int M, int N, int K, const real *A, int lda, const real *Bp, int K2, const real *A2,
            int lda2, const real *Bp2, const real *bias, real *C, int ldc);
/* C[M, N] += A^T B, A [K, M] packed by pgemm_pack_t (A[k * lda + m]), B
 * packed by pgemm_pack; for sums over many rows, a block of K at a time. */
size_t pgemm_packed_t_len(int K, int M);
void pgemm_pack_t(real *dst, const real *A, int lda, int K, int M);
/* The columns [m0, M) of such a packed At (K rows), or NULL if m0 does not
 * start a group of the packing (then pack them on their own). */
const real *pgemm_packed_t_cols(const real *At, int K, int m0);
void pgemm_tn(int M, int N, int K, const real *At, const real *Bp, real *C, int ldc);

/* ---- quantised products (qgemm.c) ---- */

/* A weight matrix W [N, K] stored as int8 per output channel with float
 * scales (w = round(W / scale[n]), scale[n] = max |W[n]| / 127) or as
 * bfloat16, packed for qgemm (layout and arithmetic in qgemm.c). */
enum { QMODE_INT8 = 1, QMODE_BF16 = 2 };
/* The most K an int8 product takes: its int32 sums cannot overflow. */
#define QMAX_K 65536
typedef struct {
    int mode, N, K, Kp;      /* Kp: K padded to the kernels' group of k */
    int rows;                /* a lookup table (embeddings): row-major [N, K], not
                              * packed, read a row at a time (qmat_row_real) */
    void *w;                 /* packed panels */
    float *scale;            /* int8: [N] */
    int32_t *wsum;           /* int8: [N rounded up to 32] sums of w per channel */
} qmat_t;
int qmat_group(int mode);
/* Zero weights, packed for qgemm or (rows) a row-major table; SEQCLS_E_NOMEM. */
int qmat_alloc(qmat_t *q, int mode, int N, int K, int rows);
void qmat_free(qmat_t *q);
/* Quantise W [N, K] (row-major) into an allocated q of that size. */
void qmat_quantize(qmat_t *q, const real *W);
/* Row n of a table, dequantised into y[K]: w * scale (int8) or the
 * bfloat16 values as floats. */
void qmat_row_real(const qmat_t *q, int n, real *y);
/* Row n as stored: K int8 values and its scale, or K bfloat16 bit patterns. */
void qmat_set_row(qmat_t *q, int n, const void *vals, float scale);
void qmat_get_row(const qmat_t *q, int n, void *vals);
/* One element's bits (int8 as its byte), read or written. */
uint16_t qmat_get(const qmat_t *q, int n, int k);
void qmat_put(qmat_t *q, int n, int k, uint16_t bits);
size_t qmat_weight_bytes(const qmat_t *q);
/* Bytes of one quantised activation row (for qact). */
size_t qmat_act_bytes(const qmat_t *q);
/* bfloat16 from float, rounded to nearest even; and back. */
uint16_t qmat_bf16(float x);
float qmat_bf16_float(uint16_t h);
/* Quantise rows A [M, K] (row i at A + i * lda) for products with q:
 * rows of qmat_act_bytes(q) into act, int8 scales into sa[M]. */
void qact(const qmat_t *q, int M, const real *A, int lda, void *act, float *sa);
/* One operand of qgemm: quantised rows of A, their scales, and W. */
typedef struct {
    const qmat_t *w;
    const void *act;
    const float *sa;
    size_t rb;               /* bytes from one row of act to the next; 0: qmat_act_bytes */
} qop_t;
/* C[M, N] = sum over the nops (1 or 2) operands of A_i W_i^T, + bias [N]
 * if not NULL; the operands have the same N and mode. */
void qgemm(int M, int nops, const qop_t *ops, const real *bias, real *C, int ldc);
/* The kernel qgemm uses for a mode now, and its name. */
enum {
    QK_PORTABLE = 0, QK_AVX2 = 1, QK_VNNI = 2, QK_BF16 = 3, QK_BF16_AVX2 = 4,
    QK_AMX_INT8 = 5, QK_AMX_BF16 = 6, QK_AVXVNNI = 7, QK_SSE2 = 8
};
int qgemm_kernel(int mode);
const char *qgemm_kernel_name(int mode);

/* ---- elementwise math (activation.c) ---- */

void act_forward(int act, real *y, size_t n);            /* in place */
/* dx *= act'(.) given the activation's output y (all SEQCLS_ACT_* allow it). */
void act_backward(int act, const real *y, real *dx, size_t n);
real act_sigmoid(real x);
/* Index of the first NaN or infinity in x[0..n), or n (vectorised). */
size_t vec_first_not_finite(const real *x, size_t n);

/* ---- values flowing between layers ---- */

enum { VAL_IDS = 1, VAL_SEQ = 2, VAL_VEC = 3 };

/*
 * A batch of sequences [B, T, F] with per-row lengths, or of vectors
 * [B, F] (T = 1).  Gradients use the same struct.  A recurrent layer that
 * returns sequences also exposes its final states (`fin`, [B, fin_F]) so
 * an attention layer can use them as its query; the gradient of the query
 * comes back through `fin` of the gradient value.
 */
typedef struct {
    int kind;
    int B, T, F;
    real *x;
    const int32_t *ids;     /* VAL_IDS only */
    const int32_t *len;     /* [B], each in [0, T]; never NULL for sequences */
    real *fin;              /* optional final states [B, fin_F] */
    int fin_F;
} value_t;

/* ---- workspaces ---- */

/*
 * Per-layer scratch memory owned by one run of the model (the training
 * run, or one seqcls_predict call).  Slots are grown, never shrunk, so
 * buffers are reused across calls of the same or smaller shape.
 */
#define WS_SLOTS 32
typedef struct {
    void *buf[WS_SLOTS];
    size_t cap[WS_SLOTS];
} workspace_t;

/* Slot `slot` with room for `bytes` (64-byte aligned, contents kept only if
 * it did not grow); NULL with an error recorded on allocation failure. */
void *ws_get(workspace_t *ws, int slot, size_t bytes);
/* As ws_get, zero-filled. */
void *ws_zero(workspace_t *ws, int slot, size_t bytes);
void ws_free(workspace_t *ws);

/* ---- layers ---- */

/* Parameters one layer may have (a transformer block has 12). */
#define LAYER_MAX_PARAMS 32

typedef struct layer layer_t;

/* What a forward or backward call may need besides its values. */
typedef struct {
    int training;
    rng_t *rng;              /* dropout; NULL when not training */
    const char *func;        /* public entry point, for error messages */
    /* seqcls_fit: one key per row of the batch [B]; dropout masks then
     * come from rng_keyed(row key, layer, element), not from `rng` */
    const uint64_t *keys;
} run_ctx_t;

/* Workspace slots every layer uses the same way; 3.. are the layer's own. */
enum { WS_OUT = 0, WS_DIN = 1, WS_DFIN = 2, WS_PRIVATE = 3 };

/*
 * The configuration fields of layer_t as model files store them (layer.c
 * holds the table: CONF id, type, default).  A layer kind exposes some of
 * them as public options (layer_option_t).
 */
enum {
    FIELD_UNITS, FIELD_VOCAB, FIELD_PADDING_IDX, FIELD_ACTIVATION, FIELD_KIND_ARG,
    FIELD_FLAGS, FIELD_FROZEN, FIELD_REC_ACTIVATION, FIELD_RATE, FIELD_BN_MOMENTUM,
    FIELD_BN_EPS,
    /* 1.1: written only when not at their default */
    FIELD_HEADS, FIELD_FF_DIM, FIELD_LN_EPS, FIELD_MAX_LEN, FIELD_SCALE_INPUT,
    FIELD_DILATION, FIELD_REC_DROPOUT, FIELD_KERNEL_SIZE,
    FIELD_COUNT
};
enum { FIELD_I32 = 1, FIELD_U32 = 2, FIELD_F32 = 3 };   /* also their CONF value types */

typedef struct {
    uint32_t file_id;        /* CONF option id: never reused or renumbered */
    int type;                /* FIELD_I32, FIELD_U32, FIELD_F32 */
    size_t offset;           /* in layer_t */
    const char *name;        /* for messages */
    uint32_t default_bits;   /* the value a new layer starts with, as stored */
} layer_field_t;

extern const layer_field_t layer_fields[FIELD_COUNT];
/* Fields with CONF ids up to this one are written whatever their value:
 * version-1 readers (seqcls 1.0) require them.  Later ones are written only
 * when they differ from their default. */
#define FIELD_LAST_V1_ID 11u

uint32_t layer_field_get(const layer_t *L, int field);
void layer_field_set(layer_t *L, int field, uint32_t bits);

/* A public option (SEQCLS_OPT_*) of a layer kind, stored in one field. */
typedef struct {
    int option;              /* SEQCLS_OPT_*; 0 ends a list */
    int field;               /* FIELD_* */
    int settable;            /* seqcls_layer_set_* may change it after the constructor */
} layer_option_t;

/* What a layer kind consumes and gives beyond layer_t's in/out kinds. */
enum {
    LAYER_FIRST = 1,         /* reads the caller's input: must be the first layer */
    LAYER_LOGITS = 2         /* the output layer: gives the logits, nothing follows */
};

/*
 * Everything the model, the file format and the introspection calls know
 * about a layer kind.  One table per kind, in the kind's own file, listed
 * once in layer.c's registry; nothing else in the library switches on
 * kinds.
 */
typedef struct {
    int kind;                /* SEQCLS_LAYER_*: also the kind's id in model files */
    const char *name;        /* used in parameter names: "lstm", "dense", ... */
    unsigned takes;          /* a mask of 1 << VAL_*: what it consumes (the caller's input
                              * for a LAYER_FIRST kind, else the previous layer's output) */
    unsigned traits;         /* LAYER_FIRST, LAYER_LOGITS */
    const layer_option_t *options;   /* the options it has, ended by {0} */
    /* Compute `out` from `in`; output buffers come from `ws`. */
    int (*forward)(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                   const run_ctx_t *ctx);
    /* Given d(out), add parameter gradients into L's grads and fill d(in)
     * (`din->x` may be set to NULL when the input needs no gradient). */
    int (*backward)(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                    const value_t *dout, value_t *din, const run_ctx_t *ctx);
    /* Check and store a settable option (the caller has checked the kind
     * has it); NULL when the kind has none of that type. */
    int (*set_int)(seqcls_model_t *m, layer_t *L, int option, int value);
    int (*set_float)(seqcls_model_t *m, layer_t *L, int option, float value);
    /* Attention weights [B, T] of the last forward in ws; NULL for kinds without. */
    const real *(*attention)(const layer_t *L, workspace_t *ws);
    /* LAYER_FIRST kinds: the rank of the caller's input, 2 (ids [B, T])
     * or 3 ([B, T, in_F]: floats, or bags of in_F ids); its dtype follows
     * from `takes` (VAL_IDS: I32, else F32).  The model, seqcls_fit and
     * seqcls_evaluate check and batch inputs by it. */
    int input_rank;
    /* LAYER_FIRST kinds: check the caller's input values (valid steps
     * only; lengths NULL = all T), naming `what` in the message. */
    int (*check_input)(const layer_t *L, const void *x, int B, int T, const int32_t *lengths,
                       const char *func, const char *what);
    /* Check loaded parameter values beyond being finite (a variance is not
     * negative); NULL: any finite value will do. */
    int (*check_params)(const layer_t *L, const char *func);
    /* Steps its own input must have exactly, or 0 (NULL: any). */
    int (*fixed_steps)(const layer_t *L);
    /* Recurrent kinds: the final states of the last forward (its input
     * `in`, run in training mode or not) into h [B, dirs*H] and, for a
     * cell with a cell state, c; either may be NULL.  NULL for the
     * other kinds. */
    int (*final_states)(const layer_t *L, workspace_t *ws, const value_t *in, int training,
                        real *h, real *c, const char *func);
    /* The arguments in seqcls_layer_describe's "name(args)". */
    void (*describe)(const layer_t *L, char *buf, size_t cap);
    /* Append a layer of this kind to m through the public constructor, from
     * `config`, a layer_t holding only a saved configuration (the loader
     * then applies the settable options and checks every field). */
    int (*rebuild)(seqcls_model_t *m, const layer_t *config);
    const void *impl;        /* the kind's own data (the recurrent cell), or NULL */
    /* Streams (stream.c): run the next n steps of one sequence.  `in` has
     * B = 1 and every step valid: ids or a sequence [1, n, F] (n >= 0; a
     * kind without state is not called with n = 0), or a vector [1, F].
     * `state` (stream_state bytes, zero when the sequence starts) is what
     * the layer carries from the `steps` steps before; the call updates
     * it.  A vector output is the value after the last step.  NULL: the
     * kind cannot run step by step (seqcls_stream_create refuses it).
     * Kinds without state use layer_stream_forward. */
    int (*stream_step)(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                       void *state, int64_t steps, const run_ctx_t *ctx);
    /* Bytes of state a stream keeps for L (NULL: none), or SIZE_MAX when
     * this configuration of the kind cannot stream, with *why saying why. */
    size_t (*stream_state)(const layer_t *L, const char **why);
    /* seqcls_model_quantize: a mask of the parameters (bit i: the
     * layer's i-th) stored quantised, 0 for kinds that stay float32; and
     * NULL, or the rows of parameter i that make its first piece (the
     * rest is a second piece: a recurrent W_hh whose last gates multiply
     * something else than h_{t-1}). */
    unsigned quant;
    /* the mask of a kind whose quantised parameters depend on the layer
     * (attention: the key projection of the additive kinds); NULL: quant */
    unsigned (*quant_mask)(const layer_t *L);
    int (*quant_rows)(const layer_t *L, int param);
    /* the quantised parameters are tables read a row at a time (an
     * embedding), not multiplied: stored row-major */
    int quant_lookup;
} layer_ops_t;

/* stream_step of the kinds without state: their forward, at inference (layer.c). */
int layer_stream_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                         void *state, int64_t steps, const run_ctx_t *ctx);

/* The registry (layer.c): the ops of kind k (1 <= k <= LAYER_KIND_COUNT),
 * or NULL for an unknown kind. */
#define LAYER_KIND_COUNT 15
const layer_ops_t *layer_kind(uint32_t kind);
/* The option entry of `option` for L's kind, or NULL. */
const layer_option_t *layer_option(const layer_t *L, int option);

/* Tables (embedding, embedding bag) above this many elements are refused
 * before allocating. */
#define EMBEDDING_MAX_TABLE ((int64_t)1 << 34)
/* SEQCLS_OPT_FREEZE of a table: 0 or 1; a frozen table is not trainable. */
int embedding_set_freeze(seqcls_model_t *m, layer_t *L, int option, int value);

/*
 * A parameter whose gradient is sparse by rows (the embedding bag's
 * table; sparse.c): its backward lists the rows it reached, and zeroing,
 * clipping and the optimiser's step visit those only (an optimiser
 * updates such a table lazily, as torch.optim.SparseAdam and fastText
 * do).  The listed rows' gradients are kept in the parameter's gradient
 * tensor (allocated at its first use), or inside seqcls_fit compactly,
 * one contiguous row each in the order listed.
 */
typedef struct {
    int nrows, row_len;      /* the parameter is [nrows, row_len] */
    int32_t *key, *val;      /* [size]: a hash table of the listed rows and their place
                              * in `rows` (NULL until the first backward:
                              * sparse_rows_ready) */
    size_t size;             /* a power of two, at least twice n */
    int32_t *rows;           /* [size / 2]: the listed rows, first come first */
    int n;
    int compact_on;          /* the gradients are in `compact`, not the tensor */
    real *compact;           /* [cap, row_len]: row i is rows[i]'s; zero past n */
    int cap;
    seqcls_tensor_t *grad;   /* the parameter's gradient tensor (data NULL until used) */
    real **grad_ptr;         /* the layer's g[] entry, which follows grad->data */
} sparse_rows_t;

/* Allocate s's lists if not yet done: SEQCLS_OK or SEQCLS_E_NOMEM. */
int sparse_rows_ready(sparse_rows_t *s);
/* Allocate the dense gradient (zero) if not yet done. */
int sparse_grad_dense(sparse_rows_t *s);
/* The gradient of `row` to add into (listing the row), in the storage in
 * use (lists ready; dense storage allocated); NULL when out of memory. */
real *sparse_grad_row(sparse_rows_t *s, int32_t row);
/* The gradient of the i-th listed row. */
static inline real *sparse_listed_grad(const sparse_rows_t *s, int i)
{
    return s->compact_on ? s->compact + (size_t)i * s->row_len
                         : (real *)s->grad->data + (size_t)s->rows[i] * s->row_len;
}
/* Zero the listed rows' gradients and empty the lists (lists ready). */
void sparse_clear(sparse_rows_t *s);
/* Keep the gradients compactly (seqcls_fit) or in the tensor; the lists
 * are emptied.  SEQCLS_E_NOMEM when the lists cannot be made. */
int sparse_set_compact(sparse_rows_t *s, int on);
void sparse_free(sparse_rows_t *s);

struct layer {
    const layer_ops_t *ops;
    int index;
    int in_kind, in_F;       /* what it consumes (a first layer: the size of a rank-3
                              * input's last axis, else 1) */
    int out_kind, out_F;     /* what it produces */
    int out_fin_F;           /* width of final states exposed with a sequence, or 0 */

    /* configuration (layer_fields: one CONF option each), as given to the
     * constructor and the options */
    int units;               /* dense/output units, recurrent hidden, attention units */
    int vocab, padding_idx;  /* embedding */
    int activation;          /* dense */
    int kind_arg;            /* pooling or attention kind */
    unsigned flags;          /* recurrent flags */
    int frozen;              /* embedding */
    int rec_activation;      /* lstm/gru */
    float rate;              /* dropout rate, or recurrent input dropout */
    float bn_momentum, bn_eps;
    int heads, ff_dim;       /* transformer */
    float ln_eps;            /* transformer layer norm */
    int max_len;             /* positional encoding */
    int scale_input;         /* positional encoding: 0 or 1 */
    int dilation;            /* conv1d */
    float rec_dropout;       /* lstm/gru: dropout on h_{t-1} where it enters the recurrent products */
    int kernel_size;         /* conv1d */

    /* derived from the configuration by the constructor and setters */
    int steps_drop;          /* steps the output has fewer than the input (a valid
                              * convolution: (kernel_size - 1) * dilation), else 0 */

    /* parameters: indices into the model's parameter table */
    int p0, np;
    real *w[LAYER_MAX_PARAMS];   /* values */
    real *g[LAYER_MAX_PARAMS];   /* gradients */
    size_t wn[LAYER_MAX_PARAMS]; /* element counts */
    sparse_rows_t *sp[LAYER_MAX_PARAMS];   /* rows with a gradient, or NULL (dense) */
    /* after seqcls_model_quantize (or loading a quantised model): the
     * quantised weights (quant.c); their w[] and g[] are then NULL */
    struct layer_quant *q;
};

/* ---- quantised models (quant.c) ---- */

/* A piece of a quantised parameter: rows [row0, row0 + m.N) of the
 * layer's parameter `param`. */
typedef struct {
    int param, row0;
    qmat_t m;
} qpiece_t;

#define QUANT_MAX_PIECES 16
typedef struct layer_quant {
    int mode;                /* QMODE_* */
    int n;
    qpiece_t piece[QUANT_MAX_PIECES];
} layer_quant_t;

/* The piece of L's parameter `param` that starts at row0, or NULL. */
const qmat_t *quant_piece(const layer_t *L, int param, int row0);
void quant_layer_free(layer_t *L);
/* SEQCLS_E_STATE naming func if m is quantised (training calls). */
int model_check_float(const seqcls_model_t *m, const char *func);
/* Does the kind of the layer holding parameter i of m quantise it? */
int quant_param(const seqcls_model_t *m, int i);
/* Loading (serialize.c): parameter i of m from a PARM record of dtype
 * QMODE_INT8 (numel int8, then shape[0] float32 scales, little-endian)
 * or QMODE_BF16; then quant_finish once every parameter is in.  Malformed
 * data is SEQCLS_E_FORMAT naming `who`. */
int quant_load_param(seqcls_model_t *m, int i, int mode, const unsigned char *data, size_t bytes,
                     const char *who);
int quant_finish_load(seqcls_model_t *m, int mode, const char *who);
/* Saving: the bytes of parameter i's data (after the record's head) and
 * the data itself. */
size_t quant_param_bytes(const seqcls_model_t *m, int i);
void quant_param_write(const seqcls_model_t *m, int i, unsigned char *out);
/* y [rows, N] = x [rows, K] W^T + bias with a quantised W, split over
 * the pool when large; act and sa hold rows x qmat_act_bytes and rows
 * floats. */
void quant_matmul(const qmat_t *w, int rows, const real *x, int ldx, const real *bias, real *y,
                  int ldy, unsigned char *act, float *sa);

/* ---- the model (model.c) ---- */

typedef struct {
    char name[64];
    seqcls_tensor_t *value;
    seqcls_tensor_t *grad;
    int layer;
    int trainable;
    sparse_rows_t *sparse;   /* NULL: a dense gradient */
} param_t;

/* Activations of one pass through the model. */
typedef struct {
    int nlayers;
    workspace_t *ws;         /* [nlayers] */
    value_t *vals;           /* [nlayers + 1]: vals[0] is the input */
    int32_t *len;            /* [B] lengths, owned */
    int len_cap;
    workspace_t own;         /* a training run's copy of the caller's input */
} run_t;

/* The most layers a model holds (the loader refuses more as well). */
#define MODEL_MAX_LAYERS 4096

/* Slots of a model's own workspace (model_ws). */
enum { MODEL_WS_DLOGITS, MODEL_WS_INPUT_GRAD, MODEL_WS_ATTENTION, MODEL_WS_COUNT };

/* One key-value pair of the model's metadata store (metadata.c). */
typedef struct {
    char *key, *value;
} meta_entry_t;

struct seqcls_model {
    uint64_t id;             /* unique in the process, never 0: optimisers recognise their
                              * model by it (an address can be reused after a free) */
    layer_t **layers;
    int nlayers, layers_cap;
    param_t *params;
    int nparams, params_cap;
    uint64_t seed;
    rng_t rng;               /* initialisation, then dropout */

    run_t train;             /* the forward/backward run */
    /* one seqcls_predict run kept for the next call, so that its large
     * workspaces are not mapped and zeroed by the kernel on every call
     * (taken and given back atomically: concurrent calls that find it
     * taken use runs of their own) */
    _Atomic(run_t *) predict_run;
    int state;               /* STATE_* below */
    int B, T;
    workspace_t model_ws;    /* dlogits, input gradient */
    value_t input_grad;
    /* seqcls_fit with a communicator: called after each layer's backward
     * with the layer's index (its parameters' gradients are then final) */
    void (*backward_hook)(void *ctx, int layer);
    void *backward_hook_ctx;

    const char *building;    /* the seqcls_add_* call adding a layer, for messages */
    int quant;               /* 0 (float32), or QMODE_* after seqcls_model_quantize */

    /* carried along and saved with the model (metadata.c) */
    seqcls_vocab_t *vocab;
    char **labels;
    int nlabels;
    meta_entry_t *meta;
    int nmeta;
};

/* Free the metadata a model carries (metadata.c). */
void model_free_metadata(seqcls_model_t *m);

enum { STATE_NONE = 0, STATE_FORWARD = 1, STATE_TRAIN_FORWARD = 2, STATE_BACKWARD = 3 };

/*
 * Called by each seqcls_add_*: check the model can take a layer of kind
 * `ops` after its last one, allocate it with every field at its default,
 * fill in_kind and in_F from the previous layer.  The caller then sets
 * the output, adds parameters, and calls model_commit_layer.
 */
int model_begin_layer(seqcls_model_t *m, const char *func, const layer_ops_t *ops,
                      layer_t **out);
/* The output layer (the last one, if it gives logits), or NULL. */
const layer_t *model_output_layer(const seqcls_model_t *m);
/* Does the output layer take a sequence, giving logits per step [B, T, C]
 * (labels [B, T]) instead of per row [B, C] (labels [B])?  0 without an
 * output layer.  Everything that shapes logits, probabilities, dlogits or
 * labels asks this. */
int model_output_steps(const seqcls_model_t *m);
/* The logits' shape for a batch of B x T ([B, C] or [B, T, C]); returns
 * the rank, 2 or 3.  (m has an output layer) */
int model_output_shape(const seqcls_model_t *m, int B, int T, int64_t shape[3]);
/* Does the model read token ids (else float sequences)? (m has layers) */
int model_reads_ids(const seqcls_model_t *m);
/* Add a zero-filled parameter to the layer being built. */
int model_add_param(seqcls_model_t *m, layer_t *L, const char *name, int ndim,
                    const int64_t *shape, int trainable);
/* Add a parameter [rows, row_len] whose gradient is sparse by rows. */
int model_add_sparse_param(seqcls_model_t *m, layer_t *L, const char *name, int rows,
                           int row_len);
/* Zero every gradient; with `listed_only`, of a sparse parameter only its
 * listed rows (the others are zero already: seqcls_fit after its first
 * batch).  Empties the lists. */
void model_zero_grad(seqcls_model_t *m, int listed_only);
/* The caller's input a model reads (its first layer's): dtype, rank, and
 * for rank 3 the size of the last axis. */
typedef struct {
    int dtype, rank;
    int64_t width;
} input_spec_t;
input_spec_t model_input_spec(const seqcls_model_t *m);
/* Finish (status OK) or discard (status != OK) the layer being built. */
int model_commit_layer(seqcls_model_t *m, layer_t *L, int status, int *index_out);

/* Check `input` (and lengths, NULL = all T) for m: shapes, sizes, and
 * through the first layer's check_input its values; B and T out. */
int model_check_input(const seqcls_model_t *m, const seqcls_tensor_t *input,
                      const int32_t *lengths, const char *func, int *B, int *T);
/* The most steps (rows x steps) one batch may hold: the layers count them in int. */
#define MODEL_MAX_STEPS INT_MAX
/* Run forward through all layers, on input that model_check_input accepted;
 * SEQCLS_E_NUMERIC (naming the layer) when the logits are not finite. */
int model_run_forward(const seqcls_model_t *m, run_t *run, const seqcls_tensor_t *input,
                      const int32_t *lengths, int training, rng_t *rng, const char *func);
void run_free(run_t *run);
/* seqcls_forward with per-row dropout keys (NULL: the model's stream). */
int model_forward(seqcls_model_t *m, const seqcls_tensor_t *input, const int32_t *lengths,
                  seqcls_tensor_t *logits, int training, const uint64_t *keys, const char *func);
/* seqcls_loss_backward with the gradient divided by `denom` (rows, or the
 * valid steps of a per-step model) instead of the batch's own count (denom
 * <= 0): a rank's share of a global batch.  *loss_sum gets the sum of the
 * losses, *right the rows or steps predicted right, *count the rows or
 * valid steps of this batch (any may be NULL). */
int loss_backward(seqcls_model_t *m, const seqcls_tensor_t *labels, double denom,
                  double *loss_sum, int64_t *right, int64_t *count, const char *func);
/* Check a training forward exists; back-propagate d(logits) [B, C]. */
int model_check_backward(seqcls_model_t *m, const char *func);
int model_backward(seqcls_model_t *m, real *dlogits, const char *func);

/* Class probabilities from logits: sigmoid when C = 1, softmax otherwise (loss.c). */
void loss_probabilities(const real *logits, real *probs, int B, int C);
/* The same per step of [B, T, C] logits, zero at padding steps (t >= len[b]). */
void loss_step_probabilities(const real *logits, real *probs, int B, int T, const int32_t *len,
                             int C);
/* Loss of one row of logits z[0..C) against `label`; its gradient into dz if not NULL. */
double loss_row(const real *z, int C, int label, real *dz);
/* The class a row of logits predicts (C = 1: 1 when sigmoid(z) >= 0.5). */
int loss_predicted_class(const real *z, int C);

/* ---- datasets and batches (batch.c), for seqcls_fit and seqcls_evaluate ---- */

typedef struct {
    int is_ids;              /* I32 ids [N, T] (or [N, T, F]), else F32 [N, T, F] */
    int rank;                /* 2 or 3 (model_input_spec) */
    int N, T, F;             /* F = 1 for rank 2 */
    const void *x;
    const int32_t *len;      /* NULL = all T */
    const int32_t *y;        /* [N], or [N, T] when `steps` */
    int steps;               /* labels per step (a per-step model), read at valid steps only */
    int classes;             /* labels lie in [0, classes) */
} dataset_t;

/* Labels of a row of d: 1, or T for a per-step model. */
#define DATASET_YROW(d) ((d)->steps ? (size_t)(d)->T : (size_t)1)

typedef struct {
    seqcls_tensor_t *x;      /* [n, Tb(, F)] view of `buf` */
    seqcls_tensor_t *y;      /* [n] (per step: [n, Tb], 0 at padding steps) view of `ybuf` */
    int32_t *len;            /* [n] */
    void *buf, *ybuf;
    size_t cap, ycap;
} batch_t;

/* Check x/lengths/y against the model (shapes, lengths, ids, labels). */
int dataset_init(dataset_t *d, const seqcls_model_t *m, const seqcls_tensor_t *x,
                 const int32_t *lengths, const seqcls_tensor_t *y, const char *func,
                 const char *what);
int dataset_length(const dataset_t *d, int row);
/* Copy rows[0..n) into the batch, keeping Tb steps (Tb <= T); per-step
 * labels are checked again at the valid steps (SEQCLS_E_RANGE). */
int batch_gather(batch_t *bt, const dataset_t *d, const int *rows, int n, int Tb,
                 const char *func);
void batch_free(batch_t *bt);
/* Steps a model needs its input to have exactly (feature-time attention,
 * flatten: the steps they are built for, plus what the valid convolutions
 * before them remove), or 0. */
int model_fixed_steps(const seqcls_model_t *m);
/* Steps the valid convolutions of m remove: its last layer's output has
 * T - model_steps_drop(m) steps when the input has T (but at least 1: a
 * kernel longer than the input leaves one padding step). */
int model_steps_drop(const seqcls_model_t *m);

/* Each layer kind's table, in its own file (listed in layer.c's registry). */
extern const layer_ops_t seqcls__embedding_ops, seqcls__input_ops, seqcls__lstm_ops,
    seqcls__gru_ops, seqcls__attention_ops, seqcls__pooling_ops, seqcls__dense_ops,
    seqcls__dropout_ops, seqcls__batchnorm_ops, seqcls__output_ops, seqcls__positional_ops,
    seqcls__transformer_ops, seqcls__embedding_bag_ops, seqcls__conv1d_ops, seqcls__flatten_ops;

/* The name of a SEQCLS_ACT_* activation, "?" if unknown (activation.c). */
const char *act_name(int act);

/* Dense forward/backward, shared by the dense and output layers (dense.c). */
int dense_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                  const run_ctx_t *ctx);
int dense_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                   const value_t *dout, value_t *din, const run_ctx_t *ctx);
/* Fill a dense weight [units, in] and bias [units] as torch.nn.Linear does. */
void dense_init(rng_t *rng, layer_t *L, int fan_in);
int dense_add(seqcls_model_t *m, const char *func, const layer_ops_t *ops, int units,
              int activation, int *layer);

/* ---- recurrent layers (recurrent.c drives, lstm.c and gru.c hold the cells) ---- */

/*
 * One time step of one direction over the rows still active, in the
 * packed, length-sorted layout: rows [0, nb) are active, rows [0, np)
 * have a previous state (np <= nb; the others start from zero).
 */
typedef struct {
    int H, nb, np;
    int act;                  /* gate activation: SEQCLS_ACT_SIGMOID, _HARD_SIGMOID, _RELU */
    int quick;                /* a quantised layer: the gate functions' quick forms (rnn_gate) */
    const real *b_hh;         /* [G*H] */
    /* W_hh packed for pgemm: going forward as W_hh^T (h_prev W_hh^T), going
     * backward as W_hh (dz W_hh); Wp has the rows of the gates below the
     * cell's aux_gate, Wp2 the others (they multiply aux, not h_prev) */
    const real *Wp, *Wp2;
    real *gates;              /* [nb, G*H]: input projection in, gate values out */
    const real *h_prev;       /* [np, H] */
    /* recurrent dropout (training): h_prev as the recurrent products see
     * it, h_prev * rmask, and rmask itself ([np, H], the rows' masks);
     * without it hm_prev is h_prev and rmask NULL */
    const real *hm_prev, *rmask;
    const real *aux_prev;     /* [np, A*H] */
    real *h, *aux;            /* [nb, H], [nb, A*H]: new state, values kept for backward */
    real *scratch;            /* [nb, G*H] */
    /* a quantised layer (seqcls_model_quantize): W_hh's pieces in place of
     * Wp and Wp2 (hq[1] NULL when there is one), and room for the step's
     * quantised rows ([nb] rows of qmat_act_bytes, scales [nb]) */
    const qmat_t *hq[2];
    unsigned char *qrows;
    float *qscale;
    const real *zero;         /* H zeros: the previous state of rows [np, nb) */
    /* backward: dh, dc hold d/dh_t, d/dc_t on entry and d/dh_{t-1},
     * d/dc_{t-1} for rows [0, np) on return */
    real *dh, *dc;            /* [nb, H] */
    real *dzx, *dzh;          /* [nb, G*H]: gradients of the input and recurrent pre-activations */
} rnn_step_t;
/* A recurrent step's h W^T through piece `which` of W_hh (s->hq), on the
 * step's own quantised rows (recurrent.c's cells). */
void rnn_qproduct(rnn_step_t *s, int which, int M, const real *A, int lda, real *C, int ldc);
/* Backward, a cell with dz_in_gates gets dzx == gates: it reads a row's
 * gate values before it writes the row's gradients (through one row of
 * scratch), which saves a [N, G*H] buffer per layer. */

typedef struct {
    int gates;                /* G */
    int aux;                  /* A: values kept per row and step, in units of H */
    int split_dzh;            /* dzh differs from dzx (else they are one buffer) */
    int dzh_shared;           /* with split_dzh: the leading gates whose dzh is dzx's */
    int aux_gate;             /* W_hh rows of gates >= this multiply aux, not h_prev (else G) */
    int folded;               /* gates whose b_hh the driver adds to the input projection */
    int dz_in_gates;          /* backward may write dzx over the gate values (above) */
    int xh;                   /* the driver adds h_prev W_hh^T to the gates in the same
                               * product as the input projection (pgemm2) */
    void (*forward)(rnn_step_t *s);
    void (*backward)(rnn_step_t *s);
} rnn_cell_t;

extern const rnn_cell_t rnn_lstm_cell, rnn_gru_cell, rnn_gru_reset_before_cell;

int rnn_forward(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                const run_ctx_t *ctx);
int rnn_backward(layer_t *L, workspace_t *ws, const value_t *in, const value_t *out,
                 const value_t *dout, value_t *din, const run_ctx_t *ctx);
int rnn_stream_step(const layer_t *L, workspace_t *ws, const value_t *in, value_t *out,
                    void *state, int64_t steps, const run_ctx_t *ctx);
size_t rnn_stream_state(const layer_t *L, const char **why);
int rnn_set_int(seqcls_model_t *m, layer_t *L, int option, int value);
int rnn_set_float(seqcls_model_t *m, layer_t *L, int option, float value);
void rnn_describe(const layer_t *L, char *buf, size_t cap);
int rnn_final_states(const layer_t *L, workspace_t *ws, const value_t *in, int training, real *h,
                     real *c, const char *func);
extern const layer_option_t rnn_options[];
int rnn_quant_rows(const layer_t *L, int param);
/* The recurrent kinds' tables share everything but their kind, name,
 * rebuild (their constructor) and default cell. */
#define RNN_LAYER_OPS(kind_, name_, rebuild_, cell_)                                      \
    {                                                                                     \
        .kind = (kind_), .name = (name_), .takes = 1u << VAL_SEQ, .options = rnn_options, \
        .forward = rnn_forward, .backward = rnn_backward, .set_int = rnn_set_int,         \
        .set_float = rnn_set_float, .describe = rnn_describe, .rebuild = (rebuild_),      \
        .impl = (cell_), .stream_step = rnn_stream_step,                                  \
        .stream_state = rnn_stream_state, .final_states = rnn_final_states,               \
        .quant = 0x33u, /* W_ih, W_hh of both directions */                              \
        .quant_rows = rnn_quant_rows,                                                     \
    }
/*
 * Elementwise cell code runs as span(args..., k, n) over [0, len): blocks
 * of the constant RNN_BLOCK, whose loops -O2 vectorises once the static
 * inline span is inlined, then the tail.
 */
#define RNN_BLOCK 16
#define RNN_SPANS(len, span, ...)                                         \
    do {                                                                  \
        int k_;                                                           \
        for (k_ = 0; k_ + RNN_BLOCK <= (len); k_ += RNN_BLOCK)            \
            span(__VA_ARGS__, k_, RNN_BLOCK);                             \
        if (k_ < (len))                                                   \
            span(__VA_ARGS__, k_, (len) - k_);                            \
    } while (0)

/* Hot elementwise functions get AVX-512 and AVX2 clones that the loader
 * picks on CPUs that have them (GCC's target_clones, an ifunc), the
 * portable code elsewhere.  All compute the same values (no FMA
 * contraction in ISO C mode): the clones only do 16 or 8 lanes at a time
 * instead of 4.  Build with -DSEQCLS_NO_CLONES to test the portable code
 * alone (the sanitizer builds always do).  The hand-written kernels
 * (pgemm.c, rnn_math.c) are chosen at run time instead (cpu.c). */
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SEQCLS_NO_CLONES 1   /* an instrumented ifunc resolver runs before the sanitizer is up */
#endif
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(SEQCLS_REAL_DOUBLE) && !defined(SEQCLS_NO_CLONES)
#define SEQCLS_VECTORISED __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SEQCLS_VECTORISED
#endif

/* Helpers of SEQCLS_VECTORISED functions: inlined, so that each clone
 * gets them compiled for its own instruction set. */
#if defined(__GNUC__) || defined(__clang__)
#define SEQCLS_CLONE_INLINE static inline __attribute__((always_inline))
#else
#define SEQCLS_CLONE_INLINE static inline
#endif

/* In place: the gate activation `act` (SEQCLS_ACT_SIGMOID, _HARD_SIGMOID,
 * _RELU), and tanh; vectorisable and accurate to a few ulp in float, or
 * with `quick` (quantised layers) to about 1e-4 for half the arithmetic
 * (rnn_math.c). */
void rnn_gate(int act, int quick, real *x, size_t n);
void rnn_tanh(int quick, real *x, size_t n);
/* dx *= act'(.) given the gate values y. */
void rnn_gate_backward(int act, const real *y, real *dx, size_t n);
/* Set gradients too small to matter (|x| < 1e-30 in float) to zero, so that
 * vanishing gradients never reach denormal range, where arithmetic is
 * about a hundred times slower. */
void rnn_flush_tiny(real *x, size_t n);
/* The same for one value, for fused loops (branch-free, so they vectorise). */
static inline real rnn_flush1(real x)
{
#ifdef SEQCLS_REAL_DOUBLE
    return (x < 1e-290 && x > -1e-290) ? 0 : x;
#else
    union { float f; int32_t i; } u;
    u.f = x;
    return (u.i & 0x7fffffff) < 0x0da24260 ? 0.0f : x;   /* 0x0da24260 = 1e-30f */
#endif
}
/* The slope of a gate activation at its output y, as act_backward: sigmoid
 * y (1 - y), hard sigmoid 0.2 inside (0, 1), relu 1 above 0.  The
 * activation is picked by weights of 0 and 1 (rnn_slope_of), not by a
 * branch, so that the loops using it vectorise. */
typedef struct {
    real sigmoid, hard, relu;
} rnn_slope_t;

static inline rnn_slope_t rnn_slope_of(int act)
{
    rnn_slope_t w;
    w.sigmoid = act == SEQCLS_ACT_SIGMOID;
    w.hard = act == SEQCLS_ACT_HARD_SIGMOID;
    w.relu = act == SEQCLS_ACT_RELU;
    return w;
}

static inline real rnn_gate_slope(rnn_slope_t w, real y)
{
    const real inside = (real)((y > 0) & (y < 1)), positive = (real)(y > 0);
    return w.sigmoid * (y * (1 - y)) + w.hard * ((real)0.2 * inside) + w.relu * positive;
}
/* Shared by seqcls_add_lstm and seqcls_add_gru; `allowed` masks the valid flags. */
int rnn_add(seqcls_model_t *m, const char *func, const layer_ops_t *ops, int hidden,
            unsigned flags, unsigned allowed, int *layer);

/* ---- helpers for layers ---- */

/* Inverted-dropout mask of n elements in m (0 or 1/(1-rate)). */
void dropout_mask(rng_t *rng, real *mask, size_t n, float rate);
/* The same for rows: row b of `rows` gets n elements, element j drawn from
 * (ctx->keys[b], layer, j) when ctx has keys, else from ctx->rng in order.
 * Row b's mask starts at mask + b * stride. */
void dropout_mask_rows(const run_ctx_t *ctx, int layer, real *mask, int rows, size_t n,
                       size_t stride, float rate);
/* One row's mask of n elements: elements [first, first + n) of row `row`'s
 * stream for `layer` with keys (a layer's second mask starts after its
 * first), else the next n of ctx->rng. */
void dropout_mask_at(const run_ctx_t *ctx, int layer, int row, uint64_t first, real *mask,
                     size_t n, float rate);

/* SEQCLS_E_STATE if o holds state for a model other than m (optimizer.c). */
int optimizer_check_model(const seqcls_optimizer_t *o, const seqcls_model_t *m, const char *func);
/* seqcls_optimizer_step for seqcls_fit, which zeroes the gradients before
 * the next batch anyway: the listed rows of a sparse parameter are zeroed
 * after the step, and its lists emptied. */
int optimizer_step_fit(seqcls_optimizer_t *o, seqcls_model_t *m);
/* Replace o's state and settings by those of `from` (bound to the same
 * model, or unbound), which is freed. */
void optimizer_take_state(seqcls_optimizer_t *o, seqcls_optimizer_t *from);
/* Learning rate of an optimiser (optimizer.c), for schedules. */
double optimizer_lr(const seqcls_optimizer_t *o);
/* The optimiser's state as an OPTM payload, and back (bound to model m). */
int optimizer_serialize(const seqcls_optimizer_t *o, const seqcls_model_t *m, void **buf,
                        size_t *len);
int optimizer_deserialize(seqcls_optimizer_t **out, seqcls_model_t *m, const void *buf,
                          size_t len, const char *func);
void optimizer_set_lr(seqcls_optimizer_t *o, double lr);

/* ---- communicators (comm.c) ---- */

struct seqcls_comm {
    int rank, size;
    seqcls_allreduce_fn allreduce;
    seqcls_broadcast_fn broadcast;
    void *user;
    seqcls_destructor_fn destructor;
    int overlap;
    int64_t bucket_bytes;
    /* SEQCLS_COMM_STAT_*, updated by the training thread only */
    double steps, buckets, bytes, comm_seconds, exposed_seconds, backward_seconds;
};

/* Call a collective; SEQCLS_E_COMM naming `what` if it fails. */
int comm_allreduce(seqcls_comm_t *c, float *data, size_t n, const char *what, const char *func);
int comm_broadcast(seqcls_comm_t *c, void *data, size_t bytes, const char *what,
                   const char *func);
/* Broadcast rank 0's values of the parameters (all, or only those not
 * trained) into m. */
int comm_broadcast_params(seqcls_comm_t *c, seqcls_model_t *m, int untrained_only,
                          const char *func);

/*
 * Gradient all-reduction in buckets of whole layers, last layers first,
 * overlapping the backward pass (comm.c): start one per fit, then per step
 * comm_grads_begin before the backward (it sets the model's backward
 * hook) and comm_grads_finish after it, also when the backward failed or
 * did not run, so that every rank makes the same calls.
 */
typedef struct comm_grads comm_grads_t;
int comm_grads_start(comm_grads_t **out, seqcls_comm_t *c, seqcls_model_t *m, const char *func);
void comm_grads_begin(comm_grads_t *g);
int comm_grads_finish(comm_grads_t *g, double backward_seconds, const char *func);
void comm_grads_stop(comm_grads_t *g);
/* Seconds on a monotonic clock. */
double comm_now(void);

/* Threads (threads.c). */
int seqcls__threads(void);
/* Run fn(ctx, part, parts) for part in [0, parts), on the library's pool
 * when it is free (the caller and the workers take parts as they come
 * free), else one after the other on the caller; returns when all are
 * done.  Parts must not depend on which thread runs them. */
typedef void (*seqcls_task_fn)(void *ctx, int part, int parts);
void seqcls__parallel(int parts, seqcls_task_fn fn, void *ctx);
/* How many parts are worth making now: the thread count, or 1 inside a part. */
int seqcls__parallel_parts(void);
/* Put the BLAS at one thread, once (the pool does the splitting). */
void seqcls__blas_once(void);

/* Internal test hook: reseed the model's random stream. */
void seqcls__model_reseed(seqcls_model_t *m, uint64_t seed);

/* ---- vocabulary (tokenize.c, vocab.c) ---- */

/* Tokeniser state over one text (see tokenize.c for the rules). */
typedef struct {
    const unsigned char *s;
    size_t n, pos;
    size_t next_gt, next_cmt;   /* memoised positions of the next '>' and "-->" */
    int mode;                   /* SEQCLS_TOKENS_WORD or SEQCLS_TOKENS_CHAR */
    int emitted;                /* char mode: a token was given (a space may follow) */
} tok_iter_t;

/* Word mode (the tokeniser of seqcls 1.0). */
void tok_init(tok_iter_t *it, const char *text, size_t len);
/* Either mode (SEQCLS_TOKENS_*). */
void tok_init_mode(tok_iter_t *it, const char *text, size_t len, int mode);
/* Next token: its normalised bytes into tok[0, *tok_len) (tok must hold
 * SEQCLS_TOKEN_MAX bytes; not NUL-terminated) and its byte span in the
 * original text.  Returns 1, or 0 at the end of the text. */
int tok_next(tok_iter_t *it, char *tok, size_t *tok_len, size_t *start, size_t *end);
/* Is s[0, n) well-formed UTF-8? */
int vocab_utf8_valid(const unsigned char *s, size_t n);

/* seqcls_tokenize in tokenisation mode `mode` (SEQCLS_TOKENS_*), naming `func`. */
int tok_spans(const char *func, int mode, const char *text, size_t len, int32_t *starts,
              int32_t *ends, int max_tokens, int32_t *n_out);

/*
 * Serialise a built vocabulary (layouts in docs/vocab-format.md) into a
 * new buffer from seqcls__alloc, to free with seqcls__dealloc; SEQCLS_E_STATE
 * if not built.  vocab_serialize: the standalone form
 * (seqcls_vocab_save_buffer: tokens, then the options' trailer if any);
 * _tokens: a model file's VOCB payload; _options: its VOPT payload, or
 * *buf NULL and *len 0 when every option is at its default (no section).
 */
int vocab_serialize(const seqcls_vocab_t *v, void **buf, size_t *len);
int vocab_serialize_tokens(const seqcls_vocab_t *v, void **buf, size_t *len);
int vocab_serialize_options(const seqcls_vocab_t *v, void **buf, size_t *len);
/* Rebuild a vocabulary from untrusted bytes: the standalone form, or a
 * VOCB payload and a VOPT payload (options NULL: none).  SEQCLS_E_FORMAT
 * naming the problem on anything malformed, SEQCLS_E_VERSION for an
 * option this version does not know.  *out is NULL on failure. */
int vocab_deserialize(seqcls_vocab_t **out, const void *buf, size_t len);
int vocab_deserialize_parts(seqcls_vocab_t **out, const void *tokens, size_t tlen,
                            const void *options, size_t olen, int *in_options);
/* (*in_options, if not NULL, tells whether a failure was in the options) */

#endif /* SEQCLS_INTERNAL_H */
