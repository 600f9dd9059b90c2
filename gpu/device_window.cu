#include "gpu/device_window.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "gpu/cuda_check.h"

namespace ra::gpu {
namespace {

struct ScatterArgs {  // POD, passed by value
  const void* k;
  const void* v;
  long long token_stride, head_stride;  // source, elements
  void* dk;
  void* dv;
  unsigned slots, dim, first, num_sink, window;
};

// Block (token i, KV head h), one thread per channel: copies the token's K and V row into its
// slot and, after the sinks, into the slot's copy one window further. E: the element as bits.
template <typename E>
__global__ void scatter_kernel(ScatterArgs a) {
  const unsigned i = blockIdx.x, h = blockIdx.y, c = threadIdx.x;
  const unsigned p = a.first + i;
  const long long src = i * a.token_stride + h * a.head_stride + c;
  const bool ring = p >= a.num_sink;
  const unsigned slot = ring ? a.num_sink + (p - a.num_sink) % a.window : p;
  const long long dst = (static_cast<long long>(h) * a.slots + slot) * a.dim + c;
  const E k = static_cast<const E*>(a.k)[src], v = static_cast<const E*>(a.v)[src];
  E* dk = static_cast<E*>(a.dk);
  E* dv = static_cast<E*>(a.dv);
  dk[dst] = k;
  dv[dst] = v;
  if (ring) {
    const long long copy = dst + static_cast<long long>(a.window) * a.dim;
    dk[copy] = k;
    dv[copy] = v;
  }
}

}  // namespace

Result<DeviceWindow> DeviceWindow::create(const WindowShape& shape) {
  if (shape.num_kv_heads == 0 || shape.head_dim == 0 || shape.head_dim > 1024) {
    return Status::InvalidArgument("device window: KV heads must be >= 1 and head_dim in [1, 1024]");
  }
  DeviceWindow w;
  w.shape_ = shape;
  w.slots_ = {shape.num_sink, shape.window};
  const std::size_t bytes = static_cast<std::size_t>(shape.num_kv_heads) * w.slots_.slots() * shape.head_dim *
                            dtype_size(shape.dtype);
  RA_ASSIGN_OR_RETURN(w.k_, DeviceBuffer::allocate(bytes));
  RA_ASSIGN_OR_RETURN(w.v_, DeviceBuffer::allocate(bytes));
  cudaEvent_t e = nullptr;
  RA_CUDA_RETURN(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
  w.evicted_ = e;
  return Result<DeviceWindow>(std::move(w));
}

DeviceWindow::DeviceWindow(DeviceWindow&& o) noexcept
    : shape_(o.shape_), slots_(o.slots_), k_(std::move(o.k_)), v_(std::move(o.v_)), size_(o.size_),
      ring_first_(o.ring_first_), evicted_(std::exchange(o.evicted_, nullptr)) {}

DeviceWindow& DeviceWindow::operator=(DeviceWindow&& o) noexcept {
  if (this != &o) {
    if (evicted_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(evicted_));
    shape_ = o.shape_;
    slots_ = o.slots_;
    k_ = std::move(o.k_);
    v_ = std::move(o.v_);
    size_ = o.size_;
    ring_first_ = o.ring_first_;
    evicted_ = std::exchange(o.evicted_, nullptr);
  }
  return *this;
}

DeviceWindow::~DeviceWindow() {
  if (evicted_ != nullptr) cudaEventDestroy(static_cast<cudaEvent_t>(evicted_));
}

DeviceKv DeviceWindow::kv() const noexcept {
  const std::int64_t d = shape_.head_dim;
  return {k_.data(), v_.data(), shape_.dtype, shape_.num_kv_heads, shape_.head_dim, slots_.slots(), d,
          d * slots_.slots()};
}

bool DeviceWindow::holds(attention::TokenRange r) const noexcept {
  if (r.size() == 0) return true;
  if (r.end > size_) return false;
  if (r.end <= shape_.num_sink) return true;
  const std::uint32_t oldest = size_ > shape_.window ? size_ - shape_.window : 0;
  return r.begin >= shape_.num_sink && r.begin >= ring_first_ && r.begin >= oldest;
}

Status DeviceWindow::skip_to(std::uint32_t p) {
  if (p < size_) return Status::InvalidArgument("device window: cannot skip back to an earlier position");
  if (p > size_ && size_ < shape_.num_sink) {
    return Status::InvalidArgument("device window: the sinks must be appended before skipping");
  }
  if (p > size_) ring_first_ = p;
  size_ = p;
  return Status::OK();
}

Status DeviceWindow::append(const TokenRows& rows, std::uint32_t count, void* stream, const HostCache* evict_to) {
  if (count == 0) return Status::OK();
  if (rows.k == nullptr || rows.v == nullptr) return Status::InvalidArgument("device window: null token rows");
  if (count > UINT32_MAX - size_) return Status::InvalidArgument("device window: position overflow");
  const std::uint32_t first = size_, end = size_ + count;
  const std::uint32_t ring_tokens = end - std::max(first, std::min(end, shape_.num_sink));
  if (ring_tokens > shape_.window) {
    return Status::InvalidArgument("device window: " + std::to_string(ring_tokens) + " tokens after the sinks in one append, more than the window of " +
                                   std::to_string(shape_.window));
  }
  const auto s = static_cast<cudaStream_t>(stream);
  const std::size_t elem = dtype_size(shape_.dtype), row = shape_.head_dim * elem;
  // The tokens these overwrite leave first: their slots are read before the scatter below
  // writes them (same stream).
  if (evict_to != nullptr) {
    for (std::uint32_t p = first; p < end; ++p) {
      std::uint32_t out = 0;
      if (!slots_.leaves_on_append(p, &out) || out < ring_first_) continue;
      const std::size_t slot_offset = static_cast<std::size_t>(slots_.slot_of(out)) * row;
      const std::size_t host_offset = static_cast<std::size_t>(out) * evict_to->token_stride * elem;
      const std::size_t host_pitch = evict_to->head_stride * elem, slot_pitch = slots_.slots() * row;
      RA_CUDA_RETURN(cudaMemcpy2DAsync(static_cast<char*>(evict_to->k) + host_offset, host_pitch,
                                       static_cast<const char*>(k_.data()) + slot_offset, slot_pitch, row,
                                       shape_.num_kv_heads, cudaMemcpyDeviceToHost, s));
      RA_CUDA_RETURN(cudaMemcpy2DAsync(static_cast<char*>(evict_to->v) + host_offset, host_pitch,
                                       static_cast<const char*>(v_.data()) + slot_offset, slot_pitch, row,
                                       shape_.num_kv_heads, cudaMemcpyDeviceToHost, s));
    }
  }
  ScatterArgs a{rows.k, rows.v, rows.token_stride, rows.head_stride, k_.data(), v_.data(),
                slots_.slots(), shape_.head_dim, first, shape_.num_sink, std::max(shape_.window, 1u)};
  const dim3 grid(count, shape_.num_kv_heads);
  if (elem == 4) {
    scatter_kernel<std::uint32_t><<<grid, shape_.head_dim, 0, s>>>(a);
  } else {
    scatter_kernel<std::uint16_t><<<grid, shape_.head_dim, 0, s>>>(a);
  }
  RA_CUDA_RETURN(cudaGetLastError());
  RA_CUDA_RETURN(cudaEventRecord(static_cast<cudaEvent_t>(evicted_), s));
  size_ = end;
  return Status::OK();
}

Status DeviceWindow::wait_evicted() const {
  RA_CUDA_RETURN(cudaEventSynchronize(static_cast<cudaEvent_t>(evicted_)));
  return Status::OK();
}

}  // namespace ra::gpu
