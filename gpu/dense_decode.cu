#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

#include "gpu/cuda_check.h"
#include "gpu/dense_decode.h"

namespace ra::gpu {
namespace {

constexpr int kWarps = 4;  // warps per block; each warp takes every kWarps-th token

__device__ inline float to_f(float x) { return x; }
__device__ inline float to_f(__half x) { return __half2float(x); }
__device__ inline float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }

struct KernelArgs {  // POD, passed by value
  const void* k;
  const void* v;
  long long token_stride, head_stride;
  const float* q;
  int group;  // query heads per KV head
  unsigned r0_begin, r0_size, r1_begin, total;
  float scale;
  unsigned splits, tokens_per_split;
  float* part_ml;  // [head][split][2]: running max, sum of exp
  float* part_o;   // [head][split][D]: sum of exp-weighted values
};

// One block per (query head, split). Lane j of a warp holds channels j, j + 32, ... (E of
// them), so every load of a key or value row is coalesced; the dot product is a warp
// reduction; each warp keeps an online softmax; the block merges its warps at the end.
template <typename T, int E>
__global__ void __launch_bounds__(kWarps * 32) split_kernel(KernelArgs a) {
  constexpr int D = 32 * E;
  const int h = blockIdx.x;
  const unsigned split = blockIdx.y;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const long long kv_head = h / a.group;
  const T* K = static_cast<const T*>(a.k) + kv_head * a.head_stride;
  const T* V = static_cast<const T*>(a.v) + kv_head * a.head_stride;
  float q[E], acc[E];
#pragma unroll
  for (int j = 0; j < E; ++j) {
    q[j] = a.q[static_cast<long long>(h) * D + lane + 32 * j] * a.scale;
    acc[j] = 0.0f;
  }
  float m = -INFINITY, l = 0.0f;
  const unsigned t0 = split * a.tokens_per_split;
  const unsigned t1 = min(a.total, t0 + a.tokens_per_split);
  for (unsigned i = t0 + warp; i < t1; i += kWarps) {
    const long long t = i < a.r0_size ? a.r0_begin + i : a.r1_begin + (i - a.r0_size);
    const T* kr = K + t * a.token_stride;
    const T* vr = V + t * a.token_stride;
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < E; ++j) s += q[j] * to_f(kr[lane + 32 * j]);
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(0xffffffffu, s, off);
    const float m_new = fmaxf(m, s);
    const float corr = __expf(m - m_new);  // 0 on the first token (m = -inf)
    const float p = __expf(s - m_new);
    l = l * corr + p;
#pragma unroll
    for (int j = 0; j < E; ++j) acc[j] = acc[j] * corr + p * to_f(vr[lane + 32 * j]);
    m = m_new;
  }
  __shared__ float wm[kWarps], wl[kWarps], wo[kWarps][D];
  if (lane == 0) {
    wm[warp] = m;
    wl[warp] = l;
  }
#pragma unroll
  for (int j = 0; j < E; ++j) wo[warp][lane + 32 * j] = acc[j];
  __syncthreads();
  float big = -INFINITY;
  for (int w = 0; w < kWarps; ++w) big = fmaxf(big, wm[w]);
  const long long slot = static_cast<long long>(h) * a.splits + split;
  for (int c = threadIdx.x; c < D; c += blockDim.x) {
    float o = 0.0f;
    if (big != -INFINITY) {
      for (int w = 0; w < kWarps; ++w) o += wo[w][c] * __expf(wm[w] - big);
    }
    a.part_o[slot * D + c] = o;
  }
  if (threadIdx.x == 0) {
    float sum = 0.0f;
    if (big != -INFINITY) {
      for (int w = 0; w < kWarps; ++w) sum += wl[w] * __expf(wm[w] - big);
    }
    a.part_ml[2 * slot] = big;
    a.part_ml[2 * slot + 1] = sum;
  }
}

// One block per query head, one thread per channel: the splits merged by log-sum-exp.
__global__ void combine_kernel(const float* part_ml, const float* part_o, unsigned splits, int dim,
                               float* o, float* lse) {
  const int h = blockIdx.x, c = threadIdx.x;
  const long long base = static_cast<long long>(h) * splits;
  float big = -INFINITY;
  for (unsigned s = 0; s < splits; ++s) big = fmaxf(big, part_ml[2 * (base + s)]);
  if (big == -INFINITY) {  // no token at all
    o[static_cast<long long>(h) * dim + c] = 0.0f;
    if (c == 0) lse[h] = -INFINITY;
    return;
  }
  float sum = 0.0f, acc = 0.0f;
  for (unsigned s = 0; s < splits; ++s) {
    const float w = __expf(part_ml[2 * (base + s)] - big);
    sum += part_ml[2 * (base + s) + 1] * w;
    acc += part_o[(base + s) * dim + c] * w;
  }
  o[static_cast<long long>(h) * dim + c] = acc / sum;
  if (c == 0) lse[h] = big + logf(sum);
}

template <typename T>
void launch_split(const KernelArgs& a, std::uint32_t heads, std::uint32_t dim, cudaStream_t stream) {
  const dim3 grid(heads, a.splits), block(kWarps * 32);
  if (dim == 64) split_kernel<T, 2><<<grid, block, 0, stream>>>(a);
  if (dim == 128) split_kernel<T, 4><<<grid, block, 0, stream>>>(a);
  if (dim == 256) split_kernel<T, 8><<<grid, block, 0, stream>>>(a);
}

}  // namespace

Result<DenseDecoder> DenseDecoder::create(std::uint32_t max_q_heads, std::uint32_t max_head_dim) {
  if (max_q_heads == 0 || max_q_heads > 65535) return Status::InvalidArgument("max_q_heads must be in [1, 65535]");
  if (max_head_dim != 64 && max_head_dim != 128 && max_head_dim != 256) {
    return Status::InvalidArgument("head_dim must be 64, 128 or 256, got " + std::to_string(max_head_dim));
  }
  DenseDecoder d;
  d.max_q_heads_ = max_q_heads;
  d.max_head_dim_ = max_head_dim;
  int device = 0;
  RA_CUDA_RETURN(cudaGetDevice(&device));
  RA_CUDA_RETURN(cudaDeviceGetAttribute(&d.multiprocessors_, cudaDevAttrMultiProcessorCount, device));
  const std::size_t slots = static_cast<std::size_t>(max_q_heads) * kMaxSplits;
  RA_ASSIGN_OR_RETURN(d.partial_ml_, DeviceBuffer::allocate(slots * 2 * sizeof(float)));
  RA_ASSIGN_OR_RETURN(d.partial_o_, DeviceBuffer::allocate(slots * max_head_dim * sizeof(float)));
  return Result<DenseDecoder>(std::move(d));
}

std::uint32_t DenseDecoder::splits_for(std::uint32_t tokens, std::uint32_t num_q_heads) const noexcept {
  // Enough blocks for about four per multiprocessor, but at least 64 tokens per block.
  const std::uint32_t want = std::max<std::uint32_t>(
      1, (4u * static_cast<std::uint32_t>(multiprocessors_) + num_q_heads - 1) / std::max(1u, num_q_heads));
  const std::uint32_t most = std::max<std::uint32_t>(1, (tokens + 63) / 64);
  return std::min({want, most, kMaxSplits});
}

Status DenseDecoder::run(const DenseDecodeArgs& x) {
  const DeviceKv& kv = x.kv;
  if (kv.k == nullptr || kv.v == nullptr || x.q == nullptr || x.o == nullptr || x.lse == nullptr) {
    return Status::InvalidArgument("dense decode: null device pointer");
  }
  if (kv.head_dim != 64 && kv.head_dim != 128 && kv.head_dim != 256) {
    return Status::InvalidArgument("dense decode: head_dim must be 64, 128 or 256, got " + std::to_string(kv.head_dim));
  }
  if (kv.head_dim > max_head_dim_ || x.num_q_heads > max_q_heads_ || x.num_q_heads == 0) {
    return Status::InvalidArgument("dense decode: more query heads or a larger head than the decoder was made for");
  }
  if (kv.num_kv_heads == 0 || x.num_q_heads % kv.num_kv_heads != 0) {
    return Status::InvalidArgument("dense decode: query heads must be a multiple of the KV heads");
  }
  if (kv.token_stride < static_cast<std::int64_t>(kv.head_dim) || kv.head_stride < 0) {
    return Status::InvalidArgument("dense decode: token stride below the head size, or a negative head stride");
  }
  const attention::TokenRange r0 = x.ranges[0], r1 = x.ranges[1];
  for (const auto& r : x.ranges) {
    if (r.size() > 0 && r.end > kv.num_tokens) {
      return Status::InvalidArgument("dense decode: range [" + std::to_string(r.begin) + ", " + std::to_string(r.end) +
                                     ") past the " + std::to_string(kv.num_tokens) + " tokens");
    }
  }
  if (r0.size() > 0 && r1.size() > 0 && r0.begin < r1.end && r1.begin < r0.end) {
    return Status::InvalidArgument("dense decode: the two ranges overlap");
  }
  KernelArgs a{};
  a.k = kv.k;
  a.v = kv.v;
  a.token_stride = kv.token_stride;
  a.head_stride = kv.head_stride;
  a.q = x.q;
  a.group = static_cast<int>(x.num_q_heads / kv.num_kv_heads);
  a.r0_begin = r0.begin;
  a.r0_size = r0.size();
  a.r1_begin = r1.begin;
  a.total = r0.size() + r1.size();
  a.scale = x.scale;
  a.splits = splits_for(a.total, x.num_q_heads);
  a.tokens_per_split = std::max<unsigned>(1, (a.total + a.splits - 1) / a.splits);
  a.part_ml = static_cast<float*>(partial_ml_.data());
  a.part_o = static_cast<float*>(partial_o_.data());
  const auto stream = static_cast<cudaStream_t>(x.stream);
  switch (kv.dtype) {
    case DType::kF32: launch_split<float>(a, x.num_q_heads, kv.head_dim, stream); break;
    case DType::kF16: launch_split<__half>(a, x.num_q_heads, kv.head_dim, stream); break;
    case DType::kBF16: launch_split<__nv_bfloat16>(a, x.num_q_heads, kv.head_dim, stream); break;
  }
  RA_CUDA_RETURN(cudaGetLastError());
  combine_kernel<<<x.num_q_heads, kv.head_dim, 0, stream>>>(a.part_ml, a.part_o, a.splits,
                                                            static_cast<int>(kv.head_dim), x.o, x.lse);
  RA_CUDA_RETURN(cudaGetLastError());
  return Status::OK();
}

}  // namespace ra::gpu
