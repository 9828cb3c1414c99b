// The shim for Debian's oneDNN 2.x (libdnnl-dev's headers, libdnnl.so.2 at run time).
#include "abl_dnnl2.h"
#include <oneapi/dnnl/dnnl.h>

#define ABL_LIBRARY_ENTRY abl_dnnl2_library
#define ABL_LIBRARY_FILE "libdnnl.so.2"
// Measured on DenseNet's 1×1 GEMM shapes, this version's sgemm beats OpenBLAS's (benchmarks/RESULTS.md).
#define ABL_USE_DNNL_SGEMM 1
#include "../CDNNL/shim/dnnl_conv.inc"
