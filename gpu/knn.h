#pragma once
// Exact top-k by inner product on the GPU, for the index build's training-query kNN: cuBLAS
// SGEMM over tiles of queries x keys, and per query a top-k kept on the device (candidates
// above the running k-th best are merged by a bitonic sort in shared memory), so that only the
// ids come back. Plugs into BuildConfig::knn_provider. CUDA-free header.
#include <cstdint>
#include <vector>

#include "../index/result.h"
#include "../index/types.h"

namespace ra::gpu {

/// The largest k gpu_exact_knn takes.
inline constexpr std::uint32_t kMaxGpuKnn = 2048;

/// For every query (f32, m x d, host) the k best keys (f32, n x d, host; both dense or strided)
/// by inner product, best first, ties to the smaller id (as FlatIndex): m x k ids into *knn.
/// The keys must fit in device memory (with a 16384-key score tile per 1024 queries).
Status exact_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                 std::vector<NodeId>* knn);

}  // namespace ra::gpu
