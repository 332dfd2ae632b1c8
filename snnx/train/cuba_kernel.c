/* The CUBA LIF recurrence of snnx.train.neurons.CubaBPTT over all steps, one pass per block of
 * neurons (docs/design.md §4, §13). Built by snnx/train/kernel.py with -O3 -ffp-contract=off, so
 * every float32 operation rounds exactly as the torch ops it replaces (same order, no FMA): the
 * spikes equal the eager path's bit for bit, the gradients up to the surrogate's last bits.
 *
 * Layout: a state tensor of E elements per step, time-major ([T, E]). x has time stride xs
 * (E, or 0 for a current that is the same at every step); steps from n_in on get no input. The
 * caller splits [0, E) over threads. The backward pass recomputes the membranes of a block of
 * neurons (into ``work``, steps x BLOCK floats per thread) rather than storing them: one tensor
 * of [T, E] less to write and read.
 *
 * Threads: built with -fopenmp against torch's own OpenMP runtime (kernel.py), cuba_forward_omp /
 * cuba_backward_omp split [0, E) over ``nthreads`` of torch's intra-op threads, the ones that ran
 * (and may still be spinning after) the matmuls around these calls: one pool for the whole step
 * instead of a second set of threads competing with torch's for the same cores. Without OpenMP
 * the caller splits the range over its own threads. The split is whole blocks; every element's
 * arithmetic is the same whatever the number of threads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define BLOCK 512  /* keep in step with kernel.py BLOCK */

/* The forward recurrence of one block of n <= BLOCK elements starting at b0. Writes the spikes
 * (out, may be 0) and the pre-reset membrane (vp, row stride vstride; may be 0). */
static inline __attribute__((always_inline)) void run_block(const float *x, int64_t xs, int64_t n_in, const float *bias, float th,
                      float alpha, float beta, int64_t steps, int64_t hold, int64_t E, int64_t b0,
                      int64_t n, float *out, float *vp_out, int64_t vstride) {
    float iv[BLOCK], vv[BLOCK];
    memset(iv, 0, sizeof(iv));
    memset(vv, 0, sizeof(vv));
    if (out)
        for (int64_t t = 0; t < hold; t++) memset(out + t * E + b0, 0, n * sizeof(float));
    for (int64_t t = 0; t < steps; t++) {
        const float *xt = t < n_in ? x + t * xs + b0 : 0;
        float *vp_t = vp_out ? vp_out + t * vstride : 0;
        float *s_t = out ? out + (hold + t) * E + b0 : 0;
        for (int64_t k = 0; k < n; k++) {
            float xin = xt ? xt[k] : 0.0f;
            float i = alpha != 0.0f ? iv[k] * alpha + xin : xin;
            float vp = vv[k] * beta + i;
            vp = vp + bias[b0 + k];
            int s = vp > th;
            iv[k] = i;
            vv[k] = s ? 0.0f : vp;
            if (vp_t) vp_t[k] = vp;
            if (s_t) s_t[k] = s ? 1.0f : 0.0f;
        }
    }
}

__attribute__((target_clones("avx2", "default")))
void cuba_forward(const float *x, int64_t xs, int64_t n_in, const float *bias, float th,
                  float alpha, float beta, int64_t steps, int64_t hold, int64_t E,
                  int64_t e0, int64_t e1, float *out) {
    for (int64_t b0 = e0; b0 < e1; b0 += BLOCK) {
        int64_t n = e1 - b0 < BLOCK ? e1 - b0 : BLOCK;
        run_block(x, xs, n_in, bias, th, alpha, beta, steps, hold, E, b0, n, out, 0, 0);
    }
}

/* surrogate: 0 = snntorch atan(alpha=p): p / 2 / (1 + (pi / 2 * p * d)^2), computed as torch does
 * (reciprocal, then times p / 2, then times g); 1 = snntorch fast_sigmoid(slope=p): g / (p |d| + 1)^2. */
#define SURROGATE_GRAD(KIND, d, g) \
    ((KIND) == 0 ? (1.0f / (1.0f + (c * (d)) * (c * (d)))) * half * (g) \
                 : (g) / ((p * ((d) < 0 ? -(d) : (d)) + 1.0f) * (p * ((d) < 0 ? -(d) : (d)) + 1.0f)))

/* one step of the backward recursion over a block; KIND and STORE are constants at each use, so
 * every variant is a branch-free loop the compiler vectorises */
#define BACKWARD_STEP(KIND, STORE)                                        \
    for (int64_t k = 0; k < n; k++) {                                     \
        float vp = vp_t[k];                                               \
        float a = SURROGATE_GRAD(KIND, vp - th, gr_t[k]);                 \
        float keep = vp > th ? 0.0f : beta;                               \
        float g = a + keep * gv[k];                                       \
        float h = alpha != 0.0f ? g + alpha * hv[k] : g;                  \
        gv[k] = g;                                                        \
        hv[k] = h;                                                        \
        gs[k] += g;                                                       \
        as[k] += a;                                                       \
        if (STORE) gx_t[k] = h; else hs[k] += h;                          \
    }

/* BPTT: a_t = dL/ds_t * surrogate'(v_pre_t - th); G_t = a_t + beta (1 - s_t) G_{t+1};
 * H_t = G_t + alpha H_{t+1}; g_x[t] = H_t (or summed over t when gx_sum); gv_sum = sum_t G_t,
 * a_sum = sum_t a_t (per element; the caller reduces them to the bias and threshold shapes). */
__attribute__((target_clones("avx2", "default")))
void cuba_backward(const float *x, int64_t xs, int64_t n_in, const float *bias, const float *grad_s,
                   float th, float alpha, float beta, int kind, float p, float c, float half,
                   int64_t steps, int64_t E, int64_t e0, int64_t e1, float *g_x, int gx_sum,
                   float *gv_sum, float *a_sum, float *work) {
    float gv[BLOCK], hv[BLOCK], gs[BLOCK], as[BLOCK], hs[BLOCK];
    for (int64_t b0 = e0; b0 < e1; b0 += BLOCK) {
        int64_t n = e1 - b0 < BLOCK ? e1 - b0 : BLOCK;
        /* the membranes are recomputed (bit for bit the forward's) instead of stored */
        run_block(x, xs, n_in, bias, th, alpha, beta, steps, 0, E, b0, n, 0, work, BLOCK);
        memset(gv, 0, sizeof(gv));
        memset(hv, 0, sizeof(hv));
        memset(gs, 0, sizeof(gs));
        memset(as, 0, sizeof(as));
        memset(hs, 0, sizeof(hs));
        for (int64_t t = steps - 1; t >= 0; t--) {
            const float *vp_t = work + t * BLOCK;
            const float *gr_t = grad_s + t * E + b0;
            float *gx_t = g_x + t * E + b0;
            if (kind == 0 && gx_sum) BACKWARD_STEP(0, 0)
            else if (kind == 0) BACKWARD_STEP(0, 1)
            else if (gx_sum) BACKWARD_STEP(1, 0)
            else BACKWARD_STEP(1, 1)
        }
        memcpy(gv_sum + b0, gs, n * sizeof(float));
        memcpy(a_sum + b0, as, n * sizeof(float));
        if (gx_sum) memcpy(g_x + b0, hs, n * sizeof(float));
    }
}

int cuba_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

/* [e0, e1) of thread t of n: whole blocks, in order */
/* this OpenMP thread's whole blocks of the E neurons (all of them outside a parallel region) */
static void my_range(int64_t E, int64_t *e0, int64_t *e1) {
    int t = 0, n = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    n = omp_get_num_threads();
#endif
    int64_t blocks = (E + BLOCK - 1) / BLOCK;
    int64_t a = blocks * t / n, b = blocks * (t + 1) / n;
    *e0 = a * BLOCK < E ? a * BLOCK : E;
    *e1 = b * BLOCK < E ? b * BLOCK : E;
}

void cuba_forward_omp(const float *x, int64_t xs, int64_t n_in, const float *bias, float th, float alpha,
                      float beta, int64_t steps, int64_t hold, int64_t E, float *out, int nthreads) {
#pragma omp parallel num_threads(nthreads) if (nthreads > 1)
    {
        int64_t e0, e1;
        my_range(E, &e0, &e1);
        if (e1 > e0) cuba_forward(x, xs, n_in, bias, th, alpha, beta, steps, hold, E, e0, e1, out);
    }
}

/* returns 0, or -1 when a thread's work buffer could not be allocated (the caller raises) */
int cuba_backward_omp(const float *x, int64_t xs, int64_t n_in, const float *bias, const float *grad_s,
                      float th, float alpha, float beta, int kind, float p, float c, float half, int64_t steps,
                      int64_t E, float *g_x, int gx_sum, float *gv_sum, float *a_sum, int nthreads) {
    int failed = 0;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1) reduction(| : failed)
    {
        int64_t e0, e1;
        my_range(E, &e0, &e1);
        if (e1 > e0) {
            float *work = malloc((size_t)steps * BLOCK * sizeof(float));
            if (work) {
                cuba_backward(x, xs, n_in, bias, grad_s, th, alpha, beta, kind, p, c, half, steps, E, e0, e1, g_x,
                              gx_sum, gv_sum, a_sum, work);
                free(work);
            } else {
                failed = 1;
            }
        }
    }
    return failed ? -1 : 0;
}
