/*
 * qgemm.c -- the products of quantised models (seqcls_model_quantize):
 * int8 weights per output channel times activations quantised per row,
 * accumulated in int32; or bfloat16 weights times bfloat16 activations,
 * accumulated in float32.  quant.c decides what is quantised; this file
 * packs matrices, quantises activation rows and multiplies.
 *
 * int8.  A weight matrix W [N, K] is stored as w[n][k] = round(W[n][k] /
 * sw[n]), sw[n] = max_k |W[n][k]| / 127 (symmetric, per output channel;
 * a row below 1e-30 is zeros with sw = 1, so that every scale is above 0).  An activation row x [K] is quantised the
 * same way with its own scale sa = max |x| / 127 (symmetric, per row: a
 * row's result does not depend on the rows beside it, so a stream gives
 * what seqcls_predict gives), and stored as u8 = q + 128, which is what
 * vpdpbusd multiplies (unsigned by signed bytes).  Every kernel computes
 * the exact integer
 *
 *     acc = sum_k u8[k] w[n][k] - 128 wsum[n] = sum_k q[k] w[n][k]
 *
 * (wsum[n] = sum_k w[n][k]; the sums wrap modulo 2^32 and the result
 * fits, since K <= QMAX_K), then the same float32 operations in the same
 * order: y = (float)acc * (sa * sw[n]), plus the second operand's term
 * and the bias (below).  So int8 results are bit-identical across kernel
 * sets.  The kernels:
 *   - AMX tiles (tdpbusd), in qgemm_amx.c, where the CPU has them;
 *   - AVX512-VNNI (avx512f + avx512bw + avx512vnni): vpdpbusd, 8 rows x 32
 *     columns in 16 registers;
 *   - AVX-VNNI (its 256-bit VEX form, without AVX-512), in qgemm_avxvnni.c;
 *   - AVX2: bytes widened to 16 bits (vpmovzxbw, vpmovsxbw) and vpmaddwd,
 *     3 rows x 16 columns, which cannot saturate (vpmaddubsw's 16-bit
 *     pair sums would: 2 x 255 x 127 > 32767, so it would need 7-bit
 *     activations, which lose accuracy; widening keeps all 8 bits for
 *     half vpmaddubsw's rate, about float32's);
 *   - SSE2 (x86-64's baseline, what SEQCLS_MAX_CPU_ISA=portable gives
 *     there): bytes widened to 16 bits and pmaddwd, 2 rows x 8 columns;
 *   - portable C (the reference, and the kernel of other architectures):
 *     float arithmetic that is exact on these integers (below).
 *   AVX-512 without VNNI uses the AVX2 kernel.
 *
 * bfloat16.  Weights and activations are rounded to bfloat16 (to nearest,
 * ties to even) and multiplied pairwise in float32 as vdpbf16ps does:
 * for each pair of k (2i, 2i+1), acc += a[2i+1] w[2i+1], then acc +=
 * a[2i] w[2i], each product exact in float32 and each sum rounded to
 * nearest.  The portable kernel does exactly this, and so does the AVX2
 * one with FMAs (a product of two bfloat16 values is exact, so an FMA
 * rounds once, as the add does), so they give the AVX512-BF16 kernel's
 * values bit for bit (tested on Zen 4), except where vdpbf16ps flushes a
 * subnormal input or sum to zero (values below 1.2e-38, which the test
 * of the kernels does not meet).  AMX's tdpbf16ps (qgemm_amx.c) adds a
 * pair's even product first, so its results may differ in the last bits.
 *
 * Packing.  Panels of QNR = 32 columns (N rounded up with zero weights);
 * K is padded with zeros to a multiple of the group g (4 bytes for int8,
 * 2 values for bf16), and within a panel element (n, k) is at
 * [k / g][n % 32][k % g], so a kernel reads a panel front to back, one
 * group of k for 32 columns at a time (128 bytes).
 *
 * Two operands.  A recurrent step adds x W_ih^T and h W_hh^T: the first
 * operand is stored into C, the second added to it, then the bias:
 * y = ((float)acc0 * s0 + (float)acc1 * s1) + bias, in that order in
 * every kernel (bf16: (acc0 + acc1) + bias).
 */
#include "qgemm_kernel.h"

#include <math.h>
#include <stdatomic.h>
#include <string.h>

int qmat_group(int mode) { return mode == QMODE_INT8 ? 4 : 2; }

static int kpad(int mode, int K)
{
    const int g = qmat_group(mode);
    return (K + g - 1) / g * g;
}

size_t qmat_act_bytes(const qmat_t *q)
{
    return (size_t)q->Kp * (q->mode == QMODE_INT8 ? 1 : 2);
}

size_t qmat_weight_bytes(const qmat_t *q)
{
    if (q->rows)
        return (size_t)q->N * q->K * (q->mode == QMODE_INT8 ? 1 : 2);
    return (size_t)((q->N + QNR - 1) / QNR) * QNR * (size_t)q->Kp * (q->mode == QMODE_INT8 ? 1 : 2);
}

/* Offset of element (n, k) in the packed panels (or the table), in elements. */
static size_t qmat_at(const qmat_t *q, int n, int k)
{
    const int g = qmat_group(q->mode);
    if (q->rows)
        return (size_t)n * q->K + (size_t)k;
    return (size_t)(n / QNR) * QNR * q->Kp + (size_t)(k / g) * QNR * g + (size_t)(n % QNR) * g +
           (size_t)(k % g);
}

uint16_t qmat_bf16(float x)
{
    uint32_t b;
    memcpy(&b, &x, 4);
    if ((b & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((b >> 16) | 0x40);   /* NaN stays a (quiet) NaN */
    b += 0x7fffu + ((b >> 16) & 1u);
    return (uint16_t)(b >> 16);
}

static inline float bf16f(uint16_t h)
{
    uint32_t b = (uint32_t)h << 16;
    float x;
    memcpy(&x, &b, 4);
    return x;
}

float qmat_bf16_float(uint16_t h) { return bf16f(h); }

int qmat_alloc(qmat_t *q, int mode, int N, int K, int rows)
{
    memset(q, 0, sizeof *q);
    q->mode = mode;
    q->N = N;
    q->K = K;
    q->rows = rows;
    q->Kp = rows ? K : kpad(mode, K);
    q->w = seqcls__calloc(qmat_weight_bytes(q), 1);
    if (mode == QMODE_INT8) {
        q->scale = seqcls__calloc((size_t)N, sizeof *q->scale);
        if (!rows)
            q->wsum = seqcls__calloc((size_t)((N + QNR - 1) / QNR) * QNR, sizeof *q->wsum);
    }
    if (!q->w || (mode == QMODE_INT8 && (!q->scale || (!rows && !q->wsum)))) {
        qmat_free(q);
        return SEQCLS_E_NOMEM;
    }
    return SEQCLS_OK;
}

void qmat_free(qmat_t *q)
{
    seqcls__dealloc(q->w);
    seqcls__dealloc(q->scale);
    seqcls__dealloc(q->wsum);
    memset(q, 0, sizeof *q);
}

uint16_t qmat_get(const qmat_t *q, int n, int k)
{
    return q->mode == QMODE_INT8 ? (uint16_t)(uint8_t)((const int8_t *)q->w)[qmat_at(q, n, k)]
                                 : ((const uint16_t *)q->w)[qmat_at(q, n, k)];
}

void qmat_put(qmat_t *q, int n, int k, uint16_t bits)
{
    if (q->mode == QMODE_INT8)
        ((int8_t *)q->w)[qmat_at(q, n, k)] = (int8_t)(uint8_t)bits;
    else
        ((uint16_t *)q->w)[qmat_at(q, n, k)] = bits;
}

void qmat_set_row(qmat_t *q, int n, const void *vals, float scale)
{
    int k;
    if (q->mode == QMODE_INT8) {
        const int8_t *v = vals;
        int8_t *w = q->w;
        int32_t sum = 0;
        for (k = 0; k < q->K; k++) {
            w[qmat_at(q, n, k)] = v[k];
            sum += v[k];
        }
        q->scale[n] = scale;
        if (q->wsum)
            q->wsum[n] = sum;
    } else {
        const uint16_t *v = vals;
        uint16_t *w = q->w;
        for (k = 0; k < q->K; k++)
            w[qmat_at(q, n, k)] = v[k];
    }
}

void qmat_get_row(const qmat_t *q, int n, void *vals)
{
    int k;
    if (q->mode == QMODE_INT8) {
        const int8_t *w = q->w;
        int8_t *v = vals;
        for (k = 0; k < q->K; k++)
            v[k] = w[qmat_at(q, n, k)];
    } else {
        const uint16_t *w = q->w;
        uint16_t *v = vals;
        for (k = 0; k < q->K; k++)
            v[k] = w[qmat_at(q, n, k)];
    }
}

/* Blocks of a constant 16, which -O2 vectorises (it leaves loops of
 * unknown length scalar): a quantised embedding dequantises every token's
 * row here. */
SEQCLS_CLONE_INLINE void dequant_int8_16(const int8_t *restrict w, float s, real *restrict y)
{
    int k;
    for (k = 0; k < 16; k++)
        y[k] = (real)((float)w[k] * s);
}

SEQCLS_CLONE_INLINE void widen_bf16_16(const uint16_t *restrict w, real *restrict y)
{
    int k;
    for (k = 0; k < 16; k++) {
        const uint32_t b = (uint32_t)w[k] << 16;
        float x;
        memcpy(&x, &b, 4);
        y[k] = (real)x;
    }
}

SEQCLS_VECTORISED
void qmat_row_real(const qmat_t *q, int n, real *restrict y)
{
    const int K = q->K;
    int k = 0;
    if (q->mode == QMODE_INT8) {
        const int8_t *w = (const int8_t *)q->w + (size_t)n * K;
        const float s = q->scale[n];
        for (; k + 16 <= K; k += 16)
            dequant_int8_16(w + k, s, y + k);
        for (; k < K; k++)
            y[k] = (real)((float)w[k] * s);
    } else {
        const uint16_t *w = (const uint16_t *)q->w + (size_t)n * K;
        for (; k + 16 <= K; k += 16)
            widen_bf16_16(w + k, y + k);
        for (; k < K; k++)
            y[k] = (real)qmat_bf16_float(w[k]);
    }
}

/* One row of W quantised into q (row n). */
static void quantize_row(qmat_t *q, int n, const real *w)
{
    const int K = q->K;
    int k;
    if (q->mode == QMODE_INT8) {
        float mx = 0, inv;
        for (k = 0; k < K; k++)
            mx = fabsf((float)w[k]) > mx ? fabsf((float)w[k]) : mx;
        /* below 1e-30 a row is zeros (scale 1: scales are above 0) */
        inv = mx > 1e-30f ? 127.0f / mx : 0;
        for (k = 0; k < K; k++) {
            float r = rintf((float)w[k] * inv);
            qmat_put(q, n, k, (uint16_t)(uint8_t)(int8_t)(r > 127 ? 127 : r < -127 ? -127 : r));
        }
        q->scale[n] = mx > 1e-30f ? mx / 127.0f : 1.0f;
        /* 127 x scale finite, as loading demands (a weight near FLT_MAX
         * rounds mx / 127 up that far) */
        if (!isfinite(127.0f * q->scale[n]))
            q->scale[n] = nextafterf(q->scale[n], 0.0f);
    } else {
        for (k = 0; k < K; k++)
            qmat_put(q, n, k, qmat_bf16((float)w[k]));
    }
}

void qmat_quantize(qmat_t *q, const real *W)
{
    int n, k;
    for (n = 0; n < q->N; n++)
        quantize_row(q, n, W + (size_t)n * q->K);
    if (q->wsum)
        for (n = 0; n < q->N; n++) {
            int32_t sum = 0;
            for (k = 0; k < q->K; k++)
                sum += (int8_t)qmat_get(q, n, k);
            q->wsum[n] = sum;
        }
}


/* ---- activations ---- */

SEQCLS_VECTORISED
static void quant_row_int8(const real *restrict x, int K, int Kp, uint8_t *restrict out,
                           float *restrict scale)
{
    float mx = 0, inv;
    int k;
    for (k = 0; k < K; k++) {
        const float a = fabsf((float)x[k]);
        mx = a > mx ? a : mx;
    }
    /* a row below 1e-30 is zeros (as the weights; no infinite 127 / mx) */
    inv = mx > 1e-30f ? 127.0f / mx : 0;
    for (k = 0; k < K; k++) {
        float r = rintf((float)x[k] * inv);
        r = r > 127 ? 127 : r < -127 ? -127 : r;
        out[k] = (uint8_t)((int)r + 128);
    }
    for (; k < Kp; k++)
        out[k] = 128;
    *scale = mx / 127.0f;
}

SEQCLS_VECTORISED
static void quant_row_bf16(const real *restrict x, int K, int Kp, uint16_t *restrict out)
{
    int k;
    for (k = 0; k < K; k++) {
        const float f = (float)x[k];
        uint32_t b;
        memcpy(&b, &f, 4);
        b += 0x7fffu + ((b >> 16) & 1u);   /* activations are finite */
        out[k] = (uint16_t)(b >> 16);
    }
    for (; k < Kp; k++)
        out[k] = 0;
}

#ifdef Q_X86
/* The same two functions with AVX-512 (the same values: the maximum does
 * not depend on the order, and vrndscaleps rounds to nearest even as
 * rintf does in the default rounding mode).  The compiler's clones of the
 * loops above spend most of an int8 model's time there. */
#define AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))

/* max |x[0..K)| */
static inline AVX512BW float absmax_avx512(const float *x, int K)
{
    __m512 mx = _mm512_setzero_ps();
    int k;
    for (k = 0; k + 16 <= K; k += 16)
        mx = _mm512_max_ps(mx, _mm512_abs_ps(_mm512_loadu_ps(x + k)));
    if (k < K)
        mx = _mm512_max_ps(
            mx, _mm512_abs_ps(_mm512_maskz_loadu_ps((__mmask16)((1u << (K - k)) - 1), x + k)));
    return _mm512_reduce_max_ps(mx);
}

/* 16 values x * inv rounded, clamped to [-127, 127], + 128, as int32. */
static inline AVX512BW __m512i quantise16_avx512(__m512 x, __m512 vinv)
{
    __m512 r = _mm512_roundscale_ps(_mm512_mul_ps(x, vinv),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_max_ps(_mm512_min_ps(r, _mm512_set1_ps(127)), _mm512_set1_ps(-127));
    return _mm512_add_epi32(_mm512_cvtps_epi32(r), _mm512_set1_epi32(128));
}

/* x[0..K) quantised with inv into out, then Kp - K bytes of 128.  64
 * values at a time are narrowed by two packs and a permutation and stored
 * as one vector (the vpmovdb to memory of 16 at a time took a third more
 * time per row on Zen 4). */
static inline AVX512BW void quantise_row_avx512(const float *x, int K, int Kp, float inv,
                                                uint8_t *out)
{
    const __m512 vinv = _mm512_set1_ps(inv);
    /* after the packs, dword 4 l + p holds values [16 p + 4 l, + 4) */
    const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    int k = 0;
    for (; k + 64 <= K; k += 64) {
        const __m512i a = _mm512_packs_epi32(quantise16_avx512(_mm512_loadu_ps(x + k), vinv),
                                             quantise16_avx512(_mm512_loadu_ps(x + k + 16), vinv));
        const __m512i b = _mm512_packs_epi32(quantise16_avx512(_mm512_loadu_ps(x + k + 32), vinv),
                                             quantise16_avx512(_mm512_loadu_ps(x + k + 48), vinv));
        _mm512_storeu_si512(out + k, _mm512_permutexvar_epi32(order, _mm512_packus_epi16(a, b)));
    }
    for (; k < K; k += 16) {
        const __mmask16 msk = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
        const __m512i q = quantise16_avx512(_mm512_maskz_loadu_ps(msk, x + k), vinv);
        _mm_mask_storeu_epi8(out + k, msk, _mm512_cvtepi32_epi8(q));
    }
    for (k = K; k < Kp; k++)
        out[k] = 128;
}

static AVX512BW void quant_row_int8_avx512(const float *x, int K, int Kp, uint8_t *out,
                                           float *scale)
{
    const float m = absmax_avx512(x, K);
    /* a row below 1e-30 is zeros (as the weights; no infinite 127 / m) */
    quantise_row_avx512(x, K, Kp, m > 1e-30f ? 127.0f / m : 0, out);
    *scale = m / 127.0f;
}

/* Rows 16 at a time: first their maxima, then their 127 / m and m / 127
 * by one vector division each (IEEE divisions: the scalar ones' values),
 * then the rows; row after row, each waited on its own reduction and
 * division.  A recurrent step's 64-value rows: 13.5 -> 8.7 ns each. */
static AVX512BW void quant_rows_int8_avx512(const float *A, size_t lda, int M, int K, int Kp,
                                            uint8_t *out, size_t rb, float *scale)
{
    const __m512 hi = _mm512_set1_ps(127);
    int i0 = 0, i;
    for (; i0 + 16 <= M; i0 += 16) {
        float m[16], inv[16];
        __m512 vm;
        for (i = 0; i < 16; i++)
            m[i] = absmax_avx512(A + (size_t)(i0 + i) * lda, K);
        vm = _mm512_loadu_ps(m);
        _mm512_storeu_ps(inv, _mm512_maskz_div_ps(_mm512_cmp_ps_mask(vm, _mm512_set1_ps(1e-30f),
                                                                     _CMP_GT_OQ),
                                                  hi, vm));
        _mm512_storeu_ps(scale + i0, _mm512_div_ps(vm, hi));
        for (i = 0; i < 16; i++)
            quantise_row_avx512(A + (size_t)(i0 + i) * lda, K, Kp, inv[i],
                                out + (size_t)(i0 + i) * rb);
    }
    for (; i0 < M; i0++)
        quant_row_int8_avx512(A + (size_t)i0 * lda, K, Kp, out + (size_t)i0 * rb, scale + i0);
}

/* 16 floats rounded to bfloat16 (nearest even; activations are finite),
 * in the low halves of 32-bit lanes. */
static inline AVX512BW __m512i bf16_round16_avx512(__m512 x)
{
    const __m512i b = _mm512_castps_si512(x);
    return _mm512_srli_epi32(
        _mm512_add_epi32(b, _mm512_add_epi32(_mm512_set1_epi32(0x7fff),
                                             _mm512_and_si512(_mm512_srli_epi32(b, 16),
                                                              _mm512_set1_epi32(1)))),
        16);
}

static AVX512BW void quant_row_bf16_avx512(const float *x, int K, int Kp, uint16_t *out)
{
    /* after the pack, qword 2 l + p holds values [16 p + 4 l, + 4) */
    const __m512i order = _mm512_set_epi64(7, 5, 3, 1, 6, 4, 2, 0);
    int k = 0;
    for (; k + 32 <= K; k += 32) {   /* one pack and a permutation: see quantise_row_avx512 */
        const __m512i lo = bf16_round16_avx512(_mm512_loadu_ps(x + k));
        const __m512i hi = bf16_round16_avx512(_mm512_loadu_ps(x + k + 16));
        _mm512_storeu_si512(out + k, _mm512_permutexvar_epi64(order, _mm512_packus_epi32(lo, hi)));
    }
    for (; k < K; k += 16) {
        const __mmask16 msk = K - k >= 16 ? 0xffff : (__mmask16)((1u << (K - k)) - 1);
        const __m512i b = bf16_round16_avx512(_mm512_maskz_loadu_ps(msk, x + k));
        _mm256_mask_storeu_epi16(out + k, msk, _mm512_cvtepi32_epi16(b));
    }
    for (k = K; k < Kp; k++)
        out[k] = 0;
}
#endif

#ifdef Q_X86
/* The int8 quantiser with AVX2, the same values again. */
static __attribute__((target("avx2"))) void quant_row_int8_avx2(const float *x, int K, int Kp,
                                                                uint8_t *out, float *scale)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 mx = _mm256_setzero_ps();
    float lanes[8], m = 0, inv;
    int k, j;
    for (k = 0; k + 8 <= K; k += 8)
        mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
    _mm256_storeu_ps(lanes, mx);
    for (j = 0; j < 8; j++)
        m = lanes[j] > m ? lanes[j] : m;
    for (; k < K; k++)
        m = fabsf(x[k]) > m ? fabsf(x[k]) : m;
    inv = m > 1e-30f ? 127.0f / m : 0;
    {
        const __m256 vinv = _mm256_set1_ps(inv), hi = _mm256_set1_ps(127), lo = _mm256_set1_ps(-127);
        const __m256i off = _mm256_set1_epi32(128);
        for (k = 0; k + 8 <= K; k += 8) {
            __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(x + k), vinv),
                                       _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            __m256i v;
            __m128i h;
            r = _mm256_max_ps(_mm256_min_ps(r, hi), lo);
            v = _mm256_add_epi32(_mm256_cvtps_epi32(r), off);   /* 1..255 */
            h = _mm_packus_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
            h = _mm_packus_epi16(h, h);
            _mm_storel_epi64((__m128i *)(void *)(out + k), h);
        }
        for (; k < K; k++) {
            float r = rintf(x[k] * inv);
            r = r > 127 ? 127 : r < -127 ? -127 : r;
            out[k] = (uint8_t)((int)r + 128);
        }
    }
    for (k = K; k < Kp; k++)
        out[k] = 128;
    *scale = m / 127.0f;
}
#endif

void qact(const qmat_t *q, int M, const real *A, int lda, void *act, float *sa)
{
    const size_t rb = qmat_act_bytes(q);
    int i;
#ifdef Q_X86
    if (cpu_isa() == CPU_AVX512 && cpu_has(CPU_FEAT_BWVL)) {
        if (q->mode == QMODE_INT8) {
            quant_rows_int8_avx512(A, (size_t)lda, M, q->K, q->Kp, act, rb, sa);
            return;
        }
        for (i = 0; i < M; i++)
            quant_row_bf16_avx512(A + (size_t)i * lda, q->K, q->Kp,
                                  (uint16_t *)(void *)((unsigned char *)act + i * rb));
        return;
    }
    if (cpu_isa() == CPU_AVX2 && q->mode == QMODE_INT8) {
        for (i = 0; i < M; i++)
            quant_row_int8_avx2(A + (size_t)i * lda, q->K, q->Kp, (uint8_t *)act + i * rb, sa + i);
        return;
    }
#endif
    for (i = 0; i < M; i++) {
        if (q->mode == QMODE_INT8)
            quant_row_int8(A + (size_t)i * lda, q->K, q->Kp, (uint8_t *)act + i * rb, sa + i);
        else
            quant_row_bf16(A + (size_t)i * lda, q->K, q->Kp,
                           (uint16_t *)(void *)((unsigned char *)act + i * rb));
    }
}

/* ---- the kernels: rows [0, M) of one panel (columns [0, n) of it) ---- */

/* Portable int8: blocks of QPR rows; each group of 4 k of the panel is
 * widened and transposed once ([j][c]) for all the block's rows (with 4
 * rows a block, the widening took most of an SSE2 build's time), then
 * every row of the block adds
 * a[j] * w[j][c] over c, loops the compiler vectorises (with
 * SEQCLS_VECTORISED, in 16 or 8 lanes).  The products and sums are done
 * in float, which is exact here and as fast as float32's kernels (integer
 * multiplies are slower): a product is at most 255 * 127, and a partial
 * sum over QEXACT k at most QEXACT * 255 * 127 < 2^24, so every float is
 * an integer held exactly; each such partial sum is then added to the
 * int32 total. */
#define QPR 32
#define QEXACT 512

SEQCLS_CLONE_INLINE void int8_portable_block(int mr, int n, const qk_t *o, int i0)
{
    const int groups = o->w->Kp / 4;
    const int8_t *p = (const int8_t *)o->panel;
    int32_t acc[QPR][QNR];
    float part[QPR][QNR], wt[4][QNR];
    int i, g, c, j;
    memset(acc, 0, sizeof acc);
    for (i = 0; i < QPR; i++)
        for (c = 0; c < QNR; c++)
            part[i][c] = 0;
    for (g = 0; g < groups; g++, p += QNR * 4) {
        for (j = 0; j < 4; j++)
            for (c = 0; c < QNR; c++)
                wt[j][c] = (float)p[c * 4 + j];
        for (i = 0; i < mr; i++) {
            const uint8_t *a = o->act + (size_t)(i0 + i) * o->rb + 4 * g;
            for (j = 0; j < 4; j++) {
                const float aj = (float)a[j];
                for (c = 0; c < QNR; c++)
                    part[i][c] = part[i][c] + aj * wt[j][c];
            }
        }
        if ((g + 1) % (QEXACT / 4) == 0 || g + 1 == groups)
            for (i = 0; i < mr; i++)
                for (c = 0; c < QNR; c++) {
                    acc[i][c] = (int32_t)((uint32_t)acc[i][c] + (uint32_t)(int32_t)part[i][c]);
                    part[i][c] = 0;
                }
    }
    for (i = 0; i < mr; i++) {
        real *ci = o->C + (size_t)(i0 + i) * o->ldc;
        for (c = 0; c < n; c++) {
            const int32_t d = (int32_t)((uint32_t)acc[i][c] - 128u * (uint32_t)o->wsum[c]);
            ci[c] = q_out(o, ci[c], (float)d * (o->sa[i0 + i] * o->sw[c]), c);
        }
    }
}

SEQCLS_VECTORISED
static void int8_portable(int M, int n, const qk_t *o)
{
    int i;
    for (i = 0; i < M; i += QPR)
        int8_portable_block(M - i < QPR ? M - i : QPR, n, o, i);
}

/* Portable bfloat16: the same blocking; each pair of k of the panel is
 * widened to float once ([j][c]), then per row acc += a[2i+1] w[2i+1],
 * then acc += a[2i] w[2i], as vdpbf16ps orders them. */
SEQCLS_CLONE_INLINE void bf16_portable_block(int mr, int n, const qk_t *o, int i0)
{
    const int pairs = o->w->Kp / 2;
    const uint16_t *p = (const uint16_t *)(const void *)o->panel;
    float acc[QPR][QNR], wt[2][QNR];
    int i, g, c;
    for (i = 0; i < QPR; i++)
        for (c = 0; c < QNR; c++)
            acc[i][c] = 0;
    for (g = 0; g < pairs; g++, p += QNR * 2) {
        for (c = 0; c < QNR; c++) {
            wt[0][c] = bf16f(p[2 * c]);
            wt[1][c] = bf16f(p[2 * c + 1]);
        }
        for (i = 0; i < mr; i++) {
            const uint16_t *a =
                (const uint16_t *)(const void *)(o->act + (size_t)(i0 + i) * o->rb) + 2 * g;
            const float a0 = bf16f(a[0]), a1 = bf16f(a[1]);
            for (c = 0; c < QNR; c++) {
                acc[i][c] = acc[i][c] + a1 * wt[1][c];
                acc[i][c] = acc[i][c] + a0 * wt[0][c];
            }
        }
    }
    for (i = 0; i < mr; i++) {
        real *ci = o->C + (size_t)(i0 + i) * o->ldc;
        for (c = 0; c < n; c++)
            ci[c] = q_out(o, ci[c], acc[i][c], c);
    }
}

SEQCLS_VECTORISED
static void bf16_portable(int M, int n, const qk_t *o)
{
    int i;
    for (i = 0; i < M; i += QPR)
        bf16_portable_block(M - i < QPR ? M - i : QPR, n, o, i);
}

#ifdef Q_X86

/* ---- SSE2, x86-64's baseline: 2 rows x 8 columns, pmaddwd ----
 *
 * What an x86-64 CPU without AVX2 runs for int8 (in place of the portable
 * C kernel, which stays the reference everywhere else): bytes widened to
 * 16 bits (SSE2 has no pmovsxbw) and multiplied pairwise into int32 by
 * pmaddwd, 8 products an instruction, where the C kernel's float
 * multiplies and adds do 4 (measured: an SSE2-only build's int8 BiLSTM
 * layer was 1.3x slower than float32 with the C kernel).  The same
 * integers, so the same bits. */
static inline __attribute__((always_inline)) void int8_sse2_rows(const int mr, int q, int n,
                                                                 const qk_t *o, int i0)
{
    const int groups = o->w->Kp / 4, c0 = q * 8;
    const __m128i zero = _mm_setzero_si128();
    const int8_t *p = (const int8_t *)o->panel + q * 32;
    __m128i acc[2][4], off[2];
    float out[8], sw[8];
    int i, g, v, c;
#pragma GCC unroll 2
    for (i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (v = 0; v < 4; v++)
            acc[i][v] = zero;
    for (g = 0; g < groups; g++, p += QNR * 4) {
        /* columns (0, 1), (2, 3), (4, 5), (6, 7): 4 k each, as 16 bits */
        const __m128i x0 = _mm_loadu_si128((const __m128i *)(const void *)p);
        const __m128i x1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
        const __m128i w[4] = {_mm_srai_epi16(_mm_unpacklo_epi8(x0, x0), 8),
                              _mm_srai_epi16(_mm_unpackhi_epi8(x0, x0), 8),
                              _mm_srai_epi16(_mm_unpacklo_epi8(x1, x1), 8),
                              _mm_srai_epi16(_mm_unpackhi_epi8(x1, x1), 8)};
#pragma GCC unroll 2
        for (i = 0; i < mr; i++) {
            /* a row's 4 bytes as 16 bits, twice: [a0 a1 a2 a3 a0 a1 a2 a3] */
            const __m128i a4 = _mm_unpacklo_epi8(_mm_cvtsi32_si128(act_group(o, i0 + i, g)), zero);
            const __m128i a = _mm_unpacklo_epi64(a4, a4);
#pragma GCC unroll 4
            for (v = 0; v < 4; v++)
                acc[i][v] = _mm_add_epi32(acc[i][v], _mm_madd_epi16(a, w[v]));
        }
    }
    /* the 8 columns' scales (zero past n) and 128 wsum, for every row */
    for (c = 0; c < 8; c++)
        sw[c] = c0 + c < n ? o->sw[c0 + c] : 0.0f;
    off[0] = _mm_slli_epi32(_mm_loadu_si128((const __m128i *)(const void *)(o->wsum + c0)), 7);
    off[1] = _mm_slli_epi32(_mm_loadu_si128((const __m128i *)(const void *)(o->wsum + c0 + 4)), 7);
    for (i = 0; i < mr; i++) {
        real *ci = o->C + (size_t)(i0 + i) * o->ldc + c0;
        const __m128 sa = _mm_set1_ps(o->sa[i0 + i]);
        for (v = 0; v < 2; v++) {
            /* acc[i][2v], acc[i][2v + 1]: two partial sums per column; the
             * even and odd lanes of both, added, are columns 4v..4v+3 */
            const __m128 x = _mm_castsi128_ps(acc[i][2 * v]);
            const __m128 y = _mm_castsi128_ps(acc[i][2 * v + 1]);
            const __m128i s = _mm_add_epi32(
                _mm_castps_si128(_mm_shuffle_ps(x, y, _MM_SHUFFLE(2, 0, 2, 0))),
                _mm_castps_si128(_mm_shuffle_ps(x, y, _MM_SHUFFLE(3, 1, 3, 1))));
            _mm_storeu_ps(out + 4 * v, _mm_mul_ps(_mm_cvtepi32_ps(_mm_sub_epi32(s, off[v])),
                                                  _mm_mul_ps(sa, _mm_loadu_ps(sw + 4 * v))));
        }
        for (c = 0; c < 8 && c0 + c < n; c++)
            ci[c] = q_out(o, ci[c], out[c], c0 + c);
    }
}

static void int8_sse2(int M, int n, const qk_t *o)
{
    int q, i;
    for (q = 0; q < 4 && 8 * q < n; q++) {
        for (i = 0; i + 2 <= M; i += 2)
            int8_sse2_rows(2, q, n, o, i);
        if (i < M)
            int8_sse2_rows(1, q, n, o, i);
    }
}

/* ---- AVX2: 2 rows x 16 columns, 8-bit values widened to 16 ---- */

#define AVX2 __attribute__((target("avx2")))

#define MR2 3

static inline AVX2 __attribute__((always_inline)) void int8_avx2_rows(const int mr, int half,
                                                                     int n, const qk_t *o,
                                                                     int i0)
{
    const int groups = o->w->Kp / 4, c0 = half * 16;
    const int8_t *p = (const int8_t *)o->panel + half * 64;
    __m256i acc[MR2][4];
    int i, g, v;
#pragma GCC unroll 3
    for (i = 0; i < mr; i++)
#pragma GCC unroll 4
        for (v = 0; v < 4; v++)
            acc[i][v] = _mm256_setzero_si256();
    for (g = 0; g < groups; g++, p += QNR * 4) {
        __m256i w[4];
#pragma GCC unroll 4
        for (v = 0; v < 4; v++)
            w[v] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * v)));
#pragma GCC unroll 3
        for (i = 0; i < mr; i++) {
            /* 4 bytes to 4 u16, the same 64 bits in every lane */
            const __m256i a = _mm256_permute4x64_epi64(
                _mm256_cvtepu8_epi16(_mm_set1_epi32(act_group(o, i0 + i, g))), 0);
#pragma GCC unroll 4
            for (v = 0; v < 4; v++)
                acc[i][v] = _mm256_add_epi32(acc[i][v], _mm256_madd_epi16(a, w[v]));
        }
    }
    {
        /* acc[i][v] holds columns 4v..4v+3 as the sums of k pairs (0, 1)
         * and (2, 3): hadd pairs them, the permutation puts the columns in
         * order; then the epilogue of every kernel, 8 columns at a time */
        int8_half_t h;
        int8_half_avx2(o, c0, n, &h);
#pragma GCC unroll 3
        for (i = 0; i < mr; i++)
            int8_store16_avx2(
                o, &h, i0 + i, c0, n,
                _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xd8),
                _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][2], acc[i][3]), 0xd8));
    }
}

static AVX2 void int8_avx2(int M, int n, const qk_t *o)
{
    int half, i;
    for (half = 0; half < 2 && 16 * half < n; half++) {
        for (i = 0; i + MR2 <= M; i += MR2)
            int8_avx2_rows(MR2, half, n, o, i);
        if (M - i == 2)
            int8_avx2_rows(2, half, n, o, i);
        else if (M - i == 1)
            int8_avx2_rows(1, half, n, o, i);
    }
}

/* ---- bfloat16 with AVX2 and FMA: 4 rows x 16 columns ---- */

/* The weights of a pair of k widened to float by shifts (the even k's
 * bfloat16 is the low half of each 32-bit lane, the odd k's the high
 * half); products of two bfloat16 values are exact in float, so an FMA
 * rounds once, as the portable kernel's add does. */
static inline __attribute__((always_inline, target("avx2,fma"))) void
bf16_avx2_rows(const int mr, int half, int n, const qk_t *o, int i0)
{
    const int pairs = o->w->Kp / 2, c0 = half * 16;
    const uint16_t *p = (const uint16_t *)(const void *)o->panel + half * 32;
    const __m256i hi = _mm256_set1_epi32((int)0xffff0000u);
    __m256 acc[4][2];
    int i, g, v;
#pragma GCC unroll 4
    for (i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm256_setzero_ps();
    for (g = 0; g < pairs; g++, p += QNR * 2) {
        __m256 we[2], wo[2];
#pragma GCC unroll 2
        for (v = 0; v < 2; v++) {
            const __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)(p + 16 * v));
            we[v] = _mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
            wo[v] = _mm256_castsi256_ps(_mm256_and_si256(x, hi));
        }
#pragma GCC unroll 4
        for (i = 0; i < mr; i++) {
            /* widened in the vector unit, as the weights */
            const __m256i a = _mm256_set1_epi32(act_group(o, i0 + i, g));
            const __m256 a0 = _mm256_castsi256_ps(_mm256_slli_epi32(a, 16));
            const __m256 a1 = _mm256_castsi256_ps(_mm256_and_si256(a, hi));
#pragma GCC unroll 2
            for (v = 0; v < 2; v++) {
                acc[i][v] = _mm256_fmadd_ps(a1, wo[v], acc[i][v]);
                acc[i][v] = _mm256_fmadd_ps(a0, we[v], acc[i][v]);
            }
        }
    }
#pragma GCC unroll 4
    for (i = 0; i < mr; i++)
        store16_avx2(o, o->C + (size_t)(i0 + i) * o->ldc + c0, c0, n, acc[i][0], acc[i][1]);
}

static __attribute__((target("avx2,fma"))) void bf16_avx2(int M, int n, const qk_t *o)
{
    int half, i;
    for (half = 0; half < 2 && 16 * half < n; half++) {
        for (i = 0; i + 4 <= M; i += 4)
            bf16_avx2_rows(4, half, n, o, i);
        switch (M - i) {
        case 3: bf16_avx2_rows(3, half, n, o, i); break;
        case 2: bf16_avx2_rows(2, half, n, o, i); break;
        case 1: bf16_avx2_rows(1, half, n, o, i); break;
        default: break;
        }
    }
}

/* ---- AVX512-VNNI: up to 8 rows x 32 columns ---- */

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))
#define MRQ 8

/* acc += a (unsigned bytes) . w (signed bytes), four to a lane.  GCC 12
 * copies the accumulators of _mm512_dpbusd_epi32 between registers on
 * every use (a third of the kernel's instructions were such moves, one a
 * spill); an in-place asm operand keeps each in its register. */
static inline VNNI __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i a, __m512i w)
{
#if defined(__GNUC__) && !defined(__clang__)
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(w));
    return acc;
#else
    return _mm512_dpbusd_epi32(acc, a, w);
#endif
}

static inline VNNI __attribute__((always_inline)) void int8_vnni_rows(const int mr, const qk_t *o,
                                                                     int i0, __mmask16 m0,
                                                                     __mmask16 m1)
{
    const int groups = o->w->Kp / 4;
    const int8_t *p = (const int8_t *)o->panel;
    __m512i c0[MRQ], c1[MRQ];
    int i, g;
#pragma GCC unroll 8
    for (i = 0; i < mr; i++)
        c0[i] = c1[i] = _mm512_setzero_si512();
    for (g = 0; g < groups; g++, p += QNR * 4) {
        const __m512i w0 = _mm512_loadu_si512(p), w1 = _mm512_loadu_si512(p + 64);
#pragma GCC unroll 8
        for (i = 0; i < mr; i++) {
            const __m512i a = _mm512_set1_epi32(act_group(o, i0 + i, g));
            c0[i] = dpbusd(c0[i], a, w0);
            c1[i] = dpbusd(c1[i], a, w1);
        }
    }
    {
        const __m512i off0 = _mm512_slli_epi32(_mm512_loadu_si512(o->wsum), 7);
        const __m512i off1 = _mm512_slli_epi32(_mm512_loadu_si512(o->wsum + 16), 7);
        const __m512 sw0 = _mm512_maskz_loadu_ps(m0, o->sw), sw1 = _mm512_maskz_loadu_ps(m1, o->sw + 16);
#pragma GCC unroll 8
        for (i = 0; i < mr; i++) {
            const __m512 sa = _mm512_set1_ps(o->sa[i0 + i]);
            store32_avx512(o, o->C + (size_t)(i0 + i) * o->ldc, m0, m1,
                           int8_value_avx512(c0[i], off0, sa, sw0),
                           int8_value_avx512(c1[i], off1, sa, sw1));
        }
    }
}

/* The body of a kernel over M rows: blocks of MRQ rows, then the rest
 * with a constant row count (so that the row loops unroll), masks for
 * the columns [0, n) of the panel. */
#define QROWS(rows_fn, M, n, o)                                                              \
    do {                                                                                     \
        const __mmask16 m0_ = panel_mask(n, 0), m1_ = panel_mask(n, 1);                      \
        int i_;                                                                              \
        for (i_ = 0; i_ + MRQ <= (M); i_ += MRQ)                                             \
            rows_fn(MRQ, o, i_, m0_, m1_);                                                   \
        switch ((M) - i_) {                                                                  \
        case 7: rows_fn(7, o, i_, m0_, m1_); break;                                          \
        case 6: rows_fn(6, o, i_, m0_, m1_); break;                                          \
        case 5: rows_fn(5, o, i_, m0_, m1_); break;                                          \
        case 4: rows_fn(4, o, i_, m0_, m1_); break;                                          \
        case 3: rows_fn(3, o, i_, m0_, m1_); break;                                          \
        case 2: rows_fn(2, o, i_, m0_, m1_); break;                                          \
        case 1: rows_fn(1, o, i_, m0_, m1_); break;                                          \
        default: break;                                                                      \
        }                                                                                    \
    } while (0)

static VNNI void int8_vnni(int M, int n, const qk_t *o)
{
    QROWS(int8_vnni_rows, M, n, o);
}

/* ---- AVX512-BF16: up to 8 rows x 32 columns ---- */

#define BF16 __attribute__((target("avx512f,avx512bw,avx512bf16")))

static inline BF16 __attribute__((always_inline)) void bf16_avx512_rows(const int mr, const qk_t *o,
                                                                       int i0, __mmask16 m0,
                                                                       __mmask16 m1)
{
    const int pairs = o->w->Kp / 2;
    const uint16_t *p = (const uint16_t *)(const void *)o->panel;
    __m512 c0[MRQ], c1[MRQ];
    int i, g;
#pragma GCC unroll 8
    for (i = 0; i < mr; i++)
        c0[i] = c1[i] = _mm512_setzero_ps();
    for (g = 0; g < pairs; g++, p += QNR * 2) {
        const __m512bh w0 = (__m512bh)_mm512_loadu_si512(p);
        const __m512bh w1 = (__m512bh)_mm512_loadu_si512(p + 32);
#pragma GCC unroll 8
        for (i = 0; i < mr; i++) {
            const __m512bh a = (__m512bh)_mm512_set1_epi32(act_group(o, i0 + i, g));
            c0[i] = _mm512_dpbf16_ps(c0[i], a, w0);
            c1[i] = _mm512_dpbf16_ps(c1[i], a, w1);
        }
    }
#pragma GCC unroll 8
    for (i = 0; i < mr; i++)
        store32_avx512(o, o->C + (size_t)(i0 + i) * o->ldc, m0, m1, c0[i], c1[i]);
}

static BF16 void bf16_avx512(int M, int n, const qk_t *o)
{
    QROWS(bf16_avx512_rows, M, n, o);
}

#endif

/* Do kernels a and b agree on a small product (37 x 40 x 70, one operand
 * and a bias): the same bits for int8; for bfloat16 (whose kernels may
 * sum a pair in either order) within 1e-3 of values below 70 in
 * magnitude, where an error of indexing would be of order 1. */
int qgemm_kernels_agree(qkernel_fn a, qkernel_fn b, int mode)
{
    enum { M = 37, N = 40, K = 70 };
    qmat_t w;
    real *A = seqcls__calloc((size_t)(M + N) * K + N + 2 * M * N, sizeof(real));
    void *act = seqcls__calloc((size_t)M, 2 * (size_t)(K + 4));
    float sa[M];
    int agree = 0, i;
    if (A && act && qmat_alloc(&w, mode, N, K, 0) == SEQCLS_OK) {
        real *W = A + M * K, *bias = W + N * K, *C1 = bias + N, *C2 = C1 + M * N;
        qop_t op;
        for (i = 0; i < (M + N) * K + N; i++)   /* in [-1, 1], period 255 along k */
            A[i] = (real)((i * 7919 + 13) % 255 - 127) / 127;
        qmat_quantize(&w, W);
        qact(&w, M, A, K, act, sa);
        memset(&op, 0, sizeof op);
        op.w = &w;
        op.act = act;
        op.sa = sa;
        qgemm_run(a, M, 1, &op, bias, C1, N);
        qgemm_run(b, M, 1, &op, bias, C2, N);
        agree = 1;
        for (i = 0; i < M * N; i++)
            if (mode == QMODE_INT8 ? C1[i] != C2[i] : !(fabsf((float)(C1[i] - C2[i])) <= 1e-3f))
                agree = 0;
        qmat_free(&w);
    }
    seqcls__dealloc(A);
    seqcls__dealloc(act);
    return agree;
}

/* The AMX kernels were written against the manual and tested on a model
 * of the tiles (tests/amx_model.c), on machines without AMX.  So before
 * one is first used, it must agree with the AVX-512 kernel (for int8 the
 * same bits) on a small product; if it does not, qgemm keeps the AVX-512
 * kernels in this process. */
static int amx_trusted(int mode)
{
#ifdef Q_X86
    static atomic_int trusted[2] = {-1, -1};   /* int8, bfloat16; -1: not checked yet */
    atomic_int *t = &trusted[mode == QMODE_INT8 ? 0 : 1];
    int ok = atomic_load_explicit(t, memory_order_relaxed);
    if (ok < 0) {
        ok = mode == QMODE_INT8
                 ? qgemm_kernels_agree(qgemm_amx_int8,
                                       cpu_has(CPU_FEAT_VNNI) ? int8_vnni : int8_portable, mode)
                 : qgemm_kernels_agree(qgemm_amx_bf16,
                                       cpu_has(CPU_FEAT_BF16) ? bf16_avx512 : bf16_portable, mode);
        atomic_store_explicit(t, ok, memory_order_relaxed);
    }
    return ok;
#else
    (void)mode;
    return 0;
#endif
}

int qgemm_kernel(int mode)
{
    const int isa = cpu_isa();
    const int amx = isa == CPU_AVX512 && cpu_has(CPU_FEAT_BWVL) &&
                    cpu_has_amx(mode == QMODE_INT8 ? CPU_AMX_INT8 : CPU_AMX_BF16) &&
                    amx_trusted(mode);
    if (mode == QMODE_INT8)
        return amx ? QK_AMX_INT8
               : isa == CPU_AVX512 && cpu_has(CPU_FEAT_VNNI)                          ? QK_VNNI
               : isa >= CPU_AVX2 && cpu_has(CPU_FEAT_AVXVNNI)                         ? QK_AVXVNNI
               : isa >= CPU_AVX2                                                      ? QK_AVX2
#ifdef Q_X86
                                                                                      : QK_SSE2;
#else
                                                                                      : QK_PORTABLE;
#endif
    return amx ? QK_AMX_BF16
           : isa == CPU_AVX512 && cpu_has(CPU_FEAT_BF16)                          ? QK_BF16
           : isa >= CPU_AVX2                                                      ? QK_BF16_AVX2
                                                                                  : QK_PORTABLE;
}

qkernel_fn qgemm_kernel_fn(int mode)
{
#ifdef Q_X86
    static const qkernel_fn x86[] = {
        [QK_AVX2] = int8_avx2,           [QK_VNNI] = int8_vnni,
        [QK_BF16] = bf16_avx512,         [QK_BF16_AVX2] = bf16_avx2,
        [QK_AMX_INT8] = qgemm_amx_int8,  [QK_AMX_BF16] = qgemm_amx_bf16,
        [QK_AVXVNNI] = qgemm_avxvnni_int8, [QK_SSE2] = int8_sse2,
    };
    const int k = qgemm_kernel(mode);
    if (k != QK_PORTABLE)
        return x86[k];
#endif
    return qgemm_portable_fn(mode);
}

qkernel_fn qgemm_portable_fn(int mode)
{
    return mode == QMODE_INT8 ? int8_portable : bf16_portable;
}

const char *qgemm_kernel_name(int mode)
{
    static const char *const names[] = {"portable", "avx2",     "avx512-vnni", "avx512-bf16",
                                        "avx2-fma", "amx-int8", "amx-bf16",    "avx-vnni",
                                        "sse2"};
    return names[qgemm_kernel(mode)];
}

void qgemm_run(qkernel_fn kern, int M, int nops, const qop_t *ops, const real *bias, real *C,
               int ldc)
{
    int k, p;
    if (M <= 0)
        return;
    for (p = 0; p * QNR < ops[0].w->N; p++) {
        const int c0 = p * QNR, n = ops[0].w->N - c0 < QNR ? ops[0].w->N - c0 : QNR;
        for (k = 0; k < nops; k++) {
            const qmat_t *w = ops[k].w;
            qk_t o;
            o.w = w;
            o.act = ops[k].act;
            o.rb = ops[k].rb ? ops[k].rb : qmat_act_bytes(w);
            o.sa = ops[k].sa;
            o.panel = (const unsigned char *)w->w +
                      (size_t)c0 * w->Kp * (w->mode == QMODE_INT8 ? 1 : 2);
            o.sw = w->scale ? w->scale + c0 : NULL;
            o.wsum = w->wsum ? w->wsum + c0 : NULL;
            o.bias = k == nops - 1 && bias ? bias + c0 : NULL;
            o.C = C + c0;
            o.ldc = ldc;
            o.add = k > 0;
            kern(M, n, &o);
        }
    }
}

void qgemm(int M, int nops, const qop_t *ops, const real *bias, real *C, int ldc)
{
    qgemm_run(qgemm_kernel_fn(ops[0].w->mode), M, nops, ops, bias, C, ldc);
}
