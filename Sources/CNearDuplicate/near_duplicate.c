#include "near_duplicate.h"
#include <math.h>

// Eight running sums, so the compiler may keep them in one vector register without reordering a single sum.
static float dot(const float *a, const float *b, int n) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) acc[k] += a[i + k] * b[i + k];
    float s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

void nd_scores(const uint64_t *query_hashes, const float *query_thumbs, int orientations, int thumb_len,
               const float *query_polar, int polar_len,
               const uint64_t *ref_hashes, const float *ref_thumbs, const float *ref_polar, int count,
               int32_t *hamming, float *thumb, float *polar) {
    for (int r = 0; r < count; r++) {
        int best_bits = 64;
        float best_corr = -1;
        const float *rt = ref_thumbs + (long)r * thumb_len;
        for (int o = 0; o < orientations; o++) {
            int bits = __builtin_popcountll(query_hashes[o] ^ ref_hashes[r]);
            if (bits < best_bits) best_bits = bits;
            float c = dot(query_thumbs + (long)o * thumb_len, rt, thumb_len);
            if (c > best_corr) best_corr = c;
        }
        hamming[r] = best_bits;
        thumb[r] = best_corr;
        polar[r] = dot(query_polar, ref_polar + (long)r * polar_len, polar_len);
    }
}

// The cell edges of `count` rows split into m parts, at least one row each (the Swift side's rule).
static void edges(int low, int count, int m, int side, int *e) {
    e[0] = low;
    for (int k = 1; k <= m; k++) {
        int v = low + (int)lround((double)count * k / m);
        if (v < e[k - 1] + 1) v = e[k - 1] + 1;
        if (v > side) v = side;
        e[k] = v;
    }
}

float nd_part_correlation(const float *thumb, int m, const double *table, int side, int y0, int y1, int x0, int x1) {
    int ys[65], xs[65];
    float part[64 * 64];
    if (m > 64) return -1;
    edges(y0, y1 - y0, m, side, ys);
    edges(x0, x1 - x0, m, side, xs);
    int w = side + 1;
    double mean = 0;
    for (int i = 0; i < m; i++) {
        int a = ys[i], b = ys[i + 1] > ys[i] ? ys[i + 1] : ys[i] + 1;
        for (int j = 0; j < m; j++) {
            int c = xs[j], d = xs[j + 1] > xs[j] ? xs[j + 1] : xs[j] + 1;
            double sum = table[b * w + d] - table[a * w + d] - table[b * w + c] + table[a * w + c];
            part[i * m + j] = (float)(sum / ((double)(b - a) * (d - c)));
            mean += part[i * m + j];
        }
    }
    mean /= m * m;
    double length = 0;
    for (int i = 0; i < m * m; i++) { part[i] -= (float)mean; length += (double)part[i] * part[i]; }
    if (length < 1e-6) return 0;
    return dot(thumb, part, m * m) / (float)sqrt(length);
}

// Largest correlation of two unit-length polar images (`rings` rings of `samples` angles) over every rotation
// (a cyclic shift of the angle) and its mirror (the angle reversed).
float nd_rotation_correlation(const float *q, const float *r, int rings, int samples) {
    // Each ring of r twice in a row (as it is, then reversed: the mirror), so a rotation is an offset, not a modulo.
    enum { max_len = 64 * 256 };
    static _Thread_local float twice[2 * max_len];
    if (rings * samples > max_len / 2) return -1;
    float best = -1;
    for (int mirror = 0; mirror < 2; mirror++) {
        for (int k = 0; k < rings; k++)
            for (int a = 0; a < samples; a++) {
                float v = r[k * samples + (mirror ? (samples - a) % samples : a)];
                twice[k * 2 * samples + a] = v;
                twice[k * 2 * samples + samples + a] = v;
            }
        for (int s = 0; s < samples; s++) {
            float sum = 0;
            for (int k = 0; k < rings; k++) sum += dot(q + k * samples, twice + k * 2 * samples + s, samples);
            if (sum > best) best = sum;
        }
    }
    return best;
}

// max over 8 rows of `rows` (8 × n, back to back) of row · v: the 8 running sums of each row stay in registers
// while v's values are loaded once (n a multiple of 8).
static float best_of_8_dots(const float *rows, const float *v, int n) {
    float acc[8][8] = {{0}};
    for (int i = 0; i < n; i += 8)
        for (int o = 0; o < 8; o++)
            for (int k = 0; k < 8; k++) acc[o][k] += rows[o * n + i + k] * v[i + k];
    float best = -1;
    for (int o = 0; o < 8; o++) {
        float s = ((acc[o][0] + acc[o][1]) + (acc[o][2] + acc[o][3])) + ((acc[o][4] + acc[o][5]) + (acc[o][6] + acc[o][7]));
        if (s > best) best = s;
    }
    return best;
}

void nd_zoom_scores(const float *query_thumbs, const float *query_centres, int orientations, int scales, int thumb_len,
                    const float *ref_thumbs, const float *ref_centres, int count, float *zoom) {
    for (int r = 0; r < count; r++) {
        const float *rt = ref_thumbs + (long)r * thumb_len, *rc = ref_centres + (long)r * scales * thumb_len;
        float best = -1;
        for (int s = 0; s < scales; s++) {
            if (orientations == 8 && thumb_len % 8 == 0) {
                float a = best_of_8_dots(query_thumbs, rc + (long)s * thumb_len, thumb_len);
                float b = best_of_8_dots(query_centres + (long)s * orientations * thumb_len, rt, thumb_len);
                if (a > best) best = a;
                if (b > best) best = b;
                continue;
            }
            for (int o = 0; o < orientations; o++) {
                float a = dot(query_thumbs + (long)o * thumb_len, rc + (long)s * thumb_len, thumb_len);
                float b = dot(query_centres + ((long)s * orientations + o) * thumb_len, rt, thumb_len);
                if (a > best) best = a;
                if (b > best) best = b;
            }
        }
        zoom[r] = best;
    }
}

void nd_resample_luma(const uint8_t *rgb, int width, int height, int out_width, int out_height,
                      const int *h_first, const float *h_weights, int h_taps,
                      const int *v_first, const float *v_weights, int v_taps, float *scratch, float *out) {
    float *luma = scratch, *rows = scratch + width;
    for (int y = 0; y < height; y++) {
        const uint8_t *p = rgb + (long)y * width * 3;
        for (int x = 0; x < width; x++) luma[x] = 0.299f * p[3 * x] + 0.587f * p[3 * x + 1] + 0.114f * p[3 * x + 2];
        float *row = rows + (long)y * out_width;
        for (int o = 0; o < out_width; o++) {
            const float *w = h_weights + o * h_taps, *l = luma + h_first[o];
            float sum = 0;
            for (int k = 0; k < h_taps; k++) sum += w[k] * l[k];
            row[o] = sum;
        }
    }
    for (int o = 0; o < out_height; o++) {
        float *dst = out + (long)o * out_width;
        for (int i = 0; i < out_width; i++) dst[i] = 0;
        for (int k = 0; k < v_taps; k++) {
            float w = v_weights[o * v_taps + k];
            if (w == 0) continue;
            const float *src = rows + (long)(v_first[o] + k) * out_width;
            for (int i = 0; i < out_width; i++) dst[i] += w * src[i];
        }
    }
}
