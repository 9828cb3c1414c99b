// dnnl_sgemm (from the libdnnl named by argv[1], dlopened) against OpenBLAS's cblas_sgemm on DenseNet-121's 1x1
// GEMM shapes, row-major: forward (NN), weight gradient (TN, beta 1) and input gradient (NT). "whole": one call on
// the OpenMP threads. "chunked": rows split into chunks, each sgemm single-threaded inside an OpenMP parallel loop,
// as the engine's fused BN-ReLU-1x1 path does (1024 rows for K <= 256, 256 for K = 1024). Best of 6 runs each.
//
//   M=/usr/lib/x86_64-linux-gnu/openblas-openmp
//   gcc -O2 -fopenmp benchmarks/sgemm_onednn_openblas.c -I/usr/include/x86_64-linux-gnu/openblas-openmp
//       -L$M -Wl,-rpath,$M -lopenblas -ldl -o /tmp/sgemm_bench       (one line)
//   OMP_NUM_THREADS=2 /tmp/sgemm_bench libdnnl.so.2; OMP_NUM_THREADS=2 /tmp/sgemm_bench .deps/onednn-3.2/lib/libdnnl.so.3
#include <cblas.h>
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
typedef int (*sgemm_t)(char, char, long, long, long, float, const float *, long, const float *, long, float, float *, long);
static sgemm_t dsgemm;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static void gemm(int lib, int ta, int tb, long m, long n, long k, const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc) {
    if (lib) dsgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
    else cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, lda, b, ldb, beta, c, ldc);
}
// op 0: Y[M,N] = X[M,K] W[K,N]; op 1: dW[K,N] += X^T dY; op 2: dX[M,K] = dY[M,N] W^T
static void run(int lib, int op, long M, long K, long N, long chunk, float *x, float *w, float *y, float *part) {
    if (!chunk) {
        if (op == 0) gemm(lib, 0, 0, M, N, K, x, K, w, N, 0, y, N);
        else if (op == 1) gemm(lib, 1, 0, K, N, M, x, K, y, N, 1, w, N);
        else gemm(lib, 0, 1, M, K, N, y, N, w, N, 0, x, K);
        return;
    }
    long chunks = (M + chunk - 1) / chunk;
    #pragma omp parallel for schedule(dynamic)
    for (long i = 0; i < chunks; i++) {
        long r0 = i * chunk, r = (M - r0 < chunk ? M - r0 : chunk);
        if (op == 0) gemm(lib, 0, 0, r, N, K, x + r0 * K, K, w, N, 0, y + r0 * N, N);
        else if (op == 1) gemm(lib, 1, 0, K, N, r, x + r0 * K, K, y + r0 * N, N, 1, part + omp_get_thread_num() * K * N, N);
        else gemm(lib, 0, 1, r, K, N, y + r0 * N, N, w, N, 0, x + r0 * K, K);
    }
}
int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: %s LIBDNNL\n", argv[0]); return 2; }
    void *h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!h) { fprintf(stderr, "%s\n", dlerror()); return 1; }
    dsgemm = (sgemm_t)dlsym(h, "dnnl_sgemm");
    if (!dsgemm) { fprintf(stderr, "no dnnl_sgemm in %s\n", argv[1]); return 1; }
    long shapes[][3] = {{32 * 56 * 56, 64, 128}, {32 * 56 * 56, 256, 128}, {32 * 7 * 7, 1024, 128}};
    const char *ops[] = {"fwd NN", "dW  TN", "dX  NT"};
    for (int s = 0; s < 3; s++) {
        long M = shapes[s][0], K = shapes[s][1], N = shapes[s][2];
        float *x = malloc(M * K * 4), *w = malloc(K * N * 4), *y = malloc(M * N * 4), *part = calloc(2 * K * N, 4);
        for (long i = 0; i < M * K; i++) x[i] = (i % 7) * 0.1f;
        for (long i = 0; i < K * N; i++) w[i] = (i % 5) * 0.1f;
        for (long i = 0; i < M * N; i++) y[i] = (i % 3) * 0.1f;
        for (int op = 0; op < 3; op++)
            for (int mode = 0; mode < 2; mode++) {
                long chunk = mode ? (K <= 256 ? 1024 : 256) : 0;
                double best[2] = {1e9, 1e9};
                for (int rep = 0; rep < 7; rep++)
                    for (int lib = 0; lib < 2; lib++) {
                        double t = now(); run(lib, op, M, K, N, chunk, x, w, y, part); t = now() - t;
                        if (rep && t < best[lib]) best[lib] = t;
                    }
                double gf = 2.0 * M * N * K / 1e9;
                printf("M=%6ld K=%4ld N=%ld %s %-7s  openblas %6.1f  onednn %6.1f GFLOP/s\n", M, K, N, ops[op],
                       mode ? "chunked" : "whole", gf / best[0], gf / best[1]);
            }
        free(x); free(w); free(y); free(part);
    }
    return 0;
}
