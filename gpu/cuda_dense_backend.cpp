#include "gpu/cuda_dense_backend.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "gpu/cuda_check.h"
#include "index/api_guard.h"

namespace ra::gpu {

Result<std::unique_ptr<CudaDenseBackend>> CudaDenseBackend::create(std::uint32_t num_q_heads,
                                                                   const WindowShape& shape) {
  if (shape.num_kv_heads == 0 || num_q_heads == 0 || num_q_heads % shape.num_kv_heads != 0) {
    return Status::InvalidArgument("cuda dense backend: query heads must be a positive multiple of the KV heads");
  }
  RA_ASSIGN_OR_RETURN(DeviceWindow window, DeviceWindow::create(shape));
  std::unique_ptr<CudaDenseBackend> b(new CudaDenseBackend(num_q_heads, std::move(window)));
  RA_ASSIGN_OR_RETURN(b->decoder_, DenseDecoder::create(num_q_heads, shape.head_dim));
  RA_ASSIGN_OR_RETURN(b->stream_, Stream::create());
  // Staging for one catch-up at most: the sinks and a full window, K rows then V rows.
  const std::size_t row = static_cast<std::size_t>(shape.head_dim) * dtype_size(shape.dtype);
  const std::size_t staged = 2 * static_cast<std::size_t>(shape.num_sink + shape.window) * shape.num_kv_heads * row;
  const std::size_t q_bytes = static_cast<std::size_t>(num_q_heads) * shape.head_dim * sizeof(float);
  const std::size_t out_bytes = q_bytes + num_q_heads * sizeof(float);
  RA_ASSIGN_OR_RETURN(b->staging_, PinnedBuffer::allocate(staged));
  RA_ASSIGN_OR_RETURN(b->staging_dev_, DeviceBuffer::allocate(staged));
  RA_ASSIGN_OR_RETURN(b->q_pinned_, PinnedBuffer::allocate(q_bytes));
  RA_ASSIGN_OR_RETURN(b->q_dev_, DeviceBuffer::allocate(q_bytes));
  RA_ASSIGN_OR_RETURN(b->out_pinned_, PinnedBuffer::allocate(out_bytes));
  RA_ASSIGN_OR_RETURN(b->out_dev_, DeviceBuffer::allocate(out_bytes));
  return Result<std::unique_ptr<CudaDenseBackend>>(std::move(b));
}

CudaDenseBackend::~CudaDenseBackend() {
  if (in_flight_) static_cast<void>(stream_.synchronize());
}

Status CudaDenseBackend::catch_up(const attention::KvView& host) {
  const WindowShape& w = window_.shape();
  const std::uint32_t T = host.k.num_tokens, have = window_.size();
  if (T < have) return Status::InvalidArgument("cuda dense backend: the cache has fewer tokens than before");
  // The sinks still missing, then the part of the latest `window` tokens not on the device.
  const std::uint32_t sink_end = std::min(w.num_sink, T), sink_begin = std::min(have, sink_end);
  std::uint32_t ring_begin = std::max(w.num_sink, have);
  if (T > ring_begin && T - ring_begin > w.window) ring_begin = T - w.window;
  const std::uint32_t n_sink = sink_end - sink_begin, n_ring = T > ring_begin ? T - ring_begin : 0;
  const std::uint32_t n = n_sink + n_ring;
  if (n == 0) return Status::OK();

  const std::uint32_t H = w.num_kv_heads;
  const std::size_t row = static_cast<std::size_t>(w.head_dim) * dtype_size(w.dtype);
  const std::size_t half = staging_.bytes() / 2;  // K rows, then V rows: [token][head][dim]
  auto* k_stage = static_cast<std::byte*>(staging_.data());
  auto* v_stage = k_stage + half;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint32_t p = i < n_sink ? sink_begin + i : ring_begin + (i - n_sink);
    for (std::uint32_t h = 0; h < H; ++h) {
      const std::size_t at = (static_cast<std::size_t>(i) * H + h) * row;
      std::memcpy(k_stage + at, host.k.head(h).row_bytes(p), row);
      std::memcpy(v_stage + at, host.v.head(h).row_bytes(p), row);
    }
  }
  const auto s = static_cast<cudaStream_t>(stream_.handle());
  auto* k_dev = static_cast<std::byte*>(staging_dev_.data());
  auto* v_dev = k_dev + half;
  const std::size_t used = static_cast<std::size_t>(n) * H * row;
  RA_CUDA_RETURN(cudaMemcpyAsync(k_dev, k_stage, used, cudaMemcpyHostToDevice, s));
  RA_CUDA_RETURN(cudaMemcpyAsync(v_dev, v_stage, used, cudaMemcpyHostToDevice, s));
  const std::int64_t token_stride = static_cast<std::int64_t>(H) * w.head_dim, head_stride = w.head_dim;
  RA_RETURN_IF_ERROR(window_.append({k_dev, v_dev, token_stride, head_stride}, n_sink, s));
  if (n_ring > 0) {
    RA_RETURN_IF_ERROR(window_.skip_to(ring_begin));  // tokens before it never reach the device
    const std::size_t ring_offset = static_cast<std::size_t>(n_sink) * H * row;
    RA_RETURN_IF_ERROR(window_.append({k_dev + ring_offset, v_dev + ring_offset, token_stride, head_stride}, n_ring, s));
  }
  uploaded_ += n;
  return Status::OK();
}

Status CudaDenseBackend::launch(const attention::DenseStep& step, float* o, float* lse) {
  if (in_flight_) return Status::InvalidArgument("cuda dense backend: launch before the previous launch's wait()");
  Status st = queue(step, o, lse);
  // A launch that fails half-way may have copies from the pinned staging in flight: let them
  // finish before the next launch rewrites it.
  if (!st.ok()) static_cast<void>(stream_.synchronize());
  return st;
}

Status CudaDenseBackend::queue(const attention::DenseStep& step, float* o, float* lse) {
  RA_API_TRY
  const WindowShape& w = window_.shape();
  const attention::KvView& host = step.host;
  RA_RETURN_IF_ERROR(attention::validate_kv(host));
  if (host.k.dtype != w.dtype || host.k.num_heads != w.num_kv_heads || host.k.head_dim != w.head_dim) {
    return Status::InvalidArgument("cuda dense backend: the cache's dtype, KV heads or head_dim differ from the backend's");
  }
  if (step.num_q_heads != num_q_heads_ || step.q == nullptr || o == nullptr || lse == nullptr) {
    return Status::InvalidArgument("cuda dense backend: " + std::to_string(num_q_heads_) +
                                   " query heads and non-null q, o and lse expected");
  }
  RA_RETURN_IF_ERROR(catch_up(host));
  DenseDecodeArgs args;
  const attention::TokenRange wanted[2] = {step.sinks, step.window};
  for (int r = 0; r < 2; ++r) {
    if (!window_.holds(wanted[r]) || !window_.slots().slots_of(wanted[r], &args.ranges[r])) {
      return Status::InvalidArgument("cuda dense backend: tokens [" + std::to_string(wanted[r].begin) + ", " +
                                     std::to_string(wanted[r].end) + ") are not in the device window (" +
                                     std::to_string(w.num_sink) + " sinks, the latest " + std::to_string(w.window) + ")");
    }
  }
  const std::size_t q_bytes = static_cast<std::size_t>(num_q_heads_) * w.head_dim * sizeof(float);
  std::memcpy(q_pinned_.data(), step.q, q_bytes);
  const auto s = static_cast<cudaStream_t>(stream_.handle());
  RA_CUDA_RETURN(cudaMemcpyAsync(q_dev_.data(), q_pinned_.data(), q_bytes, cudaMemcpyHostToDevice, s));
  auto* out = static_cast<float*>(out_dev_.data());
  args.kv = window_.kv();
  args.q = static_cast<const float*>(q_dev_.data());
  args.num_q_heads = num_q_heads_;
  args.scale = step.scale;
  args.o = out;
  args.lse = out + static_cast<std::size_t>(num_q_heads_) * w.head_dim;
  args.stream = stream_.handle();
  RA_RETURN_IF_ERROR(decoder_.run(args));
  RA_CUDA_RETURN(cudaMemcpyAsync(out_pinned_.data(), out, out_pinned_.bytes(), cudaMemcpyDeviceToHost, s));
  o_ = o;
  lse_ = lse;
  in_flight_ = true;
  return Status::OK();
  RA_API_CATCH("cuda dense launch")
}

Status CudaDenseBackend::wait() {
  if (!in_flight_) return Status::OK();
  in_flight_ = false;
  RA_RETURN_IF_ERROR(stream_.synchronize());
  const std::size_t o_floats = static_cast<std::size_t>(num_q_heads_) * window_.shape().head_dim;
  const auto* out = static_cast<const float*>(out_pinned_.data());
  std::memcpy(o_, out, o_floats * sizeof(float));
  std::memcpy(lse_, out + o_floats, num_q_heads_ * sizeof(float));
  return Status::OK();
}

}  // namespace ra::gpu
