#pragma once
// Device and page-locked host memory without CUDA types in the header: allocation, copies, a
// stream and a fence,
// so that CPU-only code (tests, benchmarks, the engine API) can hold and fill device buffers.
#include <cstddef>
#include <memory>

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

/// Page-locked host memory (cudaMallocHost): what asynchronous copies to and from the device
/// need to overlap with the CPU. Movable, not copyable.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  static Result<PinnedBuffer> allocate(std::size_t bytes);
  void* data() const noexcept { return data_.get(); }
  std::size_t bytes() const noexcept { return data_ ? bytes_ : 0; }

 private:
  struct Free {
    void operator()(void* p) const noexcept;
  };
  std::unique_ptr<void, Free> data_;
  std::size_t bytes_ = 0;
};

/// An owned non-blocking CUDA stream (a cudaStream_t as void*). Movable, not copyable.
class Stream {
 public:
  Stream() = default;
  static Result<Stream> create();
  void* handle() const noexcept { return stream_.get(); }
  /// Waits for everything queued on the stream so far.
  Status synchronize() const;

 private:
  struct Destroy {
    void operator()(void* s) const noexcept;
  };
  std::unique_ptr<void, Destroy> stream_;
};

/// Waits for all work on the current device.
Status synchronize();

}  // namespace ra::gpu
