#include "kernels.h"
#include <string.h>

void abl_im2col(const float *x, long H, long W, long C, long sx, long KH, long KW, long stride, long pad,
                long OH, long OW, long m0, long m1, float *col) {
    const long K = KH * KW * C;
    for (long m = m0; m < m1; m++) {
        const long ow = m % OW, t = m / OW, oh = t % OH, n = t / OH;
        float *dst = col + (m - m0) * K;
        for (long kh = 0; kh < KH; kh++) {
            const long ih = oh * stride - pad + kh;
            for (long kw = 0; kw < KW; kw++) {
                const long iw = ow * stride - pad + kw;
                float *d = dst + (kh * KW + kw) * C;
                if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
                    memset(d, 0, (size_t)C * sizeof(float));
                } else if (C < 16) {
                    // The stem's 3 channels: a call to memcpy per 12 bytes costs more than the copy.
                    const float *src = x + ((n * H + ih) * W + iw) * sx;
                    for (long c = 0; c < C; c++) d[c] = src[c];
                } else {
                    memcpy(d, x + ((n * H + ih) * W + iw) * sx, (size_t)C * sizeof(float));
                }
            }
        }
    }
}

void abl_col2im_add(const float *col, long H, long W, long C, long sdx, long KH, long KW, long stride, long pad,
                    long OH, long OW, long m0, long m1, long c0, long c1, float *dx) {
    const long K = KH * KW * C;
    for (long m = m0; m < m1; m++) {
        const long ow = m % OW, t = m / OW, oh = t % OH, n = t / OH;
        const float *src = col + (m - m0) * K;
        for (long kh = 0; kh < KH; kh++) {
            const long ih = oh * stride - pad + kh;
            if (ih < 0 || ih >= H) continue;
            for (long kw = 0; kw < KW; kw++) {
                const long iw = ow * stride - pad + kw;
                if (iw < 0 || iw >= W) continue;
                const float *s = src + (kh * KW + kw) * C;
                float *d = dx + ((n * H + ih) * W + iw) * sdx;
                for (long c = c0; c < c1; c++) d[c] += s[c];
            }
        }
    }
}

// Rows are summed in float over short runs (vectorised), then folded into double accumulators.
#define RUN 32
void abl_channel_moments(const float *x, long r0, long r1, long C, long sx, const float *shift,
                         double *sum, double *sumsq) {
    float s[C], q[C];
    for (long r = r0; r < r1; r += RUN) {
        const long e = r + RUN < r1 ? r + RUN : r1;
        for (long c = 0; c < C; c++) { s[c] = 0; q[c] = 0; }
        for (long i = r; i < e; i++) {
            const float *p = x + i * sx;
            for (long c = 0; c < C; c++) { const float v = p[c] - shift[c]; s[c] += v; q[c] += v * v; }
        }
        for (long c = 0; c < C; c++) { sum[c] += s[c]; sumsq[c] += q[c]; }
    }
}

void abl_scale_shift(const float *x, long r0, long r1, long C, long sx, const float *scale, const float *shift,
                     int relu, float *y, long sy) {
    for (long i = r0; i < r1; i++) {
        const float *p = x + i * sx;
        float *o = y + i * sy;
        if (relu) {
            // `v < 0 ? 0 : v` lets NaN through, as torch.relu does (a diverged run must show NaN, not zeros).
            for (long c = 0; c < C; c++) { const float v = p[c] * scale[c] + shift[c]; o[c] = v < 0 ? 0 : v; }
        } else {
            for (long c = 0; c < C; c++) o[c] = p[c] * scale[c] + shift[c];
        }
    }
}

void abl_scale_shift_blocked16(const float *x, long r0, long r1, long C, long sx, const float *scale,
                               const float *shift, int relu, float *y, long hw) {
    const long blocks = C / 16;
    for (long i = r0; i < r1; i++) {
        const float *p = x + i * sx;
        const long n = i / hw, pixel = i % hw;
        for (long b = 0; b < blocks; b++) {
            float *o = y + ((n * blocks + b) * hw + pixel) * 16;
            const float *pb = p + b * 16, *sc = scale + b * 16, *sh = shift + b * 16;
            if (relu) {
                for (int c = 0; c < 16; c++) { const float v = pb[c] * sc[c] + sh[c]; o[c] = v < 0 ? 0 : v; }
            } else {
                for (int c = 0; c < 16; c++) o[c] = pb[c] * sc[c] + sh[c];
            }
        }
    }
}

void abl_bn_backward_sums(const float *x, long sx, const float *dy, long sdy, long r0, long r1, long C,
                          const float *scale, const float *shift, int relu, const float *mean,
                          double *sum_g, double *sum_gx) {
    float s[C], q[C];
    for (long r = r0; r < r1; r += RUN) {
        const long e = r + RUN < r1 ? r + RUN : r1;
        for (long c = 0; c < C; c++) { s[c] = 0; q[c] = 0; }
        for (long i = r; i < e; i++) {
            const float *p = x + i * sx, *g = dy + i * sdy;
            if (relu) {
                for (long c = 0; c < C; c++) {
                    const float gv = (p[c] * scale[c] + shift[c] <= 0) ? 0 : g[c];
                    s[c] += gv; q[c] += gv * (p[c] - mean[c]);
                }
            } else {
                for (long c = 0; c < C; c++) { s[c] += g[c]; q[c] += g[c] * (p[c] - mean[c]); }
            }
        }
        for (long c = 0; c < C; c++) { sum_g[c] += s[c]; sum_gx[c] += q[c]; }
    }
}

void abl_bn_backward_dx(const float *x, long sx, const float *dy, long sdy, long r0, long r1, long C,
                        const float *scale, const float *shift, int relu, const float *mean, const float *a,
                        const float *b, const float *k, int accumulate, float *dx, long sdx) {
    for (long i = r0; i < r1; i++) {
        const float *p = x + i * sx, *g = dy + i * sdy;
        float *o = dx + i * sdx;
        for (long c = 0; c < C; c++) {
            float gv = g[c];
            if (relu && p[c] * scale[c] + shift[c] <= 0) gv = 0;
            const float v = a[c] * gv + b[c] + k[c] * (p[c] - mean[c]);
            o[c] = accumulate ? o[c] + v : v;
        }
    }
}

/// Address of row i's first channel in an nChw16c map whose images have `hw` pixels and C channels.
static inline long blocked_row(long i, long C, long hw) { return (i / hw) * C * hw + (i % hw) * 16; }

void abl_bn_backward_sums_blocked16(const float *x, long sx, const float *dy, long hw, long r0, long r1, long C,
                                    const float *scale, const float *shift, int relu, const float *mean,
                                    double *sum_g, double *sum_gx) {
    float s[C], q[C];
    const long block_stride = hw * 16;
    for (long r = r0; r < r1; r += RUN) {
        const long e = r + RUN < r1 ? r + RUN : r1;
        for (long c = 0; c < C; c++) { s[c] = 0; q[c] = 0; }
        for (long i = r; i < e; i++) {
            const float *p = x + i * sx, *row = dy + blocked_row(i, C, hw);
            for (long b = 0; b < C; b += 16) {
                const float *g = row + (b / 16) * block_stride;
                for (long j = 0; j < 16; j++) {
                    const long c = b + j;
                    const float gv = (relu && p[c] * scale[c] + shift[c] <= 0) ? 0 : g[j];
                    s[c] += gv; q[c] += gv * (p[c] - mean[c]);
                }
            }
        }
        for (long c = 0; c < C; c++) { sum_g[c] += s[c]; sum_gx[c] += q[c]; }
    }
}

void abl_bn_backward_dx_blocked16(const float *x, long sx, const float *dy, long hw, long r0, long r1, long C,
                                  const float *scale, const float *shift, int relu, const float *mean,
                                  const float *a, const float *b, const float *k, int accumulate, float *dx,
                                  long sdx) {
    const long block_stride = hw * 16;
    for (long i = r0; i < r1; i++) {
        const float *p = x + i * sx, *row = dy + blocked_row(i, C, hw);
        float *o = dx + i * sdx;
        for (long base = 0; base < C; base += 16) {
            const float *g = row + (base / 16) * block_stride;
            for (long j = 0; j < 16; j++) {
                const long c = base + j;
                float gv = g[j];
                if (relu && p[c] * scale[c] + shift[c] <= 0) gv = 0;
                const float v = a[c] * gv + b[c] + k[c] * (p[c] - mean[c]);
                o[c] = accumulate ? o[c] + v : v;
            }
        }
    }
}

void abl_relu_backward(const float *y, const float *dy, float *dx, long n) {
    for (long i = 0; i < n; i++) dx[i] = y[i] <= 0 ? 0 : dy[i]; // threshold_backward: NaN passes
}

void abl_relu_mask(const float *y, float *g, long n) {
    for (long i = 0; i < n; i++) g[i] = y[i] <= 0 ? 0 : g[i];
}

void abl_residual_relu(const float *x, long sx, const float *scale, const float *shift, const float *gate, long hw,
                       const float *res, long sres, const float *rscale, const float *rshift, long r0, long r1,
                       long C, float *y, long sy) {
    for (long i = r0; i < r1; i++) {
        const float *p = x + i * sx, *q = res + i * sres;
        const float *g = gate ? gate + (i / hw) * C : 0;
        float *o = y + i * sy;
        for (long c = 0; c < C; c++) {
            float v = scale ? p[c] * scale[c] + shift[c] : p[c];
            if (g) v *= g[c];
            const float w = rscale ? q[c] * rscale[c] + rshift[c] : q[c];
            const float sum = v + w;
            o[c] = sum < 0 ? 0 : sum; // NaN passes, as torch.relu
        }
    }
}

void abl_maxpool_forward(const float *x, long H, long W, long C, long sx, long K, long stride, long pad,
                         long OH, long OW, long n0, long n1, float *y, long sy) {
    for (long n = n0; n < n1; n++)
        for (long oh = 0; oh < OH; oh++)
            for (long ow = 0; ow < OW; ow++) {
                float *out = y + ((n * OH + oh) * OW + ow) * sy;
                for (long c = 0; c < C; c++) out[c] = -__builtin_inff();
                for (long kh = 0; kh < K; kh++) {
                    const long ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (long kw = 0; kw < K; kw++) {
                        const long iw = ow * stride - pad + kw;
                        if (iw < 0 || iw >= W) continue;
                        const float *in = x + ((n * H + ih) * W + iw) * sx;
                        for (long c = 0; c < C; c++) {
                            const float v = in[c];
                            out[c] = (v > out[c] || v != v) ? v : out[c];
                        }
                    }
                }
            }
}

void abl_maxpool_backward(const float *x, long H, long W, long C, long sx, long K, long stride, long pad,
                          long OH, long OW, long n0, long n1, const float *dy, long sdy, float *dx, long sdx) {
    float best[C];
    long arg[C];
    for (long n = n0; n < n1; n++) {
        for (long r = 0; r < H * W; r++) memset(dx + (n * H * W + r) * sdx, 0, (size_t)C * sizeof(float));
        for (long oh = 0; oh < OH; oh++)
            for (long ow = 0; ow < OW; ow++) {
                for (long c = 0; c < C; c++) { best[c] = -__builtin_inff(); arg[c] = -1; }
                for (long kh = 0; kh < K; kh++) {
                    const long ih = oh * stride - pad + kh;
                    if (ih < 0 || ih >= H) continue;
                    for (long kw = 0; kw < K; kw++) {
                        const long iw = ow * stride - pad + kw;
                        if (iw < 0 || iw >= W) continue;
                        const long pix = (n * H + ih) * W + iw;
                        const float *in = x + pix * sx;
                        // The first maximum in (kh, kw) order wins, as in PyTorch (NaN counts as a maximum).
                        for (long c = 0; c < C; c++) {
                            const float v = in[c];
                            const int take = arg[c] < 0 || v > best[c] || v != v;
                            best[c] = take ? v : best[c];
                            arg[c] = take ? pix : arg[c];
                        }
                    }
                }
                const float *g = dy + ((n * OH + oh) * OW + ow) * sdy;
                for (long c = 0; c < C; c++) if (arg[c] >= 0) dx[arg[c] * sdx + c] += g[c];
            }
    }
}

// libgomp's entry points, as GCC's `#pragma omp parallel` calls them (clang here is built without OpenMP
// headers, and the pool must be libgomp's because OpenBLAS's OpenMP build uses it).
extern void GOMP_parallel(void (*fn)(void *), void *data, unsigned num_threads, unsigned flags);
extern int omp_get_thread_num(void);

struct abl_job { abl_task task; void *context; long threads; };

static void abl_trampoline(void *p) {
    const struct abl_job *job = p;
    job->task(job->context, omp_get_thread_num(), job->threads);
}

void abl_parallel(long threads, abl_task task, void *context) {
    struct abl_job job = { task, context, threads };
    GOMP_parallel(abl_trampoline, &job, (unsigned)threads, 0);
}

// Flush-to-zero, per architecture. Each path sets the calling thread's floating-point control register.
#if defined(__x86_64__)
#include <xmmintrin.h>
static void abl_set_ftz(void *unused, long thread, long threads) {
    (void)unused; (void)thread; (void)threads;
    _mm_setcsr(_mm_getcsr() | 0x8040); // MXCSR: FTZ (bit 15) and DAZ (bit 6)
}
#elif defined(__aarch64__)
static void abl_set_ftz(void *unused, long thread, long threads) {
    (void)unused; (void)thread; (void)threads;
    // FPCR.FZ (bit 24): subnormal inputs and results of single- and double-precision arithmetic, scalar and
    // NEON, become zero: FTZ and DAZ together, as the x86-64 path sets them.
    unsigned long fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr |= 1UL << 24;
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
}
#else
// Other architectures keep IEEE gradual underflow: the same results up to subnormals, only slower on them.
static void abl_set_ftz(void *unused, long thread, long threads) { (void)unused; (void)thread; (void)threads; }
#endif

void abl_flush_denormals(long threads) {
    abl_set_ftz(0, 0, 1);
    abl_parallel(threads, abl_set_ftz, 0);
}
