#pragma once
// Views over one layer's KV cache and its queries. Element (t, h, c) of a HeadsView is at
// data + t*token_stride + h*head_stride + c (strides in elements of dtype), so both the
// [token][head][dim] (NHD) and [head][token][dim] (HND) layouts fit. The viewed memory belongs
// to the caller and must outlive every use of the view.
#include <cstdint>

#include "../index/types.h"

namespace ra::attention {

struct HeadsView {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  std::uint32_t num_tokens = 0, num_heads = 0, head_dim = 0;
  std::int64_t token_stride = 0, head_stride = 0;

  /// Tokens [begin, end) of head h as a matrix view (rows = tokens).
  MatrixView head(std::uint32_t h, std::uint32_t begin, std::uint32_t end) const noexcept {
    const auto* base = static_cast<const std::byte*>(data) +
                       (static_cast<std::int64_t>(begin) * token_stride + h * head_stride) *
                           static_cast<std::int64_t>(dtype_size(dtype));
    return {base, dtype, end - begin, head_dim, static_cast<std::size_t>(token_stride)};
  }
  MatrixView head(std::uint32_t h) const noexcept { return head(h, 0, num_tokens); }

  /// A dense (num_heads, num_tokens, head_dim) block (HND).
  static HeadsView hnd(const void* data, DType dtype, std::uint32_t heads, std::uint32_t tokens,
                       std::uint32_t head_dim) noexcept {
    return {data, dtype, tokens, heads, head_dim, head_dim,
            static_cast<std::int64_t>(tokens) * head_dim};
  }
};

/// Keys and values of one layer: same tokens, heads and head_dim.
struct KvView {
  HeadsView k, v;
};

/// The dense, exactly attended token set: the first num_sink tokens and the last `window`.
struct SinkWindow {
  std::uint32_t num_sink = 4, window = 64;
};

/// Checks shapes: positive sizes, strides that keep rows apart (token_stride >= head_dim when
/// there are several tokens), K and V agreeing. Errors name `what`.
Status validate_heads(const HeadsView& v, const char* what);
Status validate_kv(const KvView& kv);

}  // namespace ra::attention
