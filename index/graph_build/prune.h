#pragma once
// Diversity pruning of a key's candidate neighbours, in inner-product space on CENTRED keys.
//
// Centring (k - mu, mu the key mean) does not change any query's ranking, since
// q.(k - mu) = q.k - q.mu, but it removes the large offset that keys share: on raw keys
// high-norm keys "occlude" almost every edge and graphs degenerate (the reference code built
// average degree 4 with 38% of keys reachable on attention data). The centred inner product is
// computed from raw ones: (a - mu).(b - mu) = a.b - a.mu - b.mu + mu.mu.
#include <cstdint>
#include <span>
#include <vector>

#include "index/types.h"

namespace ra {

/// Reused buffers of one thread's pruning; allocates only while they grow.
struct PruneScratch {
  std::vector<float> row, scores, kept_scores;
  std::vector<NodeId> order, dropped;  // candidate order; positions in it that were occluded
};

class Pruner {
 public:
  /// Computes the key mean and each key's product with it (OpenMP, num_threads).
  Pruner(const MatrixView& keys, std::uint32_t max_degree, int num_threads);
  /// A pruner with a known mean (after load); key_dot_mean is recomputed.
  Pruner(const MatrixView& keys, std::uint32_t max_degree, std::vector<float> mean, int num_threads);

  /// Keeps at most max_degree of `candidates` (distinct ids, not p) as p's neighbours, best
  /// centred score first: c is dropped when an already kept r has <r, c> > <p, c> (r already
  /// leads towards c). Slots left over are filled with the best dropped candidates, so keys
  /// with few diverse candidates still get max_degree edges. Deterministic.
  void prune(NodeId p, std::span<const NodeId> candidates, PruneScratch& s,
             std::vector<NodeId>* kept) const;

  /// out[i] = centred inner product of key p with key ids[i].
  void centred_scores(NodeId p, std::span<const NodeId> ids, PruneScratch& s, float* out) const;

  /// Updates the view after keys were appended; computes their products with the mean.
  void extend(const MatrixView& keys);
  const std::vector<float>& mean() const noexcept { return mean_; }
  std::uint32_t max_degree() const noexcept { return max_degree_; }

 private:
  float centred(float raw, NodeId a, NodeId b) const noexcept {
    return raw - key_dot_mean_[a] - key_dot_mean_[b] + mean_norm2_;
  }
  MatrixView keys_;
  std::uint32_t max_degree_;
  std::vector<float> mean_;
  std::vector<float> key_dot_mean_;
  float mean_norm2_ = 0;
};

}  // namespace ra
