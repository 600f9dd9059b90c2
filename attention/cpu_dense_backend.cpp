#include "attention/cpu_dense_backend.h"

#include "index/api_guard.h"

namespace ra::attention {

Status CpuDenseBackend::launch(const DenseStep& step, float* o, float* lse) {
  RA_API_TRY
  const KvView& kv = step.host;
  const std::uint32_t num_q_heads = step.num_q_heads;
  RA_RETURN_IF_ERROR(validate_kv(kv));
  if (num_q_heads == 0 || num_q_heads % kv.k.num_heads != 0) {
    return Status::InvalidArgument("query heads must be a multiple of kv heads");
  }
  const TokenRange ranges[2] = {step.sinks, step.window};
  for (const TokenRange& r : ranges) {
    if (r.end > kv.k.num_tokens) return Status::InvalidArgument("token range past the cache");
  }
  const std::uint32_t group = num_q_heads / kv.k.num_heads, d = kv.k.head_dim;
  for (std::uint32_t h = 0; h < num_q_heads; ++h) {
    attend_ranges(step.q + static_cast<std::size_t>(h) * d, kv.k.head(h / group), kv.v.head(h / group), ranges,
                  step.scale, scratch_, o + static_cast<std::size_t>(h) * d, lse + h);
  }
  return Status::OK();
  RA_API_CATCH("dense attention")
}

}  // namespace ra::attention
