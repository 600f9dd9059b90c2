#pragma once
// An estimate of the attention that retrieval leaves out: the keys of a head grouped in clusters
// with their statistics (count, per-channel mean and variance of the keys, mean of the values,
// radius), so that the softmax mass of a cluster's keys is estimated without reading them:
//   sum_j exp(s q.k_j) ~= n exp(s q.mu + s^2/2 q^T diag(var) q)
// (the moment generating function of a Gaussian fitted to the cluster; the centroid alone
// underestimates the mean of exp), the correction capped at s |q| r, r the largest distance of
// a key to the mean (a bound the Gaussian exceeds on light-tailed clusters: on a stories260K
// head it made the estimate 7x worse than none), and their weighted values by the cluster's
// mean value. Keys the caller attends exactly (the retrieved ones) are removed from their
// clusters' statistics first, so nothing is counted twice. The result is a partial (o, lse)
// merged like the others.
//
// Reads 3 numbers per channel per cluster (the keys' mean and variance, the values' mean), in
// the cache's precision (f16 for an f16 cache, else f32; exact for a one-key cluster either
// way): with clusters of 128 f16 keys, 2.3% of the keys' bytes. Not thread-safe to modify
// (add); estimate() is const and may run concurrently.
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "../index/result.h"
#include "../index/types.h"
#include "dense_attention.h"

namespace ra::attention {

/// Per-thread buffers of estimate(); grow, then stay.
struct EstimateScratch {
  std::vector<float> q2, key, s1, sums, o_exact;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> removed;  // (cluster, row) of excluded keys
  std::vector<std::uint32_t> order, rows;
  AttendScratch attend;  // for the clusters attended exactly
};

class RestEstimate {
 public:
  /// Clusters rows [0, keys.rows) of keys/values (rows = tokens; any dtype) into clusters of about
  /// `cluster_size` keys (k-means, a few Lloyd iterations from evenly spaced seeds, on the raw
  /// keys: the estimate is for a query's inner products, so clusters must be tight in them).
  static Result<RestEstimate> build(const MatrixView& keys, const MatrixView& values, std::uint32_t cluster_size);

  /// Adds rows [size(), keys.rows) of the grown views to their nearest clusters.
  Status add(const MatrixView& keys, const MatrixView& values);

  /// Partial attention of q (f32, dim) with softmax scale `scale` over every summarised key
  /// except rows `exclude` (distinct, < size()): o normalised over them, lse natural log
  /// (-inf when nothing is left). The `exact_clusters` clusters of highest estimated mass are
  /// attended exactly (their keys read, where an estimate errs most); the others estimated.
  /// keys/values: the views the estimate was built on. *keys_read: the keys read exactly.
  void estimate(const float* q, float scale, std::span<const std::uint32_t> exclude, const MatrixView& keys,
                const MatrixView& values, std::uint32_t exact_clusters, EstimateScratch& scratch, float* o,
                float* lse, std::uint64_t* keys_read = nullptr) const;

  std::size_t size() const noexcept { return assignment_.size(); }
  std::size_t num_clusters() const noexcept { return count_.size(); }
  /// Bytes estimate() reads per call (summaries), and memory held.
  std::uint64_t bytes_read() const noexcept {
    return num_clusters() * (dim_ * (2 * dtype_size(key_type_) + dtype_size(value_type_)) + 2 * sizeof(float));
  }
  std::uint64_t memory_bytes() const noexcept;

 private:
  Status add_rows(const MatrixView& keys, const MatrixView& values, std::size_t first);
  std::size_t dim_ = 0;
  /// Writes the mean, variance and value rows of each touched cluster from its sums, and its
  /// radius.
  void refresh(const MatrixView& keys, std::span<const std::uint8_t> touched);
  std::vector<float> count_, radius_;             // per cluster: keys, largest distance to the mean
  std::vector<float> key_sum_, key_sq_, value_sum_;  // per cluster x dim, for add()
  // What estimate() reads, per cluster x dim: key mean and variance in key_type_, value mean in
  // value_type_.
  DType key_type_ = DType::kF32, value_type_ = DType::kF32;
  std::vector<std::byte> key_mean_, key_var_, value_mean_;
  std::vector<float> centroid_;                   // per cluster x dim, for assigning new keys
  std::vector<std::uint32_t> assignment_;         // per key
  std::vector<std::vector<std::uint32_t>> members_;  // per cluster: its rows
};

}  // namespace ra::attention
