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

/// For every query (f32, m x d, host) the k best keys (n x d, host, f32 / f16 / bf16, scored
/// as their f32 values; both dense or strided)
/// by inner product, best first, ties to the smaller id (as FlatIndex): m x k ids into *knn.
/// Keys that do not fit in device memory pass through it in chunks (every query's running top-k
/// stays on the device: m x k x 8 bytes, with a 16384-key score tile per 1024 queries).
Status exact_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                 std::vector<NodeId>* knn);
/// exact_knn with at most max_device_keys keys (whole 16384-key tiles, at least one) on the
/// device at a time; 0: as many as 90% of the free device memory holds.
Status exact_knn_in_chunks(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                           std::size_t max_device_keys, std::vector<NodeId>* knn);

}  // namespace ra::gpu
