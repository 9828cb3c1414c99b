// oneDNN convolutions for the engine. One primitive per direction, created once per shape with
// `format_tag_any` weights (a fixed weight layout makes oneDNN 2.x fall back to its ~0.1 GFLOP/s reference
// kernels) and dense NHWC activations; the engine's HWIO weights are reordered into the primitive's layout on
// every call (a few hundred KB, negligible next to the convolution). Anything that lands on a reference
// implementation is reported as unavailable, so the engine uses its im2col path for it instead.
#include "abl_dnnl.h"
#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

void omp_set_num_threads(int);

static dnnl_engine_t engine;
static dnnl_stream_t stream;

static int ready(void) {
    if (engine) return 1;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0) != dnnl_success) { engine = NULL; return 0; }
    if (dnnl_stream_create(&stream, engine, dnnl_stream_default_flags) != dnnl_success) {
        dnnl_engine_destroy(engine); engine = NULL; return 0;
    }
    return 1;
}

/// One direction: the primitive, the layout it wants for weights (or their gradient), a reorder between that
/// layout and HWIO, and a buffer for the weights in that layout.
struct direction {
    dnnl_primitive_t primitive;
    dnnl_primitive_t weight_reorder;   // HWIO → primitive layout (forward, backward data) or back (weights)
    dnnl_memory_desc_t weights_md;
    float *weights;                    // NULL when the primitive takes HWIO as is
    const char *implementation;        // owned copy once abl_conv_create returns
    int available;
};

struct abl_conv {
    dnnl_memory_desc_t src_md, dst_md, hwio_md;
    long weight_count;
    float *weight_gradient;            // HWIO scratch for the backward-weights result
    struct direction dir[3];
};

static int is_reference(const char *name) { return name == NULL || strncmp(name, "ref", 3) == 0; }

static void release(struct direction *d) {
    if (d->primitive) dnnl_primitive_destroy(d->primitive);
    if (d->weight_reorder) dnnl_primitive_destroy(d->weight_reorder);
    free(d->weights);
    memset(d, 0, sizeof *d);
}

void abl_conv_destroy(abl_conv *conv) {
    if (!conv) return;
    for (int i = 0; i < 3; i++) { free((void *)conv->dir[i].implementation); release(&conv->dir[i]); }
    free(conv->weight_gradient);
    free(conv);
}

static float *alloc_floats(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes < 64 ? 64 : bytes) != 0) return NULL;
    return p;
}

/// Finishes a direction from its primitive descriptor: records the implementation, creates the primitive, and
/// when the weights layout differs from HWIO, a reorder and a buffer. `to_hwio` is the reorder's direction.
static void finish(abl_conv *conv, struct direction *d, dnnl_primitive_desc_t pd, dnnl_query_t weights_query,
                   int to_hwio) {
    const char *name = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    d->implementation = name;
    if (is_reference(name) || dnnl_primitive_create(&d->primitive, pd) != dnnl_success) {
        d->primitive = NULL;
        return;
    }
    d->weights_md = *dnnl_primitive_desc_query_md(pd, weights_query, 0);
    if (!dnnl_memory_desc_equal(&d->weights_md, &conv->hwio_md)) {
        dnnl_primitive_desc_t rpd;
        const dnnl_memory_desc_t *from = to_hwio ? &d->weights_md : &conv->hwio_md;
        const dnnl_memory_desc_t *to = to_hwio ? &conv->hwio_md : &d->weights_md;
        if (dnnl_reorder_primitive_desc_create(&rpd, from, engine, to, engine, NULL) != dnnl_success) goto fail;
        dnnl_status_t s = dnnl_primitive_create(&d->weight_reorder, rpd);
        dnnl_primitive_desc_destroy(rpd);
        if (s != dnnl_success) { d->weight_reorder = NULL; goto fail; }
        d->weights = alloc_floats(dnnl_memory_desc_get_size(&d->weights_md));
        if (!d->weights) goto fail;
    }
    d->available = 1;
    return;
fail:
    release(d);
    d->implementation = name;
}

abl_conv *abl_conv_create(long n, long h, long w, long cin, long cout, long kernel, long stride, long padding) {
    if (!ready()) return NULL;
    abl_conv *conv = calloc(1, sizeof *conv);
    if (!conv) return NULL;
    long oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1;
    dnnl_dims_t src = {n, cin, h, w}, dst = {n, cout, oh, ow}, wei = {cout, cin, kernel, kernel};
    dnnl_dims_t strides = {stride, stride}, pad = {padding, padding};
    dnnl_memory_desc_t any_weights;
    if (dnnl_memory_desc_init_by_tag(&conv->src_md, 4, src, dnnl_f32, dnnl_nhwc) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&conv->dst_md, 4, dst, dnnl_f32, dnnl_nhwc) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&conv->hwio_md, 4, wei, dnnl_f32, dnnl_hwio) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&any_weights, 4, wei, dnnl_f32, dnnl_format_tag_any) != dnnl_success) {
        free(conv); return NULL;
    }
    conv->weight_count = cout * cin * kernel * kernel;
    conv->weight_gradient = alloc_floats((size_t)conv->weight_count * sizeof(float));

    dnnl_convolution_desc_t fd, bd, wd;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL;
    if (dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &conv->src_md,
                                           &any_weights, NULL, &conv->dst_md, strides, pad, pad) != dnnl_success ||
        dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL) != dnnl_success) {
        abl_conv_destroy(conv); return NULL;
    }
    finish(conv, &conv->dir[ABL_CONV_FORWARD], fpd, dnnl_query_weights_md, 0);
    // Backward primitives get their own weight layout (`any` again): forcing the forward's layout on them
    // made oneDNN pick its reference backward-data kernel.
    if (dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &conv->src_md, &any_weights,
                                                 &conv->dst_md, strides, pad, pad) == dnnl_success &&
        dnnl_primitive_desc_create(&bpd, &bd, NULL, engine, fpd) == dnnl_success)
        finish(conv, &conv->dir[ABL_CONV_BACKWARD_DATA], bpd, dnnl_query_weights_md, 0);
    if (dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &conv->src_md, &any_weights,
                                                    NULL, &conv->dst_md, strides, pad, pad) == dnnl_success &&
        dnnl_primitive_desc_create(&wpd, &wd, NULL, engine, fpd) == dnnl_success)
        finish(conv, &conv->dir[ABL_CONV_BACKWARD_WEIGHTS], wpd, dnnl_query_diff_weights_md, 1);
    // Implementation names point into the descriptors: keep copies before destroying them.
    for (int i = 0; i < 3; i++)
        conv->dir[i].implementation = conv->dir[i].implementation ? strdup(conv->dir[i].implementation) : NULL;
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (bpd) dnnl_primitive_desc_destroy(bpd);
    if (wpd) dnnl_primitive_desc_destroy(wpd);
    return conv;
}

int abl_conv_available(const abl_conv *conv, int direction) {
    return conv && direction >= 0 && direction < 3 && conv->dir[direction].available;
}

const char *abl_conv_implementation(const abl_conv *conv, int direction) {
    if (!conv || direction < 0 || direction >= 3 || !conv->dir[direction].implementation) return "none";
    return conv->dir[direction].implementation;
}

/// Wraps a user pointer as oneDNN memory (no copy).
static dnnl_memory_t wrap(const dnnl_memory_desc_t *md, const void *data) {
    dnnl_memory_t m = NULL;
    if (dnnl_memory_create(&m, md, engine, (void *)data) != dnnl_success) return NULL;
    return m;
}

static int run(dnnl_primitive_t p, int count, dnnl_exec_arg_t *args) {
    int failed = 0;
    for (int i = 0; i < count; i++) if (!args[i].memory) failed = 1;
    if (!failed) failed = dnnl_primitive_execute(p, stream, count, args) != dnnl_success ||
                          dnnl_stream_wait(stream) != dnnl_success;
    for (int i = 0; i < count; i++) if (args[i].memory) dnnl_memory_destroy(args[i].memory);
    return failed ? -1 : 0;
}

/// Weights for a forward or backward-data call in the primitive's layout (reordered from HWIO if needed).
static const float *weights_for(abl_conv *conv, struct direction *d, const float *w_hwio) {
    if (!d->weight_reorder) return w_hwio;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, wrap(&conv->hwio_md, w_hwio)},
                               {DNNL_ARG_TO, wrap(&d->weights_md, d->weights)}};
    return run(d->weight_reorder, 2, args) == 0 ? d->weights : NULL;
}

int abl_conv_forward(abl_conv *conv, const float *x, const float *w_hwio, float *y) {
    struct direction *d = &conv->dir[ABL_CONV_FORWARD];
    if (!d->available) return -1;
    const float *w = weights_for(conv, d, w_hwio);
    if (!w) return -1;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, wrap(&conv->src_md, x)},
                               {DNNL_ARG_WEIGHTS, wrap(&d->weights_md, w)},
                               {DNNL_ARG_DST, wrap(&conv->dst_md, y)}};
    return run(d->primitive, 3, args);
}

int abl_conv_backward_data(abl_conv *conv, const float *dy, const float *w_hwio, float *dx) {
    struct direction *d = &conv->dir[ABL_CONV_BACKWARD_DATA];
    if (!d->available) return -1;
    const float *w = weights_for(conv, d, w_hwio);
    if (!w) return -1;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_DIFF_DST, wrap(&conv->dst_md, dy)},
                               {DNNL_ARG_WEIGHTS, wrap(&d->weights_md, w)},
                               {DNNL_ARG_DIFF_SRC, wrap(&conv->src_md, dx)}};
    return run(d->primitive, 3, args);
}

int abl_conv_backward_weights(abl_conv *conv, const float *x, const float *dy, float *grad_hwio) {
    struct direction *d = &conv->dir[ABL_CONV_BACKWARD_WEIGHTS];
    if (!d->available || !conv->weight_gradient) return -1;
    float *target = d->weight_reorder ? d->weights : conv->weight_gradient;
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, wrap(&conv->src_md, x)},
                               {DNNL_ARG_DIFF_DST, wrap(&conv->dst_md, dy)},
                               {DNNL_ARG_DIFF_WEIGHTS, wrap(&d->weights_md, target)}};
    if (run(d->primitive, 3, args) != 0) return -1;
    if (d->weight_reorder) {
        dnnl_exec_arg_t back[2] = {{DNNL_ARG_FROM, wrap(&d->weights_md, d->weights)},
                                   {DNNL_ARG_TO, wrap(&conv->hwio_md, conv->weight_gradient)}};
        if (run(d->weight_reorder, 2, back) != 0) return -1;
    }
    for (long i = 0; i < conv->weight_count; i++) grad_hwio[i] += conv->weight_gradient[i];
    return 0;
}

int abl_dnnl_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc) {
    return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
           == dnnl_success ? 0 : -1;
}

void abl_set_openmp_threads(int threads) { omp_set_num_threads(threads); }
