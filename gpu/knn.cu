#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <vector>

#include "gpu/cuda_check.h"
#include "gpu/device_buffer.h"
#include "gpu/knn.h"
#include "index/matrix.h"

namespace ra::gpu {
namespace {

constexpr std::uint32_t kQueryTile = 1024, kKeyTile = 16384;
constexpr int kSortSize = 2 * kMaxGpuKnn;  // shared buffer: the top-k so far + one chunk
constexpr int kThreads = 1024;

// Ranks (score, id) pairs: higher score first, then the smaller id.
__device__ inline bool better(float sa, unsigned ia, float sb, unsigned ib) {
  return sa > sb || (sa == sb && ia < ib);
}

// Sorts s/id[0, n) best first; n a power of two, at most kSortSize.
__device__ void bitonic_sort(float* s, unsigned* id, int n) {
  for (int size = 2; size <= n; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const int j = i ^ stride;
        if (j > i) {
          const bool best_first = (i & size) == 0;
          const bool swap = best_first ? better(s[j], id[j], s[i], id[i]) : better(s[i], id[i], s[j], id[j]);
          if (swap) {
            const float ts = s[i];
            s[i] = s[j];
            s[j] = ts;
            const unsigned ti = id[i];
            id[i] = id[j];
            id[j] = ti;
          }
        }
      }
      __syncthreads();
    }
  }
}

// One block per query of the tile: merges the scores of one key tile (column q of the
// column-major T x Q score matrix) into that query's top-k (best_s / best_id, k each, sorted).
__global__ void __launch_bounds__(kThreads) topk_kernel(const float* scores, unsigned tile_keys, unsigned first_key,
                                                         unsigned k, float* best_s, unsigned* best_id) {
  __shared__ float s[kSortSize];
  __shared__ unsigned id[kSortSize];
  __shared__ unsigned count;
  const unsigned q = blockIdx.x;
  const float* row = scores + static_cast<size_t>(q) * tile_keys;
  float* qs = best_s + static_cast<size_t>(q) * k;
  unsigned* qi = best_id + static_cast<size_t>(q) * k;
  for (unsigned i = threadIdx.x; i < k; i += blockDim.x) {
    s[i] = qs[i];
    id[i] = qi[i];
  }
  __syncthreads();
  for (unsigned c0 = 0; c0 < tile_keys; c0 += kMaxGpuKnn) {
    const float bar = s[k - 1];  // the k-th best so far (-inf while the list is not full)
    const unsigned bar_id = id[k - 1];
    const unsigned c1 = min(tile_keys, c0 + kMaxGpuKnn);
    if (threadIdx.x == 0) count = 0;
    __syncthreads();
    // Candidates that beat the k-th best go after the top-k in any order: the sort below
    // orders (score, id) totally, so the result does not depend on thread timing.
    for (unsigned i = c0 + threadIdx.x; i < c1; i += blockDim.x) {
      const float v = row[i];
      if (better(v, first_key + i, bar, bar_id)) {
        const unsigned slot = k + atomicAdd(&count, 1u);
        s[slot] = v;
        id[slot] = first_key + i;
      }
    }
    __syncthreads();
    const unsigned filled = k + count;
    __syncthreads();  // every thread has read count before the next chunk resets it
    if (filled == k) continue;
    int n = 1;
    while (n < static_cast<int>(filled)) n <<= 1;
    for (int i = static_cast<int>(filled) + threadIdx.x; i < n; i += blockDim.x) {
      s[i] = -INFINITY;
      id[i] = 0xffffffffu;
    }
    __syncthreads();
    bitonic_sort(s, id, n);
  }
  for (unsigned i = threadIdx.x; i < k; i += blockDim.x) {
    qs[i] = s[i];
    qi[i] = id[i];
  }
}

__global__ void init_kernel(float* s, unsigned* id, size_t count) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < count;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    s[i] = -INFINITY;
    id[i] = 0xffffffffu;
  }
}

// Dense f32 rows of a host view: the view itself when it is dense f32, else Matrix::copy_of's
// converted copy (f16 / bf16 keys widen exactly, so the GEMM sees the values the CPU scores).
Result<const float*> dense_rows(const MatrixView& m, Matrix* copy) {
  if (m.dtype == DType::kF32 && m.stride == m.dim) return m.f32_row(0);
  RA_ASSIGN_OR_RETURN(*copy, Matrix::copy_of(m));
  return static_cast<const float*>(copy->f32_row(0));
}

class Cublas {
 public:
  Status init() {
    RA_CUBLAS_RETURN(cublasCreate(&h_));
    return Status::OK();
  }
  ~Cublas() {
    if (h_ != nullptr) cublasDestroy(h_);
  }
  cublasHandle_t get() const { return h_; }

 private:
  cublasHandle_t h_ = nullptr;
};

}  // namespace

Status exact_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k, std::vector<NodeId>* knn) {
  return exact_knn_in_chunks(keys, queries, k, 0, knn);
}

Status exact_knn_in_chunks(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                           std::size_t max_device_keys, std::vector<NodeId>* knn) {
  RA_RETURN_IF_ERROR(validate_keys_and_queries(keys, queries));
  if (k == 0 || k > kMaxGpuKnn || k > keys.rows) {
    return Status::InvalidArgument("gpu kNN: k must be in [1, min(" + std::to_string(kMaxGpuKnn) + ", n)], got " +
                                   std::to_string(k));
  }
  const std::size_t n = keys.rows, m = queries.rows, d = keys.dim;
  Matrix key_copy, query_copy;
  RA_ASSIGN_OR_RETURN(const float* key_rows, dense_rows(keys, &key_copy));
  RA_ASSIGN_OR_RETURN(const float* query_rows, dense_rows(queries, &query_copy));
  // One call at a time per process: the chunk is sized by the memory free now (a decoder builds
  // its KV heads' indexes in parallel threads, all of them calling here).
  static std::mutex one_at_a_time;
  const std::lock_guard<std::mutex> lock(one_at_a_time);
  // Every query's running top-k stays on the device while the keys pass through in chunks.
  RA_ASSIGN_OR_RETURN(DeviceBuffer dq, DeviceBuffer::allocate(kQueryTile * d * sizeof(float)));
  RA_ASSIGN_OR_RETURN(DeviceBuffer dscores, DeviceBuffer::allocate(std::size_t{kQueryTile} * kKeyTile * sizeof(float)));
  RA_ASSIGN_OR_RETURN(DeviceBuffer dbest_s, DeviceBuffer::allocate(m * k * sizeof(float)));
  RA_ASSIGN_OR_RETURN(DeviceBuffer dbest_id, DeviceBuffer::allocate(m * k * sizeof(unsigned)));
  // The largest chunk of keys that fits in 90% of what is free now, whole key tiles.
  std::size_t free_bytes = 0, total_bytes = 0;
  RA_CUDA_RETURN(cudaMemGetInfo(&free_bytes, &total_bytes));
  const std::size_t tile_bytes = std::size_t{kKeyTile} * d * sizeof(float);
  std::size_t chunk = std::max<std::size_t>(1, free_bytes / 10 * 9 / tile_bytes) * kKeyTile;
  if (max_device_keys > 0) chunk = std::max<std::size_t>(kKeyTile, max_device_keys / kKeyTile * kKeyTile);
  chunk = std::min(chunk, n);
  RA_ASSIGN_OR_RETURN(DeviceBuffer dkeys, DeviceBuffer::allocate(chunk * d * sizeof(float)));
  Cublas blas;
  RA_RETURN_IF_ERROR(blas.init());
  init_kernel<<<256, 256>>>(static_cast<float*>(dbest_s.data()), static_cast<unsigned*>(dbest_id.data()), m * k);
  RA_CUDA_RETURN(cudaGetLastError());
  const float one = 1.0f, zero = 0.0f;
  for (std::size_t c0 = 0; c0 < n; c0 += chunk) {
    const std::size_t cn = std::min(chunk, n - c0);
    RA_RETURN_IF_ERROR(dkeys.upload(key_rows + c0 * d, cn * d * sizeof(float)));
    for (std::size_t q0 = 0; q0 < m; q0 += kQueryTile) {
      const auto nq = static_cast<unsigned>(std::min<std::size_t>(kQueryTile, m - q0));
      RA_RETURN_IF_ERROR(dq.upload(query_rows + q0 * d, nq * d * sizeof(float)));
      for (std::size_t t0 = 0; t0 < cn; t0 += kKeyTile) {
        const auto nt = static_cast<unsigned>(std::min<std::size_t>(kKeyTile, cn - t0));
        // Column-major: scores (nt x nq, ld nt) = keys_tile^T (nt x d) * queries (d x nq), so
        // column q (contiguous) holds query q's scores against the tile.
        RA_CUBLAS_RETURN(cublasSgemm(blas.get(), CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(nt), static_cast<int>(nq),
                                     static_cast<int>(d), &one, static_cast<const float*>(dkeys.data()) + t0 * d,
                                     static_cast<int>(d), static_cast<const float*>(dq.data()), static_cast<int>(d),
                                     &zero, static_cast<float*>(dscores.data()), static_cast<int>(nt)));
        topk_kernel<<<nq, kThreads>>>(static_cast<const float*>(dscores.data()), nt, static_cast<unsigned>(c0 + t0),
                                      k, static_cast<float*>(dbest_s.data()) + q0 * k,
                                      static_cast<unsigned*>(dbest_id.data()) + q0 * k);
        RA_CUDA_RETURN(cudaGetLastError());
      }
    }
  }
  std::vector<unsigned> ids(m * k);
  RA_RETURN_IF_ERROR(dbest_id.download(ids.data(), ids.size() * sizeof(unsigned)));
  knn->assign(ids.begin(), ids.end());
  return Status::OK();
}

}  // namespace ra::gpu
