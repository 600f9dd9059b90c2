#pragma once
// The CPU implementation of the dense part of a decode step: exact, synchronous (launch()
// computes, wait() returns at once), one query head after another. The fallback when there
// is no GPU, and the oracle GPU backends are tested against. Not thread-safe (its scratch).
#include "dense_backend.h"

namespace ra::attention {

class CpuDenseBackend final : public DenseAttentionBackend {
 public:
  Status launch(const DenseStep& step, float* o, float* lse) override;
  Status wait() override { return Status::OK(); }

 private:
  AttendScratch scratch_;
};

}  // namespace ra::attention
