// oneDNN convolutions for the engine. One primitive per direction, created once per shape with `format_tag_any`
// everywhere, so oneDNN picks its fastest layouts (a fixed weight layout makes oneDNN 2.x fall back to its
// reference kernels, orders of magnitude slower, see ../shared/notes/toolchain.md; Winograd needs blocked
// activations). The engine's tensors stay dense NHWC with HWIO weights: each argument whose chosen layout
// differs gets a reorder and a buffer of its own, run before (inputs) or after (outputs) the convolution.
// Anything that lands on a reference implementation is reported as unavailable, so the engine uses its im2col
// path for it instead.
#include "abl_dnnl.h"
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
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

/// One argument of a primitive: the engine's layout, the primitive's, and when they differ a reorder between
/// them (engine → primitive for inputs, primitive → engine for outputs) and a buffer in the primitive's layout.
struct argument {
    int tag;                           // DNNL_ARG_*
    int output;
    dnnl_memory_desc_t user_md, md;
    dnnl_primitive_t reorder;
    float *buffer;
};

struct direction {
    dnnl_primitive_t primitive;
    struct argument args[3];
    const char *implementation;        // owned copy
    int available;
};

struct abl_conv {
    int source_block;                  // 16 when forward and backward weights read the source as nChw16c
    long weight_count;
    float *weight_gradient;            // HWIO result of backward weights, added into the caller's gradient
    struct direction dir[3];
};

static int is_reference(const char *name) { return name == NULL || strncmp(name, "ref", 3) == 0; }

static void release(struct direction *d) {
    if (d->primitive) dnnl_primitive_destroy(d->primitive);
    for (int i = 0; i < 3; i++) {
        if (d->args[i].reorder) dnnl_primitive_destroy(d->args[i].reorder);
        free(d->args[i].buffer);
    }
    free((void *)d->implementation);
    memset(d, 0, sizeof *d);
}

void abl_conv_destroy(abl_conv *conv) {
    if (!conv) return;
    for (int i = 0; i < 3; i++) release(&conv->dir[i]);
    free(conv->weight_gradient);
    free(conv);
}

static float *alloc_floats(size_t bytes) {
    void *p = NULL;
    if (posix_memalign(&p, 64, bytes < 64 ? 64 : bytes) != 0) return NULL;
    return p;
}

/// Prepares one argument: the primitive's layout for it and, if that is not the engine's, a reorder and buffer.
static int prepare(struct argument *a, const_dnnl_primitive_desc_t pd, dnnl_query_t query, int tag, int output,
                   const dnnl_memory_desc_t *user_md) {
    a->tag = tag; a->output = output; a->user_md = *user_md;
    a->md = *dnnl_primitive_desc_query_md(pd, query, 0);
    if (dnnl_memory_desc_equal(&a->md, user_md)) return 1;
    dnnl_primitive_desc_t rpd;
    const dnnl_memory_desc_t *from = output ? &a->md : user_md, *to = output ? user_md : &a->md;
    if (dnnl_reorder_primitive_desc_create(&rpd, from, engine, to, engine, NULL) != dnnl_success) return 0;
    dnnl_status_t s = dnnl_primitive_create(&a->reorder, rpd);
    dnnl_primitive_desc_destroy(rpd);
    if (s != dnnl_success) { a->reorder = NULL; return 0; }
    a->buffer = alloc_floats(dnnl_memory_desc_get_size(&a->md));
    return a->buffer != NULL;
}

struct spec { dnnl_query_t query; int tag; int output; const dnnl_memory_desc_t *user_md; };

/// Finishes a direction from its primitive descriptor (consumed).
static void finish(struct direction *d, dnnl_primitive_desc_t pd, const struct spec specs[3]) {
    const char *name = NULL;
    dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name);
    d->implementation = strdup(name ? name : "none");
    int ok = !is_reference(name) && dnnl_primitive_create(&d->primitive, pd) == dnnl_success;
    for (int i = 0; ok && i < 3; i++)
        ok = prepare(&d->args[i], pd, specs[i].query, specs[i].tag, specs[i].output, specs[i].user_md);
    dnnl_primitive_desc_destroy(pd);
    if (!ok) {
        const char *keep = d->implementation;
        d->implementation = NULL;
        release(d);
        d->implementation = keep;
        return;
    }
    d->available = 1;
}

/// Primitive descriptors for one algorithm; a direction keeps the first algorithm that gives it an optimised
/// implementation (Winograd first when allowed, then direct).
abl_conv *abl_conv_create(long n, long h, long w, long cin, long cout, long kernel, long stride, long padding,
                          int winograd) {
    if (!ready()) return NULL;
    abl_conv *conv = calloc(1, sizeof *conv);
    if (!conv) return NULL;
    long oh = (h + 2 * padding - kernel) / stride + 1, ow = (w + 2 * padding - kernel) / stride + 1;
    dnnl_dims_t src = {n, cin, h, w}, dst = {n, cout, oh, ow}, wei = {cout, cin, kernel, kernel};
    dnnl_dims_t strides = {stride, stride}, pad = {padding, padding};
    dnnl_memory_desc_t src_md, dst_md, hwio_md, any_src, any_dst, any_weights;
    if (dnnl_memory_desc_init_by_tag(&src_md, 4, src, dnnl_f32, dnnl_nhwc) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&dst_md, 4, dst, dnnl_f32, dnnl_nhwc) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&hwio_md, 4, wei, dnnl_f32, dnnl_hwio) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&any_src, 4, src, dnnl_f32, dnnl_format_tag_any) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&any_dst, 4, dst, dnnl_f32, dnnl_format_tag_any) != dnnl_success ||
        dnnl_memory_desc_init_by_tag(&any_weights, 4, wei, dnnl_f32, dnnl_format_tag_any) != dnnl_success) {
        free(conv); return NULL;
    }
    conv->weight_count = cout * cin * kernel * kernel;
    conv->weight_gradient = alloc_floats((size_t)conv->weight_count * sizeof(float));
    if (!conv->weight_gradient) { free(conv); return NULL; }

    const struct spec forward[3] = {{dnnl_query_src_md, DNNL_ARG_SRC, 0, &src_md},
                                    {dnnl_query_weights_md, DNNL_ARG_WEIGHTS, 0, &hwio_md},
                                    {dnnl_query_dst_md, DNNL_ARG_DST, 1, &dst_md}};
    const struct spec backward_data[3] = {{dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, 0, &dst_md},
                                          {dnnl_query_weights_md, DNNL_ARG_WEIGHTS, 0, &hwio_md},
                                          {dnnl_query_diff_src_md, DNNL_ARG_DIFF_SRC, 1, &src_md}};
    const struct spec backward_weights[3] = {{dnnl_query_src_md, DNNL_ARG_SRC, 0, &src_md},
                                             {dnnl_query_diff_dst_md, DNNL_ARG_DIFF_DST, 0, &dst_md},
                                             {dnnl_query_diff_weights_md, DNNL_ARG_DIFF_WEIGHTS, 1, &hwio_md}};
    dnnl_alg_kind_t algorithms[2] = {dnnl_convolution_winograd, dnnl_convolution_direct};
    for (int a = winograd ? 0 : 1; a < 2; a++) {
        dnnl_alg_kind_t alg = algorithms[a];
        // Direct convolutions are fastest on the engine's own NHWC layout (no reorders); Winograd needs blocks.
        const dnnl_memory_desc_t *s = alg == dnnl_convolution_direct ? &src_md : &any_src;
        const dnnl_memory_desc_t *d = alg == dnnl_convolution_direct ? &dst_md : &any_dst;
        dnnl_convolution_desc_t fd, bd, wd;
        dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL;
        if (dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, alg, s, &any_weights, NULL, d,
                                               strides, pad, pad) != dnnl_success ||
            dnnl_primitive_desc_create(&fpd, &fd, NULL, engine, NULL) != dnnl_success)
            continue;
        // Backward primitives get their own weight layout (`any` again): forcing the forward's layout on them
        // made oneDNN pick its reference backward-data kernel.
        if (!conv->dir[ABL_CONV_BACKWARD_DATA].available &&
            dnnl_convolution_backward_data_desc_init(&bd, alg, s, &any_weights, d, strides, pad, pad) == dnnl_success &&
            dnnl_primitive_desc_create(&bpd, &bd, NULL, engine, fpd) == dnnl_success) {
            release(&conv->dir[ABL_CONV_BACKWARD_DATA]);
            finish(&conv->dir[ABL_CONV_BACKWARD_DATA], bpd, backward_data);
        }
        if (!conv->dir[ABL_CONV_BACKWARD_WEIGHTS].available &&
            dnnl_convolution_backward_weights_desc_init(&wd, alg, s, &any_weights, NULL, d, strides, pad, pad) == dnnl_success &&
            dnnl_primitive_desc_create(&wpd, &wd, NULL, engine, fpd) == dnnl_success) {
            release(&conv->dir[ABL_CONV_BACKWARD_WEIGHTS]);
            finish(&conv->dir[ABL_CONV_BACKWARD_WEIGHTS], wpd, backward_weights);
        }
        if (!conv->dir[ABL_CONV_FORWARD].available) {
            release(&conv->dir[ABL_CONV_FORWARD]);
            finish(&conv->dir[ABL_CONV_FORWARD], fpd, forward);
        } else {
            dnnl_primitive_desc_destroy(fpd);
        }
    }
    dnnl_memory_desc_t blocked;
    const struct direction *f = &conv->dir[ABL_CONV_FORWARD], *bw = &conv->dir[ABL_CONV_BACKWARD_WEIGHTS],
                           *bd = &conv->dir[ABL_CONV_BACKWARD_DATA];
    if (cin % 16 == 0 && dnnl_memory_desc_init_by_tag(&blocked, 4, src, dnnl_f32, dnnl_nChw16c) == dnnl_success &&
        f->available && bw->available && bd->available && dnnl_memory_desc_equal(&f->args[0].md, &blocked) &&
        dnnl_memory_desc_equal(&bw->args[0].md, &blocked) && dnnl_memory_desc_equal(&bd->args[2].md, &blocked))
        conv->source_block = 16;
    return conv;
}

int abl_conv_source_block(const abl_conv *conv) { return conv ? conv->source_block : 0; }

int abl_conv_available(const abl_conv *conv, int direction) {
    return conv && direction >= 0 && direction < 3 && conv->dir[direction].available;
}

const char *abl_conv_implementation(const abl_conv *conv, int direction) {
    if (!conv || direction < 0 || direction >= 3 || !conv->dir[direction].implementation) return "none";
    return conv->dir[direction].implementation;
}

/// Wraps a pointer as oneDNN memory (no copy).
static dnnl_memory_t wrap(const dnnl_memory_desc_t *md, const void *data) {
    dnnl_memory_t m = NULL;
    if (dnnl_memory_create(&m, md, engine, (void *)data) != dnnl_success) return NULL;
    return m;
}

static int execute(dnnl_primitive_t p, int count, dnnl_exec_arg_t *args) {
    int failed = 0;
    for (int i = 0; i < count; i++) if (!args[i].memory) failed = 1;
    if (!failed) failed = dnnl_primitive_execute(p, stream, count, args) != dnnl_success;
    for (int i = 0; i < count; i++) if (args[i].memory) dnnl_memory_destroy(args[i].memory);
    return failed ? -1 : 0;
}

/// Reorders between the engine's pointer and the argument's buffer (direction per `a->output`).
static int reorder(const struct argument *a, const float *user) {
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, a->output ? wrap(&a->md, a->buffer) : wrap(&a->user_md, user)},
                               {DNNL_ARG_TO, a->output ? wrap(&a->user_md, user) : wrap(&a->md, a->buffer)}};
    return execute(a->reorder, 2, args);
}

/// Runs a direction on the engine's pointers, in engine layouts except argument `native` (-1: none), which is
/// already in the primitive's layout.
static int run(struct direction *d, const float *data[3], int native) {
    if (!d->available) return -1;
    for (int i = 0; i < 3; i++) {
        const struct argument *a = &d->args[i];
        if (a->reorder && !a->output && i != native && reorder(a, data[i]) != 0) return -1;
    }
    dnnl_exec_arg_t args[3];
    for (int i = 0; i < 3; i++) {
        const struct argument *a = &d->args[i];
        args[i].arg = a->tag;
        args[i].memory = wrap(&a->md, a->reorder && i != native ? a->buffer : data[i]);
    }
    if (execute(d->primitive, 3, args) != 0) return -1;
    for (int i = 0; i < 3; i++)
        if (d->args[i].reorder && d->args[i].output && i != native && reorder(&d->args[i], data[i]) != 0) return -1;
    return dnnl_stream_wait(stream) == dnnl_success ? 0 : -1;
}

int abl_conv_forward(abl_conv *conv, const float *x, const float *w_hwio, float *y, int x_blocked) {
    if (x_blocked && !conv->source_block) return -1;
    const float *data[3] = {x, w_hwio, y};
    return run(&conv->dir[ABL_CONV_FORWARD], data, x_blocked ? 0 : -1);
}

int abl_conv_backward_data(abl_conv *conv, const float *dy, const float *w_hwio, float *dx, int dx_blocked) {
    if (dx_blocked && !conv->source_block) return -1;
    const float *data[3] = {dy, w_hwio, dx};
    return run(&conv->dir[ABL_CONV_BACKWARD_DATA], data, dx_blocked ? 2 : -1);
}

int abl_conv_backward_weights(abl_conv *conv, const float *x, const float *dy, float *grad_hwio, int x_blocked) {
    if (x_blocked && !conv->source_block) return -1;
    const float *data[3] = {x, dy, conv->weight_gradient};
    if (run(&conv->dir[ABL_CONV_BACKWARD_WEIGHTS], data, x_blocked ? 0 : -1) != 0) return -1;
    for (long i = 0; i < conv->weight_count; i++) grad_hwio[i] += conv->weight_gradient[i];
    return 0;
}

int abl_dnnl_sgemm(int trans_a, int trans_b, long m, long n, long k, float alpha, const float *a, long lda,
                   const float *b, long ldb, float beta, float *c, long ldc) {
    return dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
           == dnnl_success ? 0 : -1;
}

void abl_set_openmp_threads(int threads) { omp_set_num_threads(threads); }

const char *abl_dnnl_version(void) {
    static char text[32];
    if (!text[0]) {
        const dnnl_version_t *v = dnnl_version();
        snprintf(text, sizeof text, "%d.%d.%d", v->major, v->minor, v->patch);
    }
    return text;
}
