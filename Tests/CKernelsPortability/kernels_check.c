// The engine's C kernels (Sources/CKernels) on fixed inputs, for comparing builds across architectures and flags
// (scripts/check-arm64-kernels.sh builds this for x86-64 with AVX2/FMA, x86-64 portable and arm64, runs the
// arm64 one under qemu and compares the outputs).
//
//   kernels_check            writes one line per output value: `name[i] kind value bound`, value as a C99 hex
//                            float (exact), kind `exact` (must match bit for bit) or `sum` (a reduction: may differ
//                            by at most `bound`), then checks flush-to-zero on this machine (exit 1 if it fails).
//   kernels_check --compare REFERENCE OTHER
//                            compares two such outputs; exit 1 on any mismatch.
//
// Why exact for everything but reductions: every kernel is built with -ffp-contract=off and without -ffast-math,
// so each float operation rounds once, as IEEE 754 says, on any architecture, and vectorising an element-wise
// loop does not change what is computed per element. Reductions (channel moments, batch-norm backward sums) are
// where another compiler or flag set may legitimately differ: reassociated or vectorised partial sums, or a
// fused multiply-add if contraction were allowed. Their bound is rigorous for any such order: each float partial
// sums at most RUN = 32 rows, so any evaluation order (with or without FMA) is within 32·u·Σ|terms| of the exact
// sum (u = 2⁻²⁴: 31 additions plus the rounding of each product), two of them within 64·u·Σ|terms| ≈ 3.8e-6 of
// Σ|terms| of each other; the double-precision folding of the partials adds ~2⁻⁵³ and is covered by a 2× margin.
#include "kernels.h"
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double SUM_BOUND = 2 * 64.0 / 16777216.0; // 2 × 64·u, u = 2⁻²⁴ (see above)

// --- deterministic inputs ----------------------------------------------------------------------------------------
static uint64_t state = 0x243F6A8885A308D3ull;
/// Uniform in [-2, 2) on a grid of 2⁻²²: exactly representable, the same on every machine.
static float rnd(void) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((int32_t)(state >> 40) - (1 << 23)) / (float)(1 << 22);
}
static float *fill(long n) {
    float *p = malloc((size_t)n * sizeof(float));
    for (long i = 0; i < n; i++) p[i] = rnd();
    return p;
}
static float *zeros(long n) { return calloc((size_t)n, sizeof(float)); }
static double *dzeros(long n) { return calloc((size_t)n, sizeof(double)); }

// --- output --------------------------------------------------------------------------------------------------------
static void put(const char *name, const float *v, long n) {
    for (long i = 0; i < n; i++) printf("%s[%ld] exact %a 0\n", name, i, (double)v[i]);
}
static void put_sum(const char *name, const double *v, const double *abs_terms, long n) {
    for (long i = 0; i < n; i++) printf("%s[%ld] sum %a %a\n", name, i, v[i], SUM_BOUND * abs_terms[i]);
}

// --- the kernels ---------------------------------------------------------------------------------------------------
enum { C = 37, SX = 41, ROWS = 75, CB = 48, HW = 25 }; // C: a vector body and a tail; ROWS: several RUNs

static void convolution_helpers(void) {
    const long H = 7, W = 6, K = 3, stride = 2, pad = 1, OH = (H + 2 * pad - K) / stride + 1,
               OW = (W + 2 * pad - K) / stride + 1, N = 2, M = N * OH * OW;
    for (int narrow = 0; narrow < 2; narrow++) { // C ≥ 16 (memcpy) and the stem's C < 16 (scalar copy)
        const long c = narrow ? 3 : C, sx = narrow ? 3 : SX, cols = K * K * c;
        float *x = fill(N * H * W * sx), *col = zeros(M * cols), *dx = fill(N * H * W * sx);
        abl_im2col(x, H, W, c, sx, K, K, stride, pad, OH, OW, 0, M, col);
        put(narrow ? "im2col.c3" : "im2col", col, M * cols);
        float *g = fill(M * cols);
        abl_col2im_add(g, H, W, c, sx, K, K, stride, pad, OH, OW, 0, M, 0, c, dx);
        put(narrow ? "col2im_add.c3" : "col2im_add", dx, N * H * W * sx);
        free(x); free(col); free(dx); free(g);
    }
}

static void batch_norm(void) {
    float *x = fill(ROWS * SX), *dy = fill(ROWS * SX), *scale = fill(C), *shift = fill(C), *mean = fill(C);
    float *a = fill(C), *b = fill(C), *k = fill(C);
    double *sum = dzeros(C), *sumsq = dzeros(C), *abs1 = dzeros(C), *abs2 = dzeros(C);
    abl_channel_moments(x, 0, ROWS, C, SX, x, sum, sumsq); // shifted by the first row, as the engine does
    for (long i = 0; i < ROWS; i++)
        for (long c = 0; c < C; c++) { const float v = x[i * SX + c] - x[c]; abs1[c] += fabs(v); abs2[c] += (double)v * v; }
    put_sum("channel_moments.sum", sum, abs1, C);
    put_sum("channel_moments.sumsq", sumsq, abs2, C);

    for (int relu = 0; relu < 2; relu++) {
        float *y = zeros(ROWS * SX), *yb = zeros(3 * HW * CB);
        abl_scale_shift(x, 0, ROWS, C, SX, scale, shift, relu, y, SX);
        put(relu ? "scale_shift.relu" : "scale_shift", y, ROWS * SX);
        float *xb = fill(3 * HW * CB), *sb = fill(CB), *hb = fill(CB);
        abl_scale_shift_blocked16(xb, 0, 3 * HW, CB, CB, sb, hb, relu, yb, HW);
        put(relu ? "scale_shift_blocked16.relu" : "scale_shift_blocked16", yb, 3 * HW * CB);

        double *sg = dzeros(C), *sgx = dzeros(C), *ag = dzeros(C), *agx = dzeros(C);
        abl_bn_backward_sums(x, SX, dy, SX, 0, ROWS, C, scale, shift, relu, mean, sg, sgx);
        for (long i = 0; i < ROWS; i++)
            for (long c = 0; c < C; c++) {
                const float p = x[i * SX + c], gv = (relu && p * scale[c] + shift[c] <= 0) ? 0 : dy[i * SX + c];
                const float d = p - mean[c];
                ag[c] += fabs(gv); agx[c] += fabs((double)gv * d);
            }
        put_sum(relu ? "bn_backward_sums.relu.g" : "bn_backward_sums.g", sg, ag, C);
        put_sum(relu ? "bn_backward_sums.relu.gx" : "bn_backward_sums.gx", sgx, agx, C);

        for (int acc = 0; acc < 2; acc++) {
            float *dx = fill(ROWS * SX);
            abl_bn_backward_dx(x, SX, dy, SX, 0, ROWS, C, scale, shift, relu, mean, a, b, k, acc, dx, SX);
            char name[64];
            snprintf(name, sizeof name, "bn_backward_dx.relu%d.acc%d", relu, acc);
            put(name, dx, ROWS * SX);
            free(dx);
        }

        // nChw16c gradients: x NHWC with CB channels, dy blocked.
        float *xn = fill(3 * HW * CB), *dyb = fill(3 * HW * CB), *sc = fill(CB), *sh = fill(CB), *mu = fill(CB);
        float *ab = fill(CB), *bb = fill(CB), *kb = fill(CB), *dxb = fill(3 * HW * CB);
        double *bg = dzeros(CB), *bgx = dzeros(CB), *abg = dzeros(CB), *abgx = dzeros(CB);
        abl_bn_backward_sums_blocked16(xn, CB, dyb, HW, 0, 3 * HW, CB, sc, sh, relu, mu, bg, bgx);
        for (long i = 0; i < 3 * HW; i++)
            for (long c = 0; c < CB; c++) {
                const float p = xn[i * CB + c];
                const float g = dyb[(i / HW) * CB * HW + (c / 16) * HW * 16 + (i % HW) * 16 + c % 16];
                const float gv = (relu && p * sc[c] + sh[c] <= 0) ? 0 : g, d = p - mu[c];
                abg[c] += fabs(gv); abgx[c] += fabs((double)gv * d);
            }
        put_sum(relu ? "bn_backward_sums_blocked16.relu.g" : "bn_backward_sums_blocked16.g", bg, abg, CB);
        put_sum(relu ? "bn_backward_sums_blocked16.relu.gx" : "bn_backward_sums_blocked16.gx", bgx, abgx, CB);
        abl_bn_backward_dx_blocked16(xn, CB, dyb, HW, 0, 3 * HW, CB, sc, sh, relu, mu, ab, bb, kb, relu, dxb, CB);
        put(relu ? "bn_backward_dx_blocked16.relu.acc" : "bn_backward_dx_blocked16", dxb, 3 * HW * CB);

        free(y); free(yb); free(xb); free(sb); free(hb); free(sg); free(sgx); free(ag); free(agx);
        free(xn); free(dyb); free(sc); free(sh); free(mu); free(ab); free(bb); free(kb); free(dxb);
        free(bg); free(bgx); free(abg); free(abgx);
    }
    free(x); free(dy); free(scale); free(shift); free(mean); free(a); free(b); free(k);
    free(sum); free(sumsq); free(abs1); free(abs2);
}

static void elementwise(void) {
    const long n = 1003;
    float *y = fill(n), *dy = fill(n), *dx = zeros(n);
    y[7] = NAN; y[8] = 0; y[9] = -0.0f; dy[10] = NAN; // ReLU backward: NaN and ±0 at the threshold
    abl_relu_backward(y, dy, dx, n);
    put("relu_backward", dx, n);
    abl_relu_mask(y, dy, n);
    put("relu_mask", dy, n);
    free(y); free(dy); free(dx);

    const long N = 3;
    for (int variant = 0; variant < 4; variant++) { // scale/shift or none × gate or none; rscale or identity
        float *x = fill(N * HW * SX), *res = fill(N * HW * SX), *scale = fill(C), *shift = fill(C);
        float *gate = fill(N * C), *rscale = fill(C), *rshift = fill(C), *out = zeros(N * HW * SX);
        x[3] = NAN; // NaN passes the ReLU, as torch.relu
        abl_residual_relu(x, SX, variant & 1 ? scale : NULL, shift, variant & 2 ? gate : NULL, HW, res, SX,
                          variant == 3 ? rscale : NULL, rshift, 0, N * HW, C, out, SX);
        char name[64];
        snprintf(name, sizeof name, "residual_relu.v%d", variant);
        put(name, out, N * HW * SX);
        free(x); free(res); free(scale); free(shift); free(gate); free(rscale); free(rshift); free(out);
    }
}

static void pooling(void) {
    const long N = 2, H = 7, W = 7, K = 3, stride = 2, pad = 1, OH = 4, OW = 4;
    float *x = fill(N * H * W * SX), *y = zeros(N * OH * OW * SX), *dy = fill(N * OH * OW * SX);
    float *dx = fill(N * H * W * SX);
    x[5] = NAN;                               // NaN counts as a maximum
    x[SX + 6] = x[6];                         // a tie: the first maximum in (kh, kw) order takes the gradient
    abl_maxpool_forward(x, H, W, C, SX, K, stride, pad, OH, OW, 0, N, y, SX);
    put("maxpool_forward", y, N * OH * OW * SX);
    abl_maxpool_backward(x, H, W, C, SX, K, stride, pad, OH, OW, 0, N, dy, SX, dx, SX);
    put("maxpool_backward", dx, N * H * W * SX);
    free(x); free(y); free(dy); free(dx);
}

// --- threads and flush-to-zero -------------------------------------------------------------------------------------
static long seen[8];
static void record(void *context, long thread, long threads) { (void)context; seen[thread] = threads; }

// Volatile so the compiler computes these at run time, under the thread's floating-point mode.
static volatile float tiny = 1e-20f, one = 1.0f, zero = 0.0f;
static volatile float subnormal = 1e-40f;
/// A float's bits: converting a subnormal float to double is itself an operation that DAZ (x86-64) and FZ
/// (arm64) flush, so results are kept as bits and decoded in integer arithmetic.
static uint32_t bits(float f) { uint32_t b; memcpy(&b, &f, sizeof b); return b; }
static double value(uint32_t b) {
    const int exponent = (int)((b >> 23) & 0xff);
    const uint32_t mantissa = b & 0x7fffff;
    const double magnitude = exponent ? ldexp((double)(mantissa | 0x800000), exponent - 150)
                                      : ldexp((double)mantissa, -149); // normal doubles: no flushing
    return (b >> 31) ? -magnitude : magnitude;
}
struct probe { uint32_t product[8], input[8]; };
static void probe(void *context, long thread, long threads) {
    (void)threads;
    struct probe *p = context;
    p->product[thread] = bits(tiny * tiny);          // 1e-40: subnormal result, flushed by FTZ (x86) / FZ (arm64)
    p->input[thread] = bits(subnormal * one + zero); // subnormal input, read as 0 by DAZ (x86) / FZ (arm64)
}

static int threads_and_denormals(void) {
    int failures = 0;
    abl_parallel(3, record, NULL);
    for (int t = 0; t < 3; t++) printf("parallel.threads[%d] exact %a 0\n", t, (double)seen[t]);

    struct probe before, after;
    memset(&before, 0, sizeof before); memset(&after, 0, sizeof after);
    abl_parallel(2, probe, &before);
    float kx = 1e-20f, ks = 1e-20f, kh = 0, ky = 0;
    abl_scale_shift(&kx, 0, 1, 1, 1, &ks, &kh, 0, &ky, 1);
    const uint32_t kernel_before = bits(ky);
    abl_flush_denormals(2);
    abl_parallel(2, probe, &after);
    abl_scale_shift(&kx, 0, 1, 1, 1, &ks, &kh, 0, &ky, 1);
    const uint32_t kernel_after = bits(ky);
    for (int t = 0; t < 2; t++) {
        printf("ftz.before.product[%d] exact %a 0\n", t, value(before.product[t]));
        printf("ftz.before.input[%d] exact %a 0\n", t, value(before.input[t]));
        printf("ftz.after.product[%d] exact %a 0\n", t, value(after.product[t]));
        printf("ftz.after.input[%d] exact %a 0\n", t, value(after.input[t]));
        // Before: IEEE gradual underflow keeps the subnormals; after: both flushed on every thread of the pool.
        if (before.product[t] == 0 || before.input[t] == 0) {
            fprintf(stderr, "kernels_check: thread %d flushed subnormals before abl_flush_denormals\n", t);
            failures++;
        }
        if (after.product[t] != 0 || after.input[t] != 0) {
            fprintf(stderr, "kernels_check: thread %d keeps subnormals after abl_flush_denormals (%a, %a)\n", t,
                    value(after.product[t]), value(after.input[t]));
            failures++;
        }
    }
    printf("ftz.kernel.before[0] exact %a 0\nftz.kernel.after[0] exact %a 0\n", value(kernel_before),
           value(kernel_after));
    if (kernel_before == 0 || kernel_after != 0) {
        fprintf(stderr, "kernels_check: abl_scale_shift 1e-20·1e-20 gave %a before and %a after flushing\n",
                value(kernel_before), value(kernel_after));
        failures++;
    }
    return failures;
}

// --- comparison ----------------------------------------------------------------------------------------------------
static int compare(const char *reference_path, const char *other_path) {
    FILE *ref = fopen(reference_path, "r"), *other = fopen(other_path, "r");
    if (!ref || !other) { fprintf(stderr, "kernels_check: cannot open %s or %s\n", reference_path, other_path); return 2; }
    char rn[128], rk[16], rv[64], rb[64], on[128], ok[16], ov[64], ob[64];
    long lines = 0, exact = 0, sums = 0, bitwise_sums = 0, mismatches = 0;
    double worst = 0; // largest |Δ| / bound among reductions
    for (;;) {
        const int a = fscanf(ref, "%127s %15s %63s %63s", rn, rk, rv, rb);
        const int b = fscanf(other, "%127s %15s %63s %63s", on, ok, ov, ob);
        if (a != 4 && b != 4) break;
        lines++;
        if (a != 4 || b != 4 || strcmp(rn, on) || strcmp(rk, ok)) {
            fprintf(stderr, "line %ld: %s vs %s: the outputs list different values\n", lines, a == 4 ? rn : "(end)",
                    b == 4 ? on : "(end)");
            return 1;
        }
        const double x = strtod(rv, NULL), y = strtod(ov, NULL), bound = strtod(rb, NULL);
        if (!strcmp(rk, "exact")) {
            exact++;
            // Bit for bit; a NaN must stay a NaN (its sign and payload are the hardware's: x86-64 and arm64 make
            // different default NaNs, and nothing in the engine reads them).
            const int same = (isnan(x) && isnan(y)) || (!isnan(x) && !isnan(y) && !memcmp(&x, &y, sizeof x));
            if (!same) {
                if (mismatches < 20) fprintf(stderr, "MISMATCH %s: %s (%.9g) vs %s (%.9g), must be equal\n", rn, rv, x, ov, y);
                mismatches++;
            }
        } else {
            sums++;
            const double delta = fabs(x - y);
            if (delta == 0) bitwise_sums++;
            if (bound > 0 && delta / bound > worst) worst = delta / bound;
            if (!(delta <= bound)) {
                if (mismatches < 20) fprintf(stderr, "MISMATCH %s: %.17g vs %.17g, |Δ| %.3g > bound %.3g\n", rn, x, y, delta, bound);
                mismatches++;
            }
        }
    }
    printf("%s vs %s: %ld values (%ld exact, %ld reductions of which %ld bit-identical, worst |Δ|/bound %.3g): %s\n",
           reference_path, other_path, lines, exact, sums, bitwise_sums, worst,
           mismatches ? "MISMATCH" : "match");
    if (lines == 0) { fprintf(stderr, "kernels_check: no values to compare\n"); return 1; }
    return mismatches ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--compare")) return compare(argv[2], argv[3]);
    if (argc != 1) { fprintf(stderr, "usage: kernels_check [--compare REFERENCE OTHER]\n"); return 2; }
    convolution_helpers();
    batch_norm();
    elementwise();
    pooling();
    const int failures = threads_and_denormals();
    fflush(stdout);
    return failures ? 1 : 0;
}
