#pragma once
// Exact attention of one query over a subset of one head's keys: the reference, the CPU
// fallback of the dense part, and the attention over retrieved keys. Produces a partial result
// (o, lse): o is normalised over that subset alone and lse = ln sum_j exp(scale * q.k_j),
// natural log. An empty subset gives o = 0, lse = -inf (merge_attn_states handles it).
#include <cstdint>
#include <span>
#include <vector>

#include "../index/types.h"
#include "token_range.h"

namespace ra::attention {


/// Per-thread scores buffer; grows, never shrinks.
struct AttendScratch {
  std::vector<float> scores;
};

/// Attention over the union of `ranges` (disjoint) of keys/values (rows = tokens). q: f32,
/// keys.dim floats. Writes o (keys.dim floats) and *lse.
void attend_ranges(const float* q, const MatrixView& keys, const MatrixView& values,
                   std::span<const TokenRange> ranges, float scale, AttendScratch& scratch,
                   float* o, float* lse);

/// Attention over the tokens `ids` (distinct) of keys/values.
void attend_ids(const float* q, const MatrixView& keys, const MatrixView& values,
                std::span<const std::uint32_t> ids, float scale, AttendScratch& scratch, float* o,
                float* lse);

}  // namespace ra::attention
