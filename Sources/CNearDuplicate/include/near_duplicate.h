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

#endif
