#pragma once
// Internal: Lloyd's k-means on the block kernel, for whatever groups keys: the estimate of the
// rest of the attention (per-cluster summaries) and the build's clustered kNN (partitions).
#include <cstdint>
#include <vector>

#include "index/result.h"
#include "index/types.h"

namespace ra {

struct KMeans {
  std::size_t dim = 0;
  std::vector<float> centroids;           // clusters x dim
  std::vector<std::uint32_t> assignment;  // per row of the fitted keys: its nearest centroid
  std::size_t clusters() const noexcept { return dim == 0 ? 0 : centroids.size() / dim; }
};

/// `clusters` centroids seeded with evenly spaced rows (every part of a context gets some),
/// `iterations` Lloyd steps on every `sample_stride`-th row, then every row assigned. An empty
/// cluster keeps its seed. keys in any dtype; clusters in [1, keys.rows].
Result<KMeans> fit_kmeans(const MatrixView& keys, std::size_t clusters, int iterations,
                          std::size_t sample_stride = 1, std::uint32_t num_threads = 1);

/// out[r] = the nearest (L2) centroid of keys row r, for r in [begin, end): the largest
/// 2 k.c - |c|^2, tiles of rows against every centroid on the block kernel.
/// On num_threads threads (0: all); the same result at any count.
void assign_nearest(const MatrixView& keys, std::size_t begin, std::size_t end,
                    const std::vector<float>& centroids, std::vector<std::uint32_t>* out,
                    std::uint32_t num_threads = 1);

}  // namespace ra
