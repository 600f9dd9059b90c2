#include "index/kmeans.h"

#include <omp.h>

#include <algorithm>
#include <limits>
#include <string>

#include "index/threading.h"
#include "simd/inner_product.h"

namespace ra {
namespace {
constexpr std::size_t kTile = 64;
}  // namespace

void assign_nearest(const MatrixView& keys, std::size_t begin, std::size_t end,
                    const std::vector<float>& centroids, std::vector<std::uint32_t>* out,
                    std::uint32_t num_threads) {
  const std::size_t d = keys.dim, num_clusters = centroids.size() / d;
  const int threads = resolve_threads(num_threads);
  std::vector<float> norms(num_clusters);
  for (std::size_t c = 0; c < num_clusters; ++c) norms[c] = simd::dot(&centroids[c * d], &centroids[c * d], d);
  std::vector<std::vector<float>> tiles(threads, std::vector<float>(kTile * d)),
      scores(threads, std::vector<float>(kTile * num_clusters));  // before the region: nothing inside throws
  const std::size_t num_tiles = end > begin ? (end - begin + kTile - 1) / kTile : 0;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
  for (std::size_t t = 0; t < num_tiles; ++t) {
    std::vector<float>& tile = tiles[static_cast<std::size_t>(omp_get_thread_num())];
    std::vector<float>& score = scores[static_cast<std::size_t>(omp_get_thread_num())];
    const std::size_t r0 = begin + t * kTile, r1 = std::min(end, r0 + kTile);
    if (keys.stride == d) {  // dense rows: one conversion for the tile (a call per row dominated small dims)
      convert_to_f32(keys.row_bytes(r0), keys.dtype, (r1 - r0) * d, tile.data());
    } else {
      for (std::size_t r = r0; r < r1; ++r) convert_to_f32(keys.row_bytes(r), keys.dtype, d, &tile[(r - r0) * d]);
    }
    simd::dot_block(tile.data(), d, r1 - r0, centroids.data(), DType::kF32, d, num_clusters, d, score.data(),
                    num_clusters);
    for (std::size_t r = r0; r < r1; ++r) {
      const float* s = &score[(r - r0) * num_clusters];
      std::size_t best = 0;
      float best_v = -std::numeric_limits<float>::infinity();
      for (std::size_t c = 0; c < num_clusters; ++c) {
        const float v = 2.0f * s[c] - norms[c];
        if (v > best_v) best_v = v, best = c;
      }
      (*out)[r] = static_cast<std::uint32_t>(best);
    }
  }
}

Result<KMeans> fit_kmeans(const MatrixView& keys, std::size_t clusters, int iterations,
                          std::size_t sample_stride, std::uint32_t num_threads) {
  const std::size_t n = keys.rows, d = keys.dim, C = clusters;
  if (C == 0 || C > n || d == 0 || sample_stride == 0) {
    return Status::InvalidArgument("k-means: " + std::to_string(C) + " clusters of " + std::to_string(n) + " rows");
  }
  KMeans km;
  km.dim = d;
  km.centroids.assign(C * d, 0.0f);
  for (std::size_t c = 0; c < C; ++c) convert_to_f32(keys.row_bytes(c * n / C), keys.dtype, d, &km.centroids[c * d]);
  // Every sample_stride-th row is a view of the same memory with a longer stride: no copy.
  const MatrixView sample{keys.data, keys.dtype, (n + sample_stride - 1) / sample_stride, d,
                          keys.stride * sample_stride};
  std::vector<std::uint32_t> nearest(sample.rows);
  std::vector<float> row(d);
  std::vector<double> sum(C * d);
  std::vector<std::size_t> count(C);
  for (int it = 0; it < iterations; ++it) {
    assign_nearest(sample, 0, sample.rows, km.centroids, &nearest, num_threads);
    std::fill(sum.begin(), sum.end(), 0.0);
    std::fill(count.begin(), count.end(), 0);
    for (std::size_t r = 0; r < sample.rows; ++r) {
      convert_to_f32(sample.row_bytes(r), sample.dtype, d, row.data());
      const std::size_t c = nearest[r];
      ++count[c];
      for (std::size_t i = 0; i < d; ++i) sum[c * d + i] += row[i];
    }
    for (std::size_t c = 0; c < C; ++c) {
      if (count[c] == 0) continue;  // an empty cluster keeps its seed
      for (std::size_t i = 0; i < d; ++i) km.centroids[c * d + i] = static_cast<float>(sum[c * d + i] / count[c]);
    }
  }
  km.assignment.assign(n, 0);
  assign_nearest(keys, 0, n, km.centroids, &km.assignment, num_threads);
  return km;
}

}  // namespace ra
