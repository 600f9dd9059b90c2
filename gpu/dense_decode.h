#pragma once
// Dense decode attention on the GPU: for every query head, exact attention over up to two token
// ranges of its KV head (the sinks and the recent window; one range over a whole context is
// full attention), flash-decoding style: the tokens are split across thread blocks so that one
// decode token fills the GPU, and the partial results are merged by log-sum-exp. Outputs o and
// the natural-log lse per query head, as attention::attend_ranges does on the CPU.
// CUDA-free header: device pointers are plain pointers, the stream a void*.
#include <cstdint>

#include "../attention/token_range.h"
#include "../index/result.h"
#include "../simd/dtype.h"
#include "device_buffer.h"

namespace ra::gpu {

/// One layer's K and V in device memory: element (kv head h, token t, channel c) is at
/// data + h * head_stride + t * token_stride + c (strides in elements, 64-bit).
struct DeviceKv {
  const void* k = nullptr;
  const void* v = nullptr;
  DType dtype = DType::kF16;
  std::uint32_t num_kv_heads = 0, head_dim = 0, num_tokens = 0;
  std::int64_t token_stride = 0, head_stride = 0;
};

struct DenseDecodeArgs {
  DeviceKv kv;
  const float* q = nullptr;         // device, num_q_heads x head_dim f32
  std::uint32_t num_q_heads = 0;    // a multiple of kv.num_kv_heads (GQA)
  attention::TokenRange ranges[2];  // disjoint, inside [0, num_tokens); empty ones allowed
  float scale = 1.0f;               // softmax scale (1 / sqrt(head_dim) for most models)
  float* o = nullptr;               // device, num_q_heads x head_dim f32
  float* lse = nullptr;             // device, num_q_heads f32 (natural log; -inf when no token)
  void* stream = nullptr;           // cudaStream_t; null: the default stream
};

/// Owns the split workspace; one per stream. run() is asynchronous on args.stream.
class DenseDecoder {
 public:
  static constexpr std::uint32_t kMaxSplits = 256;
  /// Head sizes 64, 128 and 256; up to max_q_heads query heads per call.
  static Result<DenseDecoder> create(std::uint32_t max_q_heads, std::uint32_t max_head_dim);
  Status run(const DenseDecodeArgs& args);
  /// How many blocks the tokens of one head are split into for `tokens` tokens.
  std::uint32_t splits_for(std::uint32_t tokens, std::uint32_t num_q_heads) const noexcept;

 private:
  std::uint32_t max_q_heads_ = 0, max_head_dim_ = 0;
  int multiprocessors_ = 1;
  DeviceBuffer partial_ml_, partial_o_;  // per (head, split): max and sum; unnormalised o
};

}  // namespace ra::gpu
