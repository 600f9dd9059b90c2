#include "index/ood_diagnostics.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "index/api_guard.h"
#include "index/matrix.h"
#include "simd/inner_product.h"

namespace ra {
namespace {

Percentiles summarize(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5)]; };
  p.p10 = at(0.10);
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.mean = std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  return p;
}

std::vector<double> norms(const MatrixView& m) {
  std::vector<double> out(m.rows);
  std::vector<float> row(m.dim);
  for (std::size_t i = 0; i < m.rows; ++i) {
    convert_to_f32(m.row_bytes(i), m.dtype, m.dim, row.data());
    out[i] = std::sqrt(static_cast<double>(simd::dot(row.data(), row.data(), m.dim)));
  }
  return out;
}

// In-place Cholesky of a row-major SPD matrix; false when it is not positive definite.
bool cholesky(std::vector<double>& a, std::size_t d) {
  for (std::size_t j = 0; j < d; ++j) {
    double diag = a[j * d + j];
    for (std::size_t k = 0; k < j; ++k) diag -= a[j * d + k] * a[j * d + k];
    if (!(diag > 0.0)) return false;
    const double ljj = std::sqrt(diag);
    a[j * d + j] = ljj;
    for (std::size_t i = j + 1; i < d; ++i) {
      double s = a[i * d + j];
      for (std::size_t k = 0; k < j; ++k) s -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = s / ljj;
    }
    for (std::size_t k = j + 1; k < d; ++k) a[j * d + k] = 0.0;
  }
  return true;
}

}  // namespace

Result<MahalanobisModel> MahalanobisModel::from_moments(std::vector<double> mean, std::vector<double> cov) {
  RA_API_TRY
  const std::size_t d = mean.size();
  if (d == 0 || cov.size() != d * d) return Status::InvalidArgument("moments: covariance must be d x d");
  if (!cholesky(cov, d)) return Status::InvalidArgument("moments: covariance is not positive definite");
  MahalanobisModel m;
  m.mean_ = std::move(mean);
  m.chol_ = std::move(cov);
  return m;
  RA_API_CATCH("Mahalanobis model")
}

Result<MahalanobisModel> MahalanobisModel::fit(const MatrixView& rows, double shrinkage) {
  RA_API_TRY
  RA_RETURN_IF_ERROR(validate_matrix(rows, "vectors"));
  const std::size_t n = rows.rows, d = rows.dim;
  if (n <= d) {
    return Status::InvalidArgument("a covariance over " + std::to_string(d) + " dimensions needs more than " +
                                   std::to_string(d) + " vectors, got " + std::to_string(n));
  }
  if (!(shrinkage > 0.0 && shrinkage <= 1.0)) return Status::InvalidArgument("shrinkage must be in (0, 1]");
  // Fixed chunks summed in order: the same model at any thread count.
  constexpr std::size_t kChunk = 2048;
  const std::size_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> sums(chunks * d, 0.0), mean(d, 0.0);
  std::vector<double> partial(chunks * d * d, 0.0);
  // Per-thread scratch before the regions: an exception inside one would terminate.
  const int threads = omp_get_max_threads();
  std::vector<std::vector<float>> rows_of(static_cast<std::size_t>(threads), std::vector<float>(d));
  std::vector<std::vector<double>> x_of(static_cast<std::size_t>(threads), std::vector<double>(d));
#pragma omp parallel num_threads(threads)
  {
    std::vector<float>& row = rows_of[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t c = 0; c < static_cast<std::int64_t>(chunks); ++c) {
      double* s = sums.data() + c * static_cast<std::int64_t>(d);
      for (std::size_t i = static_cast<std::size_t>(c) * kChunk; i < std::min(n, (static_cast<std::size_t>(c) + 1) * kChunk); ++i) {
        convert_to_f32(rows.row_bytes(i), rows.dtype, d, row.data());
        for (std::size_t a = 0; a < d; ++a) s[a] += row[a];
      }
    }
  }
  for (std::size_t c = 0; c < chunks; ++c)
    for (std::size_t a = 0; a < d; ++a) mean[a] += sums[c * d + a];
  for (double& m : mean) m /= static_cast<double>(n);
#pragma omp parallel num_threads(threads)
  {
    std::vector<float>& row = rows_of[static_cast<std::size_t>(omp_get_thread_num())];
    std::vector<double>& x = x_of[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t c = 0; c < static_cast<std::int64_t>(chunks); ++c) {
      double* p = partial.data() + c * static_cast<std::int64_t>(d * d);
      for (std::size_t i = static_cast<std::size_t>(c) * kChunk; i < std::min(n, (static_cast<std::size_t>(c) + 1) * kChunk); ++i) {
        convert_to_f32(rows.row_bytes(i), rows.dtype, d, row.data());
        for (std::size_t a = 0; a < d; ++a) x[a] = row[a] - mean[a];
        for (std::size_t a = 0; a < d; ++a)
          for (std::size_t b = 0; b <= a; ++b) p[a * d + b] += x[a] * x[b];
      }
    }
  }
  std::vector<double> cov(d * d, 0.0);
  for (std::size_t c = 0; c < chunks; ++c)
    for (std::size_t a = 0; a < d; ++a)
      for (std::size_t b = 0; b <= a; ++b) cov[a * d + b] += partial[c * d * d + a * d + b];
  double trace = 0.0;
  for (std::size_t a = 0; a < d; ++a) {
    for (std::size_t b = 0; b <= a; ++b) {
      cov[a * d + b] /= static_cast<double>(n - 1);
      cov[b * d + a] = cov[a * d + b];
    }
    trace += cov[a * d + a];
  }
  const double floor = trace / static_cast<double>(d);
  for (std::size_t a = 0; a < d; ++a) {
    for (std::size_t b = 0; b < d; ++b) cov[a * d + b] *= 1.0 - shrinkage;
    cov[a * d + a] += shrinkage * (floor > 0 ? floor : 1.0);
  }
  return from_moments(std::move(mean), std::move(cov));
  RA_API_CATCH("Mahalanobis fit")
}

double MahalanobisModel::distance(const float* x) const {
  std::vector<double> y(dim());
  return distance(x, y.data());
}

double MahalanobisModel::distance(const float* x, double* y) const noexcept {
  const std::size_t d = dim();
  // Forward substitution: L y = x - mean, distance = |y|.
  double sum = 0.0;
  for (std::size_t i = 0; i < d; ++i) {
    double s = x[i] - mean_[i];
    for (std::size_t k = 0; k < i; ++k) s -= chol_[i * d + k] * y[k];
    y[i] = s / chol_[i * d + i];
    sum += y[i] * y[i];
  }
  return std::sqrt(sum);
}

std::vector<double> MahalanobisModel::distances(const MatrixView& rows) const {
  std::vector<double> out(rows.rows);
  const int threads = omp_get_max_threads();
  std::vector<std::vector<float>> rows_of(static_cast<std::size_t>(threads), std::vector<float>(rows.dim));
  std::vector<std::vector<double>> y_of(static_cast<std::size_t>(threads), std::vector<double>(rows.dim));
#pragma omp parallel num_threads(threads)
  {
    std::vector<float>& row = rows_of[static_cast<std::size_t>(omp_get_thread_num())];
    double* y = y_of[static_cast<std::size_t>(omp_get_thread_num())].data();
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(rows.rows); ++i) {
      convert_to_f32(rows.row_bytes(static_cast<std::size_t>(i)), rows.dtype, rows.dim, row.data());
      out[static_cast<std::size_t>(i)] = distance(row.data(), y);
    }
  }
  return out;
}

Status OodConfig::validate() const {
  if (!(heldout_fraction > 0.0 && heldout_fraction < 1.0)) {
    return Status::InvalidArgument("heldout_fraction must be in (0, 1)");
  }
  return Status::OK();
}

Result<OodReport> diagnose_ood(const MatrixView& keys, const MatrixView& queries, const OodConfig& cfg) {
  RA_API_TRY
  RA_RETURN_IF_ERROR(cfg.validate());
  RA_RETURN_IF_ERROR(validate_keys_and_queries(keys, queries));
  OodReport out;
  out.num_keys = keys.rows;
  out.num_queries = queries.rows;
  out.dim = keys.dim;
  const std::size_t n = keys.rows, d = keys.dim;
  // Seeded split into fitted and held-out keys.
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(cfg.seed);
  std::shuffle(order.begin(), order.end(), rng);
  const auto held = std::max<std::size_t>(1, static_cast<std::size_t>(cfg.heldout_fraction * static_cast<double>(n)));
  if (n - held <= d) {
    return Status::InvalidArgument("too few keys: " + std::to_string(n) + " keys leave " + std::to_string(n - held) +
                                   " to fit a covariance over " + std::to_string(d) + " dimensions (need more than " +
                                   std::to_string(d) + ")");
  }
  RA_ASSIGN_OR_RETURN(Matrix fitted, Matrix::zeros(n - held, d));
  RA_ASSIGN_OR_RETURN(Matrix heldout, Matrix::zeros(held, d));
  for (std::size_t i = 0; i < n; ++i) {
    float* dst = i < held ? heldout.f32_row(i) : fitted.f32_row(i - held);
    convert_to_f32(keys.row_bytes(order[i]), keys.dtype, d, dst);
  }
  RA_ASSIGN_OR_RETURN(const MahalanobisModel model, MahalanobisModel::fit(fitted.view(), cfg.shrinkage));
  out.query_distances = model.distances(queries);
  out.heldout_distances = model.distances(heldout.view());
  out.query_distance = summarize(out.query_distances);
  out.heldout_key_distance = summarize(out.heldout_distances);
  out.ratio_mean = out.query_distance.mean / out.heldout_key_distance.mean;
  out.ratio_median = out.query_distance.p50 / out.heldout_key_distance.p50;
  out.key_norm = summarize(norms(keys));
  out.query_norm = summarize(norms(queries));

  return out;
  RA_API_CATCH("OOD diagnostics")
}

}  // namespace ra
