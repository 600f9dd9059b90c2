#include "attention/merge_state.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace ra::attention {

void merge_attn_states(const float* o_a, const float* lse_a, const float* o_b, const float* lse_b,
                       float* o_out, float* lse_out, std::uint32_t num_heads,
                       std::uint32_t head_dim, std::int64_t o_head_stride) noexcept {
  for (std::uint32_t h = 0; h < num_heads; ++h) {
    const float la = lse_a[h], lb = lse_b[h];
    const float m = std::max(la, lb);
    const std::int64_t off = h * o_head_stride;
    if (m == -std::numeric_limits<float>::infinity()) {  // both empty: avoid (-inf) - (-inf)
      std::fill_n(o_out + off, head_dim, 0.0f);
      lse_out[h] = m;
      continue;
    }
    const float wa = std::exp(la - m), wb = std::exp(lb - m);
    const float inv = 1.0f / (wa + wb);
    for (std::uint32_t c = 0; c < head_dim; ++c) {
      o_out[off + c] = (wa * o_a[off + c] + wb * o_b[off + c]) * inv;
    }
    lse_out[h] = m + std::log(wa + wb);
  }
}

}  // namespace ra::attention
