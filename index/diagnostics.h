#pragma once
// Diagnostics that tell whether queries are out of distribution for the keys, and how sparse
// their attention is: the evidence for choosing a query-guided index over a key-only one.
#include <cstdint>
#include <span>
#include <vector>

#include "index/result.h"
#include "index/types.h"

namespace ra {

/// A Gaussian model of a set of vectors: mean and a shrunk covariance
/// S = (1 - a) C + a (tr(C) / d) I, always positive definite for a > 0, held as its Cholesky
/// factor. Distances are Mahalanobis: sqrt((x - mean)^T S^-1 (x - mean)).
class MahalanobisModel {
 public:
  /// Fits to `rows` (f32/f16/bf16, at least dim + 1 rows, finite). shrinkage a in (0, 1].
  static Result<MahalanobisModel> fit(const MatrixView& rows, double shrinkage = 1e-3);
  /// A model from known moments (row-major d x d covariance, symmetric positive definite).
  static Result<MahalanobisModel> from_moments(std::vector<double> mean, std::vector<double> cov);

  std::size_t dim() const noexcept { return mean_.size(); }
  const std::vector<double>& mean() const noexcept { return mean_; }
  /// Mahalanobis distance of one f32 vector of dim() floats.
  double distance(const float* x) const;
  /// Distances of every row.
  std::vector<double> distances(const MatrixView& rows) const;

 private:
  std::vector<double> mean_;
  std::vector<double> chol_;  // lower-triangular L, row-major, S = L L^T
};

/// How one query's softmax attention spreads over the keys.
struct MassProfile {
  double frac_keys_mass50 = 0, frac_keys_mass90 = 0, frac_keys_mass99 = 0;  // smallest share
  double top100_mass = 0, top1000_mass = 0;  // mass held by the 100 / 1000 best keys
};
/// The profile of softmax(scale * scores) (scores: one per key, finite, non-empty).
MassProfile mass_profile(std::span<const float> scores, double scale);

struct DiagnosticsConfig {
  double heldout_fraction = 0.1;  // keys kept out of the fit, to compare queries against
  double scale = 0;               // softmax scale; 0: 1/sqrt(dim)
  double shrinkage = 1e-3;
  std::uint64_t seed = 1;
  bool causal = false;            // query i sits at position n_keys - n_queries + i
  std::uint32_t num_sink = 4, window = 64;  // the static set whose coverage is reported
  std::uint32_t curve_points = 64;          // points on the mean mass curve
  std::uint32_t num_threads = 0;
  Status validate() const;
};

struct Percentiles {
  double p10 = 0, p50 = 0, p90 = 0, p99 = 0, mean = 0;
};

struct Diagnostics {
  // Mahalanobis distance to the key distribution (fit on the keys not held out).
  Percentiles query_distance, heldout_key_distance;
  double ratio_mean = 0, ratio_median = 0;  // queries / held-out keys
  std::vector<double> query_distances, heldout_distances;  // for histograms
  Percentiles key_norm, query_norm;
  // Attention sparsity, means over queries.
  MassProfile mass;
  double static_first_query_mass = 0;  // mass on the first query's top-1000 keys (later queries)
  double static_sink_window_mass = 0;  // mass on the sinks + window
  std::vector<double> curve_share, curve_mass;  // mean mass held by the top share of keys
  std::size_t num_keys = 0, num_queries = 0, dim = 0;
};

/// Runs every diagnostic. keys and queries: same dim; queries f32.
Result<Diagnostics> diagnose(const MatrixView& keys, const MatrixView& queries,
                             const DiagnosticsConfig& cfg);

}  // namespace ra
