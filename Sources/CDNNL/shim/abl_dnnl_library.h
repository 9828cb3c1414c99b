// What one oneDNN library offers the dispatcher (dispatch.c): the abl_* operations of abl_dnnl.h, bound to that
// library. The same shim source (dnnl_conv.inc) is compiled once per oneDNN API, each copy against its own
// headers and loading its own libdnnl with dlopen, so the two libraries (which export the same C symbols) never
// meet in one symbol namespace. A plan made by one library is only ever handed back to the same one.
#ifndef ABL_DNNL_LIBRARY_H
#define ABL_DNNL_LIBRARY_H
#include "../include/abl_dnnl.h"

struct abl_dnnl_library {
    const char *version;               // e.g. "3.2.0 (libdnnl.so.3)"
    abl_conv *(*conv_create)(long n, long h, long w, long cin, long cout, long kernel, long stride, long padding,
                             int winograd);
    void (*conv_destroy)(abl_conv *conv);
    int (*conv_available)(const abl_conv *conv, int direction);
    const char *(*conv_implementation)(const abl_conv *conv, int direction);
    int (*conv_source_block)(const abl_conv *conv);
    int (*conv_forward)(abl_conv *conv, const float *x, const float *w_hwio, float *y, int x_blocked);
    int (*conv_backward_data)(abl_conv *conv, const float *dy, const float *w_hwio, float *dx, int dx_blocked);
    int (*conv_backward_weights)(abl_conv *conv, const float *x, const float *dy, float *grad_hwio, int x_blocked);
    /// NULL where OpenBLAS is the faster sgemm next to this library (the engine then calls OpenBLAS).
    int (*sgemm)(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                 const float *b, long ldb, float beta, float *c, long ldc);
};

#endif
