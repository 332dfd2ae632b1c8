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

__attribute__((target_clones("avx512f", "avx2", "default")))
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
        if (STORE) gx_t[k] = h; else if (t < n_sum) hs[k] += h;           \
    }

/* BPTT: a_t = dL/ds_t * surrogate'(v_pre_t - th); G_t = a_t + beta (1 - s_t) G_{t+1};
 * H_t = G_t + alpha H_{t+1}; g_x[t] = H_t (or, when gx_sum, its sum over the n_sum first steps, the
 * ones a repeated input reaches); gv_sum = sum_t G_t,
 * a_sum = sum_t a_t (per element; the caller reduces them to the bias and threshold shapes). */
__attribute__((target_clones("avx512f", "avx2", "default")))
void cuba_backward(const float *x, int64_t xs, int64_t n_in, const float *bias, const float *grad_s,
                   float th, float alpha, float beta, int kind, float p, float c, float half,
                   int64_t steps, int64_t E, int64_t e0, int64_t e1, float *g_x, int gx_sum, int64_t n_sum,
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

/* ---- A layer and the small dense synapse it feeds (docs/design.md §13) ----------------------
 * The layer's state is [B, N] per step (sample b's neuron n at element b N + n); its spikes feed a
 * dense synapse w [M, N] (a readout of M << N outputs), whose current c[t] = w s_t (t < steps_c)
 * is formed here from the spikes while they are in registers, instead of by a matmul over a
 * stored [T, B, N] spike tensor; backward forms dL/ds_t = g_s[t] + w^T g_c[t] per element the
 * same way and accumulates dL/dw = sum_t g_c[t] s_t^T. The unit of work is a group of LANES
 * neurons of one sample carried through all steps, its state in vector registers (GCC/clang
 * vector extensions: IEEE float32 per lane, so each element's arithmetic is run_block's and
 * BACKWARD_STEP's, operation for operation). Fixed orders, whatever the split over threads:
 * c[t, b, m] is summed in LANES partial sums (lane j: the neurons n = j mod LANES, ascending),
 * then the lanes in order; each element's dL/ds adds g_s, then m ascending; dL/dw[m, n] sums
 * over b ascending, t descending. Forward splits the samples over threads, backward the neurons.
 */
#define LANES 16
typedef float vf __attribute__((vector_size(LANES * 4)));
typedef int32_t vi __attribute__((vector_size(LANES * 4)));
typedef vf vf_buf __attribute__((aligned(4)));  /* a vector in a caller's buffer: any float alignment */
/* Written as macros on vector-scalar expressions: the compiler broadcasts a scalar operand in one
 * instruction of the clone's own ISA (helper functions returning vectors were lowered element by
 * element). A scalar operand is converted exactly, so each lane computes what run_block does. */
#define ONE_BITS 0x3f800000                                     /* 1.0f */
#define VSELECT0(mask, a) ((vf)(~(mask) & (vi)(a)))             /* mask ? 0 : a */
#define VSPIKE(mask) ((vf)((mask) & ONE_BITS))                  /* mask ? 1 : 0 */

/* whether any lane of a mask is set. Adding w * 0 (+-0) to a partial sum that starts at +0 leaves
 * it unchanged (it is never -0), so a step without a spike in the group may skip its products:
 * the same bits. */
static inline __attribute__((always_inline)) int any_lane(vi mask) {
    uint64_t q[LANES / 2], any = 0;
    memcpy(q, &mask, sizeof(q));
    for (int j = 0; j < LANES / 2; j++) any |= q[j];
    return any != 0;
}

/* LANES floats from p, of which the first n are valid (the rest read as 0) */
#define VLOAD(dst, p, n)                                        \
    do {                                                        \
        if ((n) == LANES) memcpy(&(dst), (p), sizeof(vf));      \
        else {                                                  \
            float tmp_[LANES] = {0};                            \
            memcpy(tmp_, (p), (n) * sizeof(float));             \
            memcpy(&(dst), tmp_, sizeof(vf));                   \
        }                                                       \
    } while (0)
#define VSTORE(p, v, n)                                         \
    do {                                                        \
        vf val_ = (v);                                          \
        memcpy((p), &val_, (n) * sizeof(float));                \
    } while (0)

/* one forward step of a group, run_block's operations: updates i, v; vp the pre-reset membrane */
/* a group's input current at step t: none after n_in, the one repeated current (xs == 0), or row t */
#define STEP_INPUT(xin, t)                                                                         \
    do {                                                                                           \
        if ((t) >= n_in) xin = zero;                                                               \
        else if (xs == 0) xin = x0;                                                                \
        else VLOAD(xin, x + (t) * xs + e0, n);                                                     \
    } while (0)

#define GROUP_STEP(i, v, xin, vb, vp, spiked)                   \
    do {                                                        \
        vf cur_ = alpha != 0.0f ? (i) * alpha + (xin) : (xin);  \
        vp = (v) * beta + cur_;                                 \
        vp = vp + (vb);                                         \
        spiked = vp > th;                                       \
        (i) = cur_;                                             \
        (v) = VSELECT0(spiked, vp);                             \
    } while (0)

/* samples [s0, s1): spikes into out ([hold + steps, B, N], may be 0) and c ([steps_c, B, M]);
 * acc: steps_c * M * LANES floats */
__attribute__((target_clones("avx512f", "avx2", "default")))
void cuba_dense_forward(const float *x, int64_t xs, int64_t n_in, const float *bias, float th, float alpha,
                        float beta, int64_t steps, int64_t hold, int64_t B, int64_t N, float *out,
                        const float *w, int64_t M, int64_t steps_c, float *c, int64_t s0, int64_t s1,
                        float *acc) {
    int64_t E = B * N;
    vf_buf *va = (vf_buf *)acc;
    const vf zero = {0};
    for (int64_t b = s0; b < s1; b++) {
        for (int64_t k = 0; k < steps_c * M; k++) va[k] = zero;
        if (out)
            for (int64_t t = 0; t < hold; t++) memset(out + t * E + b * N, 0, N * sizeof(float));
        for (int64_t k0 = 0; k0 < N; k0 += LANES) {
            int64_t n = N - k0 < LANES ? N - k0 : LANES, e0 = b * N + k0;
            vf i = zero, v = zero, vb, x0 = zero, xin, vp, wm;
            vi spiked;
            VLOAD(vb, bias + e0, n);
            if (xs == 0) VLOAD(x0, x + e0, n);
            for (int64_t t = 0; t < steps; t++) {
                STEP_INPUT(xin, t);
                GROUP_STEP(i, v, xin, vb, vp, spiked);
                vf s = VSPIKE(spiked);
                if (out) VSTORE(out + (hold + t) * E + e0, s, n);
                if (t < steps_c && any_lane(spiked)) {
                    vf_buf *at = va + t * M;
                    for (int64_t m = 0; m < M; m++) {
                        VLOAD(wm, w + m * N + k0, n);
                        at[m] += wm * s;
                    }
                }
            }
        }
        for (int64_t t = 0; t < steps_c; t++)
            for (int64_t m = 0; m < M; m++) {
                vf a = va[t * M + m];
                float sum = a[0];
                for (int j = 1; j < LANES; j++) sum += a[j];
                c[(t * B + b) * M + m] = sum;
            }
    }
}

/* neurons [n0, n1) (n0 a multiple of LANES) of every sample: the layer's BPTT (cuba_backward's)
 * with dL/ds_t = g_s[t] (may be 0) + w^T g_c[t], and g_w[:, n0:n1] = sum_{b, t} g_c[t, b] s_t[b]^T.
 * work: (steps + 2 M) * LANES floats. */
__attribute__((target_clones("avx512f", "avx2", "default")))
void cuba_dense_backward(const float *x, int64_t xs, int64_t n_in, const float *bias, const float *grad_s,
                         float th, float alpha, float beta, int kind, float p, float c, float half, int64_t steps,
                         int64_t B, int64_t N, const float *w, int64_t M, int64_t steps_c, const float *g_c,
                         float *g_x, int gx_sum, int64_t n_sum, float *gv_sum, float *a_sum, float *g_w,
                         int64_t n0, int64_t n1, float *work) {
    int64_t E = B * N;
    vf_buf *vps = (vf_buf *)work, *gw = vps + steps, *wv = gw + M;
    const vf zero = {0};
    int32_t beta_bits;
    memcpy(&beta_bits, &beta, sizeof(beta_bits));
    for (int64_t k0 = n0; k0 < n1; k0 += LANES) {
        int64_t n = n1 - k0 < LANES ? n1 - k0 : LANES;
        for (int64_t m = 0; m < M; m++) {
            vf wm;
            VLOAD(wm, w + m * N + k0, n);
            gw[m] = zero;
            wv[m] = wm;
        }
        for (int64_t b = 0; b < B; b++) {
            int64_t e0 = b * N + k0;
            /* the membranes, recomputed (bit for bit the forward's) */
            vf i = zero, v = zero, vb, x0 = zero, xin, vp;
            vi spiked;
            VLOAD(vb, bias + e0, n);
            if (xs == 0) VLOAD(x0, x + e0, n);
            for (int64_t t = 0; t < steps; t++) {
                STEP_INPUT(xin, t);
                GROUP_STEP(i, v, xin, vb, vp, spiked);
                vps[t] = vp;
            }
            vf gv = zero, hv = zero, gs = zero, as = zero, hs = zero;
            for (int64_t t = steps - 1; t >= 0; t--) {
                vf gr = zero, a;
                vp = vps[t];
                if (grad_s) VLOAD(gr, grad_s + t * E + e0, n);
                const float *gct = t < steps_c ? g_c + (t * B + b) * M : 0;
                if (gct)
                    for (int64_t m = 0; m < M; m++) gr += gct[m] * wv[m];
                vf d = vp - th;
                if (kind == 0) {  /* SURROGATE_GRAD's operations */
                    vf cd = c * d;
                    a = (1.0f / (1.0f + cd * cd)) * half * gr;
                } else {
                    vf ad = (vf)((vi)d & 0x7fffffff), q = p * ad + 1.0f;
                    a = gr / (q * q);
                }
                spiked = vp > th;
                vf keep = (vf)(~spiked & beta_bits);  /* vp > th ? 0 : beta */
                vf g = a + keep * gv;
                vf h = alpha != 0.0f ? g + alpha * hv : g;
                gv = g;
                hv = h;
                gs += g;
                as += a;
                if (!gx_sum) VSTORE(g_x + t * E + e0, h, n);
                else if (t < n_sum) hs += h;
                if (gct) {  /* no any_lane() skip here: measured slower (the branch mispredicts) */
                    vf s = VSPIKE(spiked);
                    for (int64_t m = 0; m < M; m++) gw[m] += s * gct[m];
                }
            }
            VSTORE(gv_sum + e0, gs, n);
            VSTORE(a_sum + e0, as, n);
            if (gx_sum) VSTORE(g_x + e0, hs, n);
        }
        for (int64_t m = 0; m < M; m++) VSTORE(g_w + m * N + k0, gw[m], n);
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
                      int64_t E, float *g_x, int gx_sum, int64_t n_sum, float *gv_sum, float *a_sum,
                      int nthreads) {
    int failed = 0;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1) reduction(| : failed)
    {
        int64_t e0, e1;
        my_range(E, &e0, &e1);
        if (e1 > e0) {
            float *work = malloc((size_t)steps * BLOCK * sizeof(float));
            if (work) {
                cuba_backward(x, xs, n_in, bias, grad_s, th, alpha, beta, kind, p, c, half, steps, E, e0, e1, g_x,
                              gx_sum, n_sum, gv_sum, a_sum, work);
                free(work);
            } else {
                failed = 1;
            }
        }
    }
    return failed ? -1 : 0;
}

/* forward: this thread's share of the B samples */
int cuba_dense_forward_omp(const float *x, int64_t xs, int64_t n_in, const float *bias, float th, float alpha,
                           float beta, int64_t steps, int64_t hold, int64_t B, int64_t N, float *out,
                           const float *w, int64_t M, int64_t steps_c, float *c, int nthreads) {
    int failed = 0;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1) reduction(| : failed)
    {
        int t = 0, n = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        n = omp_get_num_threads();
#endif
        int64_t s0 = B * t / n, s1 = B * (t + 1) / n;
        float *acc = malloc((size_t)(steps_c > 0 ? steps_c : 1) * M * LANES * sizeof(float));
        if (acc) {
            if (s1 > s0) cuba_dense_forward(x, xs, n_in, bias, th, alpha, beta, steps, hold, B, N, out, w, M,
                                            steps_c, c, s0, s1, acc);
            free(acc);
        } else {
            failed = 1;
        }
    }
    return failed ? -1 : 0;
}

/* backward: this thread's share of the N neurons, in whole LANES */
int cuba_dense_backward_omp(const float *x, int64_t xs, int64_t n_in, const float *bias, const float *grad_s,
                            float th, float alpha, float beta, int kind, float p, float c, float half,
                            int64_t steps, int64_t B, int64_t N, const float *w, int64_t M, int64_t steps_c,
                            const float *g_c, float *g_x, int gx_sum, int64_t n_sum, float *gv_sum,
                            float *a_sum, float *g_w, int nthreads) {
    int failed = 0;
#pragma omp parallel num_threads(nthreads) if (nthreads > 1) reduction(| : failed)
    {
        int t = 0, n = 1;
#ifdef _OPENMP
        t = omp_get_thread_num();
        n = omp_get_num_threads();
#endif
        int64_t lanes = (N + LANES - 1) / LANES;
        int64_t a = lanes * t / n * LANES, b = lanes * (t + 1) / n * LANES;
        int64_t n0 = a < N ? a : N, n1 = b < N ? b : N;
        if (n1 > n0) {
            float *work = malloc((size_t)(steps + 2 * M) * LANES * sizeof(float));
            if (work) {
                cuba_dense_backward(x, xs, n_in, bias, grad_s, th, alpha, beta, kind, p, c, half, steps, B, N, w,
                                    M, steps_c, g_c, g_x, gx_sum, n_sum, gv_sum, a_sum, g_w, n0, n1, work);
                free(work);
            } else {
                failed = 1;
            }
        }
    }
    return failed ? -1 : 0;
}
