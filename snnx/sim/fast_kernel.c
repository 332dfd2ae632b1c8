/* The fast simulator's compiled loops: im2col (at the end) and the CUBA recurrence
 * (snnx.sim.fast._Lif._run_float), one pass over time per
 * block of neurons (docs/design.md §6.5). Same arithmetic as the numpy path, operation for
 * operation, in float32 or float64; the caller (snnx/sim/kernel.py) uses it only where _Lif's
 * bounds prove every value an integer that the float type holds exactly, so the result is
 * Lava's integer step (snnx.loihi.cuba.cuba_step) bit for bit. Built with -ffp-contract=off
 * (no FMA: every product rounds as numpy's) and -fno-trapping-math (lets the selects vectorise).
 *
 *   x = trunc(u * cu) + a * 64;  u = wrap(x) (once, into (-2^23, 2^23]);
 *   v = trunc(v * cv) + u + bias; v = clip(v, +-(2^23 - 1));  s = v > vth;  v[s] = 0
 *
 * Layout: time-major. a [steps_a, W] (input of steps start .. start + steps_a - 1, zero after),
 * spikes [steps, W] (written for every step, zero before start), optional u, v [steps, W] int64.
 * W = samples x P neurons per sample; bias (optional, already << 6) has P entries. The neurons
 * are split over OpenMP threads in whole blocks; every neuron's arithmetic is the same whatever
 * the number of threads.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* x86-64's baseline (SSE2) has no vector trunc: build AVX-512 and AVX2 versions beside it, the
 * loader picks the one this CPU runs (GNU ifunc), so a cached build runs on any x86-64 machine.
 * On the per-block function: OpenMP's outlined loop body would not inherit a clone's target. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__ELF__)
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define CLONES
#endif

#define BLOCK 512
#define U_MAX 8388608.0 /* 2^23 */
#define V_MAX 8388607.0 /* 2^23 - 1 */

/* One step for n neurons: branch-free selects, so the loop vectorises (every flag is applied as
 * a select whose other side is the unchanged value: with wrap = clip = 0 the same numbers). */
#define LIF_STEP(T, A, TRUNC)                                                                      \
    static inline __attribute__((always_inline)) void step_##T##_##A(                            \
        const A *restrict at, const T *restrict bias, T *restrict u, T *restrict v,                \
        uint8_t *restrict st, int64_t n, T cu, T cv, T vth, T umax, T vmax) {                      \
        for (int64_t j = 0; j < n; j++) {                                                          \
            T x = TRUNC(u[j] * cu) + (T)at[j] * (T)64;                                             \
            T uj = x > umax ? x - (T)(2 * U_MAX) : x;                                              \
            uj = x <= -umax ? x + (T)(2 * U_MAX) : uj;                                             \
            u[j] = uj;                                                                             \
            T y = TRUNC(v[j] * cv) + uj + bias[j];                                                 \
            y = y > vmax ? vmax : y;                                                               \
            y = y < -vmax ? -vmax : y;                                                             \
            st[j] = (uint8_t)(y > vth);                                                            \
            v[j] = y > vth ? (T)0 : y;                                                             \
        }                                                                                          \
    }

#define LIF_KERNEL(NAME, T, A, TRUNC)                                                              \
    LIF_STEP(T, A, TRUNC)                                                                          \
    CLONES static void NAME##_block(const A *a, int64_t steps_a, int64_t W, int64_t i0, int64_t n,       \
                             const T *bias, int64_t start, int64_t steps, T cu, T cv, T vth,      \
                             int wrap, int clip, uint8_t *spikes, int64_t *us, int64_t *vs) {     \
        T u[BLOCK], v[BLOCK], b[BLOCK];                                                            \
        A zero[BLOCK];                                                                             \
        /* without wrap/clip the bounds are infinite: the selects keep every value */              \
        T umax = wrap ? (T)U_MAX : (T)INFINITY, vmax = clip ? (T)V_MAX : (T)INFINITY;              \
        memset(u, 0, sizeof(u));                                                                   \
        memset(v, 0, sizeof(v));                                                                   \
        memset(zero, 0, sizeof(zero));                                                             \
        for (int64_t j = 0; j < n; j++) b[j] = bias ? bias[j] : (T)0;                              \
        for (int64_t t = 0; t < start && t < steps; t++) {                                         \
            memset(spikes + t * W + i0, 0, (size_t)n);                                             \
            if (us) {                                                                              \
                memset(us + t * W + i0, 0, (size_t)n * sizeof(int64_t));                           \
                memset(vs + t * W + i0, 0, (size_t)n * sizeof(int64_t));                           \
            }                                                                                      \
        }                                                                                          \
        for (int64_t t = start; t < steps; t++) {                                                  \
            int64_t k = t - start;                                                                 \
            step_##T##_##A(k < steps_a ? a + k * W + i0 : zero, b, u, v, spikes + t * W + i0, n,  \
                           cu, cv, vth, umax, vmax);                                               \
            if (us)                                                                                \
                for (int64_t j = 0; j < n; j++) {                                                  \
                    us[t * W + i0 + j] = (int64_t)u[j];                                            \
                    vs[t * W + i0 + j] = (int64_t)v[j];                                            \
                }                                                                                  \
        }                                                                                          \
    }                                                                                              \
    void NAME(const A *a, int64_t steps_a, int64_t samples, int64_t P, const T *bias,      \
              int64_t start, int64_t steps, double cu, double cv, double vth, int wrap, int clip, \
              uint8_t *spikes, int64_t *us, int64_t *vs, int nthreads) {                          \
        int64_t per = (P + BLOCK - 1) / BLOCK, nb = samples * per, W = samples * P;               \
        (void)nthreads;                                                                            \
        _Pragma("omp parallel for schedule(static) num_threads(nthreads) if(nthreads > 1)")        \
        for (int64_t b = 0; b < nb; b++) {                                                         \
            int64_t smp = b / per, off = (b % per) * BLOCK;                                        \
            int64_t n = P - off < BLOCK ? P - off : BLOCK;                                         \
            NAME##_block(a, steps_a, W, smp * P + off, n, bias ? bias + off : 0, start, steps,    \
                         (T)cu, (T)cv, (T)vth, wrap, clip, spikes, us, vs);                        \
        }                                                                                          \
    }

typedef uint8_t u8;
LIF_KERNEL(lif_f32_f32, float, float, truncf)
LIF_KERNEL(lif_f32_u8, float, u8, truncf)
LIF_KERNEL(lif_f32_f64, float, double, truncf)
LIF_KERNEL(lif_f64_f32, double, float, trunc)
LIF_KERNEL(lif_f64_f64, double, double, trunc)
LIF_KERNEL(lif_f64_u8, double, u8, trunc)

int lif_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* im2col of binary channels-last maps for the exact int8 GEMM (snnx.sim.fast._Conv): x [M, H, W, C]
 * uint8 -> cols [M * Ho * Wo, kh * kw * C], column order (ky, kx, c), zero padding applied here
 * (no padded copy). numpy's strided copy of the same view moves C bytes per inner loop. */
void im2col_u8(const uint8_t *x, int64_t M, int64_t H, int64_t Wd, int64_t C, int64_t kh, int64_t kw,
               int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t Ho,
               int64_t Wo, uint8_t *cols, int nthreads) {
    int64_t K = kh * kw * C, rows = M * Ho;
    (void)nthreads;
#pragma omp parallel for schedule(static) num_threads(nthreads) if(nthreads > 1)
    for (int64_t r = 0; r < rows; r++) {
        int64_t m = r / Ho, yo = r % Ho;
        const uint8_t *xm = x + m * H * Wd * C;
        for (int64_t xo = 0; xo < Wo; xo++) {
            uint8_t *dst = cols + (r * Wo + xo) * K;
            for (int64_t ky = 0; ky < kh; ky++) {
                int64_t y = yo * sh - ph + ky * dh;
                if (y < 0 || y >= H) {
                    memset(dst, 0, (size_t)(kw * C));
                    dst += kw * C;
                    continue;
                }
                int64_t x0 = xo * sw - pw;
                if (dw == 1 && x0 >= 0 && x0 + kw <= Wd) {  /* kw pixels x C channels are contiguous */
                    memcpy(dst, xm + (y * Wd + x0) * C, (size_t)(kw * C));
                    dst += kw * C;
                    continue;
                }
                for (int64_t kx = 0; kx < kw; kx++, dst += C) {
                    int64_t xx = x0 + kx * dw;
                    if (xx < 0 || xx >= Wd)
                        memset(dst, 0, (size_t)C);
                    else
                        memcpy(dst, xm + (y * Wd + xx) * C, (size_t)C);
                }
            }
        }
    }
}
