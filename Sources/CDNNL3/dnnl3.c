// The shim for oneDNN 3.x, from the PyPI wheels that scripts/deps.sh unpacks into .deps/onednn-3.2 (Package.swift
// puts their include directory first and names their library in ABL_DNNL3_LIBRARY). Where they could not be
// fetched, <oneapi/dnnl/dnnl.h> is Debian's 2.x header and this file only reports 3.x unavailable.
#include "abl_dnnl3.h"
#include <oneapi/dnnl/dnnl.h>

#if DNNL_VERSION_MAJOR >= 3 && defined(ABL_DNNL3_LIBRARY)
#include <stdlib.h>

/// ABLATE_ONEDNN3_LIB names another libdnnl.so.3 (for a binary run away from its build tree); else the one
/// unpacked next to the sources.
static const char *library_file(void) {
    const char *file = getenv("ABLATE_ONEDNN3_LIB");
    return file && *file ? file : ABL_DNNL3_LIBRARY;
}

#define ABL_LIBRARY_ENTRY abl_dnnl3_library
#define ABL_LIBRARY_FILE library_file()
// Measured on DenseNet's 1×1 GEMM shapes, this version's sgemm beats OpenBLAS's (benchmarks/RESULTS.md).
#define ABL_USE_DNNL_SGEMM 1
#include "../CDNNL/shim/dnnl_conv.inc"

const char *abl_dnnl3_file(void) { return library_file(); }
#else
#include <stddef.h>
#include "../CDNNL/shim/abl_dnnl_library.h"

const struct abl_dnnl_library *abl_dnnl3_library(void) { return NULL; }
const char *abl_dnnl3_file(void) { return NULL; }
#endif
