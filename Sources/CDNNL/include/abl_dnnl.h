// oneDNN (OpenMP builds) behind a small C interface: direct convolutions on dense NHWC tensors with HWIO weights,
// and oneDNN's row-major sgemm. The Swift engine keeps the OpenBLAS/im2col path as its reference; this one is the
// fast path, checked against it in the tests.
//
// Two oneDNN versions, one loaded per process (dispatch.c, on first use):
//   - Debian's 2.x (libdnnl.so.2) on AVX-512 machines, for its Winograd kernels;
//   - 3.x (libdnnl.so.3 from the PyPI wheels scripts/deps.sh unpacks) elsewhere, e.g. AVX2-only x86-64, or when
//     oneDNN's own cap ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA is below AVX-512;
//   - ABLATE_ONEDNN=2 or 3 overrides that choice (to compare both on one machine);
//   - when the preferred one cannot be loaded, the other; with neither, plans are NULL and sgemm declines.
#ifndef ABL_DNNL_H
#define ABL_DNNL_H
#include <stddef.h>

typedef struct abl_conv abl_conv;

enum { ABL_CONV_FORWARD = 0, ABL_CONV_BACKWARD_DATA = 1, ABL_CONV_BACKWARD_WEIGHTS = 2 };

/// Plans a convolution x [n, h, w, cin] (dense NHWC) → y [n, oh, ow, cout] (dense NHWC), square kernel,
/// symmetric padding. With `winograd`, each direction uses oneDNN's Winograd F(4×4, 3×3) kernels where they
/// exist (AVX-512, 3×3 stride 1, channels in multiples of 16), else direct ones. NULL when oneDNN fails outright.
abl_conv *abl_conv_create(long n, long h, long w, long cin, long cout, long kernel, long stride, long padding,
                          int winograd);
void abl_conv_destroy(abl_conv *conv);

/// Whether `direction` runs on an optimised (non-reference) oneDNN implementation, and its name.
int abl_conv_available(const abl_conv *conv, int direction);
const char *abl_conv_implementation(const abl_conv *conv, int direction);

/// 16 when the forward and backward-weights kernels read x, and the backward-data kernel writes dx, in oneDNN's
/// nChw16c layout (Winograd): the engine can then produce and consume that layout itself (`x_blocked`,
/// `dx_blocked`) and save oneDNN a reorder of the whole input per call. Else 0.
/// nChw16c: element (n, c, h, w) at ((n·C/16 + c/16)·H·W + h·W + w)·16 + c%16.
int abl_conv_source_block(const abl_conv *conv);

/// y = conv(x, W). `w_hwio` is [KH, KW, Cin, Cout]; x is NHWC, or nChw16c when `x_blocked`. Returns 0 on success.
int abl_conv_forward(abl_conv *conv, const float *x, const float *w_hwio, float *y, int x_blocked);
/// dx = ∂L/∂x (overwritten), NHWC or, with `dx_blocked`, nChw16c.
int abl_conv_backward_data(abl_conv *conv, const float *dy, const float *w_hwio, float *dx, int dx_blocked);
/// grad_hwio += ∂L/∂W (x laid out as for abl_conv_forward).
int abl_conv_backward_weights(abl_conv *conv, const float *x, const float *dy, float *grad_hwio, int x_blocked);

/// Row-major C = alpha op(A) op(B) + beta C (dnnl_sgemm). Returns 0 on success, nonzero (nothing written) where
/// the loaded oneDNN's sgemm is not the faster choice or failed: the caller then uses OpenBLAS.
int abl_dnnl_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc);

/// The loaded oneDNN, e.g. "3.2.0 (libdnnl.so.3)", or "none" when neither version could be loaded.
const char *abl_dnnl_version(void);
/// The major version the policy above asks for here (2 or 3), before any fallback to the other.
int abl_dnnl_preferred_major(void);
/// The oneDNN 3.x library file ablate would load, or NULL when it was built without the 3.x headers.
const char *abl_dnnl3_library_file(void);

/// Threads for oneDNN (and every OpenMP region that does not name its own count).
void abl_set_openmp_threads(int threads);
#endif
