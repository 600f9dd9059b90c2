#pragma once
// The CUDA backend of the decode step's dense part: the static set lives in a DeviceWindow;
// launch() copies to it the tokens of the host cache it does not hold yet (through pinned
// staging: one memcpy per row on the CPU, one upload and one scatter kernel), uploads q, runs
// DenseDecoder on its own stream and queues the copy of o and lse back; it returns at once, so
// the CPU retrieval runs meanwhile; wait() blocks on the stream and hands the result over.
// An engine whose new K/V rows are already on the device appends them to window() itself
// (then launch() copies nothing). CUDA-free header.
#include <cstdint>
#include <memory>

#include "../attention/dense_backend.h"
#include "dense_decode.h"
#include "device_buffer.h"
#include "device_window.h"

namespace ra::gpu {

class CudaDenseBackend final : public attention::DenseAttentionBackend {
 public:
  /// For num_q_heads query heads over a cache of `shape` (head sizes 64, 128, 256) on the
  /// current device.
  static Result<std::unique_ptr<CudaDenseBackend>> create(std::uint32_t num_q_heads, const WindowShape& shape);

  /// Waits for a launch still in flight (its copies target buffers freed here).
  ~CudaDenseBackend() override;

  Status launch(const attention::DenseStep& step, float* o, float* lse) override;
  Status wait() override;

  DeviceWindow& window() noexcept { return window_; }
  void* stream() const noexcept { return stream_.handle(); }
  /// Tokens copied from the host cache so far (0 for an engine that appends on the device).
  std::uint64_t uploaded_tokens() const noexcept { return uploaded_; }

 private:
  CudaDenseBackend(std::uint32_t num_q_heads, DeviceWindow window) : num_q_heads_(num_q_heads), window_(std::move(window)) {}
  /// Brings the window up to the host cache's T tokens.
  Status catch_up(const attention::KvView& host);
  /// Everything launch() does once it is allowed to start.
  Status queue(const attention::DenseStep& step, float* o, float* lse);

  std::uint32_t num_q_heads_;
  DeviceWindow window_;
  DenseDecoder decoder_;
  Stream stream_;
  PinnedBuffer staging_, q_pinned_, out_pinned_;  // token rows; q; o then lse
  DeviceBuffer staging_dev_, q_dev_, out_dev_;
  float* o_ = nullptr;  // the caller's outputs of the launch in flight
  float* lse_ = nullptr;
  bool in_flight_ = false;
  std::uint64_t uploaded_ = 0;
};

}  // namespace ra::gpu
