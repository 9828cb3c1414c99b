// Which oneDNN the process uses, chosen once: Debian's 2.x where it has Winograd kernels for 3×3 convolutions
// (AVX-512), else 3.x, whose brgemm convolutions on AVX2 are about twice as fast as 2.x's direct ones there
// (benchmarks/RESULTS.md) and which has no Winograd at all. Every abl_* call goes to the chosen library.
#include "abl_dnnl.h"
#include "shim/abl_dnnl_library.h"
#include <abl_dnnl2.h>
#include <abl_dnnl3.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

void omp_set_num_threads(int);

/// oneDNN's `avx512_core` (AVX-512 F, DQ, BW, VL, with the registers enabled by the OS): where 2.x's Winograd runs.
static int has_avx512_core(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    unsigned xcr0, high;
    __asm__("xgetbv" : "=a"(xcr0), "=d"(high) : "c"(0));
    if ((xcr0 & 0xe6) != 0xe6) return 0;      // SSE, AVX, opmask and both halves of the ZMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    const unsigned need = bit_AVX512F | bit_AVX512DQ | bit_AVX512BW | bit_AVX512VL;
    return (b & need) == need;
#else
    return 0;
#endif
}

/// Whether oneDNN's own ISA cap (ONEDNN_MAX_CPU_ISA, else DNNL_MAX_CPU_ISA, as oneDNN reads them) keeps it below
/// AVX-512: both libraries would then run AVX2 (or older) kernels, where 3.x is the faster one.
static int capped_below_avx512(void) {
    const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
    if (!cap || !*cap) cap = getenv("DNNL_MAX_CPU_ISA");
    if (!cap || !*cap) return 0;
    return strncasecmp(cap, "SSE41", 5) == 0 || strcasecmp(cap, "AVX") == 0 || strncasecmp(cap, "AVX2", 4) == 0;
}

int abl_dnnl_preferred_major(void) {
    const char *forced = getenv("ABLATE_ONEDNN");
    if (forced && (strcmp(forced, "2") == 0 || strcmp(forced, "3") == 0)) return forced[0] - '0';
    return has_avx512_core() && !capped_below_avx512() ? 2 : 3;
}

static const struct abl_dnnl_library *chosen;
static pthread_once_t choice = PTHREAD_ONCE_INIT;

/// The preferred library, else the other one (a machine without the 3.x wheels runs 2.x everywhere).
static void choose(void) {
    int major = abl_dnnl_preferred_major();
    chosen = major == 3 ? abl_dnnl3_library() : abl_dnnl2_library();
    if (!chosen) chosen = major == 3 ? abl_dnnl2_library() : abl_dnnl3_library();
}

static const struct abl_dnnl_library *library(void) {
    pthread_once(&choice, choose);
    return chosen;
}

const char *abl_dnnl_version(void) { return library() ? library()->version : "none"; }

const char *abl_dnnl3_library_file(void) { return abl_dnnl3_file(); }

abl_conv *abl_conv_create(long n, long h, long w, long cin, long cout, long kernel, long stride, long padding,
                          int winograd) {
    return library() ? library()->conv_create(n, h, w, cin, cout, kernel, stride, padding, winograd) : NULL;
}

// A plan exists only where a library was loaded, so the calls below that take one need no check.
void abl_conv_destroy(abl_conv *conv) { if (conv) library()->conv_destroy(conv); }

int abl_conv_available(const abl_conv *conv, int direction) {
    return conv ? library()->conv_available(conv, direction) : 0;
}

const char *abl_conv_implementation(const abl_conv *conv, int direction) {
    return conv ? library()->conv_implementation(conv, direction) : "none";
}

int abl_conv_source_block(const abl_conv *conv) { return conv ? library()->conv_source_block(conv) : 0; }

int abl_conv_forward(abl_conv *conv, const float *x, const float *w_hwio, float *y, int x_blocked) {
    return conv ? library()->conv_forward(conv, x, w_hwio, y, x_blocked) : -1;
}

int abl_conv_backward_data(abl_conv *conv, const float *dy, const float *w_hwio, float *dx, int dx_blocked) {
    return conv ? library()->conv_backward_data(conv, dy, w_hwio, dx, dx_blocked) : -1;
}

int abl_conv_backward_weights(abl_conv *conv, const float *x, const float *dy, float *grad_hwio, int x_blocked) {
    return conv ? library()->conv_backward_weights(conv, x, dy, grad_hwio, x_blocked) : -1;
}

int abl_dnnl_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc) {
    const struct abl_dnnl_library *lib = library();
    if (!lib || !lib->sgemm) return -1;
    return lib->sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void abl_set_openmp_threads(int threads) { omp_set_num_threads(threads); }
