#pragma once
// Out-of-distribution diagnostics: how far queries sit from the distribution of the vectors
// they search, against held-out vectors of that distribution. The evidence for choosing a
// query-guided index over a key-only one. (How sparse attention is: attention/sparsity.h.)
#include <cstdint>
#include <vector>

#include "result.h"
#include "types.h"

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
  /// The same with caller scratch y (dim() doubles): allocates nothing.
  double distance(const float* x, double* y) const noexcept;
  /// Distances of every row.
  std::vector<double> distances(const MatrixView& rows) const;

 private:
  std::vector<double> mean_;
  std::vector<double> chol_;  // lower-triangular L, row-major, S = L L^T
};

struct OodConfig {
  double heldout_fraction = 0.1;  // keys kept out of the fit, to compare queries against
  double shrinkage = 1e-3;
  std::uint64_t seed = 1;         // of the held-out split
  Status validate() const;
};

struct Percentiles {
  double p10 = 0, p50 = 0, p90 = 0, p99 = 0, mean = 0;
};

/// Are the queries out of distribution for the keys? Mahalanobis distances to the key
/// distribution (fit on the keys not held out) of the queries and of held-out keys.
struct OodReport {
  Percentiles query_distance, heldout_key_distance;
  double ratio_mean = 0, ratio_median = 0;  // queries / held-out keys
  std::vector<double> query_distances, heldout_distances;  // for histograms
  Percentiles key_norm, query_norm;
  std::size_t num_keys = 0, num_queries = 0, dim = 0;
};

/// keys (f32/f16/bf16) and queries (f32): same dim, finite; enough keys left after the
/// held-out split to fit a covariance (more than dim).
Result<OodReport> diagnose_ood(const MatrixView& keys, const MatrixView& queries, const OodConfig& cfg);

}  // namespace ra
