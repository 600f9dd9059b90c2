#pragma once
// Computes the dense part of a decode step (the sinks and the window), possibly on another
// device and asynchronously: launch() may return before the result is ready; o and lse are
// valid after wait(). CpuDenseBackend (cpu_dense_backend.h) computes in launch(); gpu/ adds a
// CUDA one.
#include <cstdint>
#include <span>

#include "dense_attention.h"
#include "kv_view.h"

namespace ra::attention {

class DenseAttentionBackend {
 public:
  virtual ~DenseAttentionBackend() = default;
  /// Attention of each of the num_q_heads queries (q: (num_q_heads, head_dim) f32) over the
  /// tokens in `ranges` of its KV head (GQA: q head h reads kv head h / (num_q_heads /
  /// kv heads)). o: (num_q_heads, head_dim); lse: num_q_heads, natural log.
  virtual Status launch(const KvView& kv, const float* q, std::uint32_t num_q_heads,
                        std::span<const TokenRange> ranges, float scale, float* o, float* lse) = 0;
  virtual Status wait() = 0;
};

}  // namespace ra::attention
