// The near-duplicate audit's inner loops (Sources/Datasets/NearDuplicates): compiled optimised in every build,
// because a debug build of the same Swift loops takes minutes on the 2,142 monkeypox images.
#ifndef NEAR_DUPLICATE_H
#define NEAR_DUPLICATE_H
#include <stdint.h>

// One query against `count` references. The query has `orientations` hashes and thumbnails (`thumb_len` floats
// each); a reference has one hash, one thumbnail and one ring spectrum (`polar_len` floats), stored back to back.
// Writes per reference the smallest Hamming distance and the largest thumbnail correlation over the query's
// orientations, and the ring-spectrum correlation.
void nd_scores(const uint64_t *query_hashes, const float *query_thumbs, int orientations, int thumb_len,
               const float *query_polar, int polar_len,
               const uint64_t *ref_hashes, const float *ref_thumbs, const float *ref_polar, int count,
               int32_t *hamming, float *thumb, float *polar);

// Correlation of a unit-length m×m thumbnail with the box means of rows [y0, y1) × columns [x0, x1) of an image
// given by its (side+1)×(side+1) summed-area table, made zero-mean and unit-length first.
float nd_part_correlation(const float *thumb, int m, const double *table, int side, int y0, int y1, int x0, int x1);

// Largest correlation of two unit-length polar images (`rings` × `samples`, ring-major) over every rotation about
// the centre and its mirror: the pair's ring detail compared at the angle where it lines up best.
float nd_rotation_correlation(const float *q, const float *r, int rings, int samples);

// Per reference, the largest correlation between one image and the enlarged centre of the other (a zoomed copy):
// the query's thumbnails (`orientations`) against the reference's centre thumbnails (`scales`, one orientation),
// and the query's centre thumbnails (`scales` × `orientations`) against the reference's thumbnail.
void nd_zoom_scores(const float *query_thumbs, const float *query_centres, int orientations, int scales, int thumb_len,
                    const float *ref_thumbs, const float *ref_centres, int count, float *zoom);

// The luma (0.299 R + 0.587 G + 0.114 B) of an RGB8 image resampled with separable filter taps (output o reads
// inputs first[o] ..< first[o] + taps): Sources/Datasets/Resample.swift's `resampleLuma` computes the taps.
// `scratch`: width + height × out_width floats.
void nd_resample_luma(const uint8_t *rgb, int width, int height, int out_width, int out_height,
                      const int *h_first, const float *h_weights, int h_taps,
                      const int *v_first, const float *v_weights, int v_taps, float *scratch, float *out);

#endif
