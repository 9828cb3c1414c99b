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
