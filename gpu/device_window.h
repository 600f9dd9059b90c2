#pragma once
// The static set of one layer in device memory: the first num_sink tokens and the latest
// `window`, K and V of every KV head, laid out by WindowSlots (window_slots.h). Tokens come in
// order from any memory the device can read (an engine's K/V projection output on the device,
// or pinned host staging); a token that leaves the window can be copied to a host cache first,
// asynchronously on the same stream, with an event the CPU side waits on before it reads it.
// CUDA-free header (the stream is a void*).
#include <cstdint>

#include "../simd/dtype.h"
#include "dense_decode.h"
#include "device_buffer.h"
#include "window_slots.h"

namespace ra::gpu {

struct WindowShape {
  std::uint32_t num_kv_heads = 0, head_dim = 0;
  DType dtype = DType::kF16;
  std::uint32_t num_sink = 4, window = 64;
};

/// K/V rows of consecutive tokens: token i, KV head h at k + i * token_stride + h * head_stride
/// (elements of the window's dtype).
struct TokenRows {
  const void* k = nullptr;
  const void* v = nullptr;
  std::int64_t token_stride = 0, head_stride = 0;
};

/// Where tokens leaving the window go: host memory laid out like TokenRows, indexed by the
/// token's position (pinned memory for the copy to overlap with the CPU).
struct HostCache {
  void* k = nullptr;
  void* v = nullptr;
  std::int64_t token_stride = 0, head_stride = 0;
};

class DeviceWindow {
 public:
  static Result<DeviceWindow> create(const WindowShape& shape);
  DeviceWindow(DeviceWindow&&) noexcept;
  DeviceWindow& operator=(DeviceWindow&&) noexcept;
  ~DeviceWindow();

  /// Appends `count` tokens at positions size() .. size() + count - 1, asynchronously on
  /// `stream`. At most `window` of them may come after the sinks. Each token that leaves the
  /// window is copied to `evict_to` first (when given) and marked by the eviction event.
  Status append(const TokenRows& rows, std::uint32_t count, void* stream, const HostCache* evict_to = nullptr);
  /// Continues at position p >= size() with the tokens in between never stored (nothing to
  /// evict for them): for a caller whose host cache already holds every token. Needs the
  /// sinks complete.
  Status skip_to(std::uint32_t p);
  /// Blocks until every eviction queued so far has landed in its host cache.
  Status wait_evicted() const;

  /// Tokens appended or skipped so far (the next position).
  std::uint32_t size() const noexcept { return size_; }
  const WindowShape& shape() const noexcept { return shape_; }
  const WindowSlots& slots() const noexcept { return slots_; }
  /// The slots as a KV cache for DenseDecoder: ranges from WindowSlots::slots_of.
  DeviceKv kv() const noexcept;
  /// True when positions r are all on the device now (appended, not skipped, not yet left).
  bool holds(attention::TokenRange r) const noexcept;

 private:
  DeviceWindow() = default;
  WindowShape shape_;
  WindowSlots slots_;
  DeviceBuffer k_, v_;
  std::uint32_t size_ = 0, ring_first_ = 0;  // ring tokens below ring_first_ were skipped
  void* evicted_ = nullptr;                  // cudaEvent_t, recorded after each append
};

}  // namespace ra::gpu
