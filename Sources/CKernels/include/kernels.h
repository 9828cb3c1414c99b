// Hot element-wise kernels of the engine, plain C compiled with -O3 -ffp-contract=off, plus -mavx2 -mfma on
// x86-64 unless ABLATE_PORTABLE_KERNELS=1 (Package.swift): the compiler vectorises them for the machine. The
// only architecture-specific code is abl_flush_denormals (MXCSR on x86-64, FPCR on arm64).
//
// Layout: activations are NHWC; a "row" is one pixel's channels. Every kernel takes row strides (sx, sy, ...)
// in floats, so it can read or write a channel slice of a wider dense-block buffer. Each kernel processes a
// row range [r0, r1) so the Swift side can split rows over threads; reductions write per-call partials that
// the caller combines in a fixed order (bit-identical results for any thread count).
#pragma once
#include <stddef.h>

// --- convolution helpers -------------------------------------------------------------------------------
/// col[(m - m0), (kh*KW + kw)*C + c] = x[n, oh*s - p + kh, ow*s - p + kw, c] (0 outside), m = (n*OH + oh)*OW + ow.
void abl_im2col(const float *x, long H, long W, long C, long sx, long KH, long KW, long stride, long pad,
                long OH, long OW, long m0, long m1, float *col);
/// The adjoint of abl_im2col for channels [c0, c1): dx[n, ih, iw, c] += col[...]. Channel ranges never overlap
/// between threads, so no two threads write the same float.
void abl_col2im_add(const float *col, long H, long W, long C, long sdx, long KH, long KW, long stride, long pad,
                    long OH, long OW, long m0, long m1, long c0, long c1, float *dx);

// --- batch norm ------------------------------------------------------------------------------------------
/// sum[c] += Σ (x - shift[c]), sumsq[c] += Σ (x - shift[c])² over rows [r0, r1). Shifting by a sample of the
/// channel keeps E[x²] - E[x]² from cancelling catastrophically.
void abl_channel_moments(const float *x, long r0, long r1, long C, long sx, const float *shift,
                         double *sum, double *sumsq);
/// y = x * scale[c] + shift[c], optionally followed by ReLU.
void abl_scale_shift(const float *x, long r0, long r1, long C, long sx, const float *scale, const float *shift,
                     int relu, float *y, long sy);
/// As abl_scale_shift, writing y in the blocked layout nChw16c of oneDNN's Winograd kernels: row i = n·hw + p,
/// channel c goes to y[((n·C/16 + c/16)·hw + p)·16 + c%16]. C must be a multiple of 16.
void abl_scale_shift_blocked16(const float *x, long r0, long r1, long C, long sx, const float *scale,
                               const float *shift, int relu, float *y, long hw);
/// Backward sums of batch norm: with g = dy masked by (x*scale+shift > 0) when relu != 0,
/// sum_g[c] += Σ g, sum_gx[c] += Σ g * (x - mean[c]).
void abl_bn_backward_sums(const float *x, long sx, const float *dy, long sdy, long r0, long r1, long C,
                          const float *scale, const float *shift, int relu, const float *mean,
                          double *sum_g, double *sum_gx);
/// dx (=, or += when accumulate) a[c]*g + b[c] + k[c]*(x - mean[c]), with g as in abl_bn_backward_sums.
void abl_bn_backward_dx(const float *x, long sx, const float *dy, long sdy, long r0, long r1, long C,
                        const float *scale, const float *shift, int relu, const float *mean, const float *a,
                        const float *b, const float *k, int accumulate, float *dx, long sdx);

// --- small element-wise ------------------------------------------------------------------------------------
/// abl_bn_backward_sums / abl_bn_backward_dx with dy in nChw16c layout (images of `hw` pixels, C a multiple of
/// 16): the input gradient oneDNN's Winograd backward-data kernel writes without a reorder.
void abl_bn_backward_sums_blocked16(const float *x, long sx, const float *dy, long hw, long r0, long r1, long C,
                                    const float *scale, const float *shift, int relu, const float *mean,
                                    double *sum_g, double *sum_gx);
void abl_bn_backward_dx_blocked16(const float *x, long sx, const float *dy, long hw, long r0, long r1, long C,
                                  const float *scale, const float *shift, int relu, const float *mean,
                                  const float *a, const float *b, const float *k, int accumulate, float *dx,
                                  long sdx);
/// dx = dy where y > 0 else 0 (ReLU backward from its output), n contiguous floats.
void abl_relu_backward(const float *y, const float *dy, float *dx, long n);
/// g = 0 where y ≤ 0 (ReLU backward in place from its output). Its own kernel because abl_relu_backward with
/// dx == dy fails the compiler's overlap check and runs its scalar loop (2× slower on ResNet-50's gradients).
void abl_relu_mask(const float *y, float *g, long n);
/// The end of a residual block, y = ReLU(v + w) over rows [r0, r1), with v = x·scale[c] + shift[c] (x as is
/// when scale is NULL), then v·gate[n·C + c] when gate is given (SE; image n = row / hw), and w = res·rscale[c] +
/// rshift[c] (res as is when rscale is NULL: the identity shortcut). One pass instead of BN, scale, add, ReLU.
void abl_residual_relu(const float *x, long sx, const float *scale, const float *shift, const float *gate, long hw,
                       const float *res, long sres, const float *rscale, const float *rshift, long r0, long r1,
                       long C, float *y, long sy);

// --- pooling ------------------------------------------------------------------------------------------------
/// Max pooling with −∞ padding over images [n0, n1).
void abl_maxpool_forward(const float *x, long H, long W, long C, long sx, long K, long stride, long pad,
                         long OH, long OW, long n0, long n1, float *y, long sy);
/// Its backward over images [n0, n1): dx (overwritten) receives dy at the first maximum of each window.
void abl_maxpool_backward(const float *x, long H, long W, long C, long sx, long K, long stride, long pad,
                          long OH, long OW, long n0, long n1, const float *dy, long sdy, float *dx, long sdx);

// --- threads ------------------------------------------------------------------------------------------------
/// A unit of parallel work: called once on each of `threads` threads with its index.
typedef void (*abl_task)(void *context, long thread, long threads);
/// Runs `task` on `threads` threads of libgomp's pool (the pool OpenBLAS's OpenMP build runs its GEMMs on, so
/// element-wise kernels and GEMMs share two threads instead of fighting over the cores) and waits for all.
void abl_parallel(long threads, abl_task task, void *context);
/// Sets flush-to-zero and denormals-are-zero on the calling thread and on `threads` pool threads: subnormal
/// floats (|x| < 1.2e-38) would otherwise make every GEMM that touches them many times slower. x86-64: MXCSR
/// FTZ|DAZ; arm64: FPCR.FZ (which flushes inputs and results alike); elsewhere nothing (IEEE gradual underflow).
void abl_flush_denormals(long threads);
