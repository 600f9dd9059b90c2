#pragma once
// The CPU implementation of the dense part of a decode step: exact, synchronous (launch()
// computes, wait() returns at once), one query head after another. The fallback when there
// is no GPU, and the oracle GPU backends are tested against. Not thread-safe (its scratch).
#include <cstdint>
#include <span>

#include "dense_backend.h"

namespace ra::attention {

class CpuDenseBackend final : public DenseAttentionBackend {
 public:
  Status launch(const KvView& kv, const float* q, std::uint32_t num_q_heads,
                std::span<const TokenRange> ranges, float scale, float* o, float* lse) override;
  Status wait() override { return Status::OK(); }

 private:
  AttendScratch scratch_;
};

}  // namespace ra::attention
