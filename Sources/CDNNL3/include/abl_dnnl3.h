// The shim compiled against oneDNN 3.x, for the dispatcher in CDNNL (its table: CDNNL/shim/abl_dnnl_library.h).
#ifndef ABL_DNNL3_H
#define ABL_DNNL3_H
struct abl_dnnl_library;

/// Loads oneDNN 3.x from `abl_dnnl3_file()` on first call; NULL when it cannot be loaded or ablate was built
/// without its headers (scripts/deps.sh could not fetch them).
const struct abl_dnnl_library *abl_dnnl3_library(void);
/// The file abl_dnnl3_library() loads: ABLATE_ONEDNN3_LIB, else the one scripts/deps.sh unpacked; NULL when
/// ablate was built without oneDNN 3.x headers.
const char *abl_dnnl3_file(void);
#endif
