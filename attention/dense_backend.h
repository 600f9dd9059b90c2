#pragma once
// Computes the dense part of a decode step (the sinks and the window), possibly on another
// device and asynchronously: launch() may return before the result is ready; o and lse are
// valid after wait(). CpuDenseBackend (cpu_dense_backend.h) reads the static set from the host
// cache and computes in launch(); gpu::CudaDenseBackend (gpu/cuda_dense_backend.h) keeps the
// static set in device memory (its own device pointers, strides and stream), copies to it only
// the tokens it does not hold yet, and returns the result on wait().
#include <cstdint>

#include "dense_attention.h"
#include "kv_view.h"

namespace ra::attention {

/// One decode step's static set: token positions of the cache, sinks inside [0, num_sink),
/// window a run of the latest tokens (at most SinkWindow::window of them, after the sinks).
struct DenseStep {
  KvView host;                     // the cache on the host, all T tokens (the new one included)
  const float* q = nullptr;        // host, (num_q_heads, head_dim) f32
  std::uint32_t num_q_heads = 0;   // a multiple of the KV heads (GQA: q head h reads kv head h / group)
  TokenRange sinks, window;
  float scale = 1.0f;
};

class DenseAttentionBackend {
 public:
  virtual ~DenseAttentionBackend() = default;
  /// Attention of each query head over the step's sinks and window. o: (num_q_heads, head_dim)
  /// host f32, lse: num_q_heads natural-log LSEs; both written by the time wait() returns.
  virtual Status launch(const DenseStep& step, float* o, float* lse) = 0;
  virtual Status wait() = 0;
};

}  // namespace ra::attention
