#include "attention/dense_attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "simd/inner_product.h"

namespace ra::attention {
namespace {

// Softmax-weighted sum over scored rows: scores[i] belongs to value row row_of(i).
template <class RowOf>
void finish(const float* scores, std::size_t n, const MatrixView& values, RowOf row_of, float scale,
            float* o, float* lse) {
  std::fill_n(o, values.dim, 0.0f);
  if (n == 0) {
    *lse = -std::numeric_limits<float>::infinity();
    return;
  }
  const float m = *std::max_element(scores, scores + n);
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const float w = std::exp(scale * (scores[i] - m));
    sum += w;
    simd::axpy(w, values.row_bytes(row_of(i)), values.dtype, o, values.dim);
  }
  const auto inv = static_cast<float>(1.0 / sum);
  for (std::size_t c = 0; c < values.dim; ++c) o[c] *= inv;
  *lse = static_cast<float>(scale * m + std::log(sum));
}

}  // namespace

void attend_ranges(const float* q, const MatrixView& keys, const MatrixView& values,
                   std::span<const TokenRange> ranges, float scale, AttendScratch& scratch,
                   float* o, float* lse) {
  std::size_t n = 0;
  for (const TokenRange& r : ranges) n += r.size();
  if (scratch.scores.size() < n) scratch.scores.resize(n);
  std::size_t at = 0;
  for (const TokenRange& r : ranges) {
    if (r.size() == 0) continue;
    simd::dot_rows(q, keys.row_bytes(r.begin), keys.dtype, keys.stride, r.size(), keys.dim,
                   scratch.scores.data() + at);
    at += r.size();
  }
  // Map score index back to its token: walk the ranges (in order) alongside.
  std::size_t range = 0, offset = 0;
  finish(scratch.scores.data(), n, values,
         [&](std::size_t i) {
           while (i - offset >= ranges[range].size()) offset += ranges[range++].size();
           return ranges[range].begin + (i - offset);
         },
         scale, o, lse);
}

void attend_ids(const float* q, const MatrixView& keys, const MatrixView& values,
                std::span<const std::uint32_t> ids, float scale, AttendScratch& scratch, float* o,
                float* lse) {
  if (scratch.scores.size() < ids.size()) scratch.scores.resize(ids.size());
  simd::dot_gather(q, keys.data, keys.dtype, keys.stride, ids.data(), ids.size(), keys.dim,
                   scratch.scores.data());
  finish(scratch.scores.data(), ids.size(), values, [&](std::size_t i) { return ids[i]; }, scale, o, lse);
}

}  // namespace ra::attention
