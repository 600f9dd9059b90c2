#pragma once
// Merging partial attention results computed over DISJOINT key sets (a key in both would be
// counted twice). A partial for one head is (o, lse): o = softmax-weighted mean of the values
// over its key subset (normalised over that subset alone) and lse = ln(sum_j exp(s_j)) over
// the same subset, natural log. An empty subset is o = 0, lse = -inf.
#include <cstdint>

namespace ra::attention {

/// For each of num_heads heads (o rows head_dim floats, o_head_stride floats apart; lse one
/// float per head): out = merge(a, b). o_out may alias o_a or o_b. Two empty partials give
/// o = 0, lse = -inf.
void merge_attn_states(const float* o_a, const float* lse_a, const float* o_b, const float* lse_b,
                       float* o_out, float* lse_out, std::uint32_t num_heads,
                       std::uint32_t head_dim, std::int64_t o_head_stride) noexcept;

}  // namespace ra::attention
