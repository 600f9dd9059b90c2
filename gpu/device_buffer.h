#pragma once
// Device memory without CUDA types in the header: allocation, copies, a stream and a fence,
// so that CPU-only code (tests, benchmarks, the engine API) can hold and fill device buffers.
#include <cstddef>

#include "../index/result.h"

namespace ra::gpu {

/// Owns one cudaMalloc allocation; movable, not copyable.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  static Result<DeviceBuffer> allocate(std::size_t bytes);
  DeviceBuffer(DeviceBuffer&& other) noexcept;
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer();

  void* data() const noexcept { return data_; }
  std::size_t bytes() const noexcept { return bytes_; }
  /// Synchronous copies of `bytes` (at most bytes()) from / to host memory, at byte `offset`.
  Status upload(const void* host, std::size_t bytes, std::size_t offset = 0);
  Status download(void* host, std::size_t bytes, std::size_t offset = 0) const;
  Status fill_zero();

 private:
  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

/// Waits for all work on the current device.
Status synchronize();

}  // namespace ra::gpu
