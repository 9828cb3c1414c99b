// The shim compiled against oneDNN 2.x, for the dispatcher in CDNNL (its table: CDNNL/shim/abl_dnnl_library.h).
#ifndef ABL_DNNL2_H
#define ABL_DNNL2_H
struct abl_dnnl_library;

/// Loads Debian's oneDNN 2.x (libdnnl.so.2) on first call; NULL when it cannot be loaded.
const struct abl_dnnl_library *abl_dnnl2_library(void);
#endif
