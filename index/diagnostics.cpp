#include "index/diagnostics.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <string>

#include "index/matrix.h"
#include "index/search.h"
#include "index/threading.h"
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
  const std::size_t d = mean.size();
  if (d == 0 || cov.size() != d * d) return Status::InvalidArgument("moments: covariance must be d x d");
  if (!cholesky(cov, d)) return Status::InvalidArgument("moments: covariance is not positive definite");
  MahalanobisModel m;
  m.mean_ = std::move(mean);
  m.chol_ = std::move(cov);
  return m;
}

Result<MahalanobisModel> MahalanobisModel::fit(const MatrixView& rows, double shrinkage) {
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
#pragma omp parallel
  {
    std::vector<float> row(d);
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
#pragma omp parallel
  {
    std::vector<float> row(d);
    std::vector<double> x(d);
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
}

double MahalanobisModel::distance(const float* x) const {
  const std::size_t d = dim();
  // Forward substitution: L y = x - mean, distance = |y|.
  double sum = 0.0;
  std::vector<double> y(d);
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
#pragma omp parallel
  {
    std::vector<float> row(rows.dim);
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(rows.rows); ++i) {
      convert_to_f32(rows.row_bytes(static_cast<std::size_t>(i)), rows.dtype, rows.dim, row.data());
      out[static_cast<std::size_t>(i)] = distance(row.data());
    }
  }
  return out;
}

MassProfile mass_profile(std::span<const float> scores, double scale) {
  MassProfile p;
  if (scores.empty()) return p;
  const double m = *std::max_element(scores.begin(), scores.end());
  std::vector<double> w(scores.size());
  for (std::size_t i = 0; i < scores.size(); ++i) w[i] = std::exp(scale * (scores[i] - m));
  std::sort(w.begin(), w.end(), std::greater<>());
  const double total = std::accumulate(w.begin(), w.end(), 0.0);
  const auto n = static_cast<double>(w.size());
  double cum = 0.0;
  bool at50 = false, at90 = false, at99 = false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    cum += w[i];
    const double share = static_cast<double>(i + 1) / n, mass = cum / total;
    if (!at50 && mass >= 0.5) { p.frac_keys_mass50 = share; at50 = true; }
    if (!at90 && mass >= 0.9) { p.frac_keys_mass90 = share; at90 = true; }
    if (!at99 && mass >= 0.99 - 1e-12) { p.frac_keys_mass99 = share; at99 = true; }
    if (i + 1 == 100) p.top100_mass = mass;
    if (i + 1 == 1000) p.top1000_mass = mass;
  }
  if (w.size() < 100) p.top100_mass = 1.0;
  if (w.size() < 1000) p.top1000_mass = 1.0;
  return p;
}

Status DiagnosticsConfig::validate() const {
  if (!(heldout_fraction > 0.0 && heldout_fraction < 1.0)) {
    return Status::InvalidArgument("heldout_fraction must be in (0, 1)");
  }
  if (scale < 0.0 || !std::isfinite(scale)) return Status::InvalidArgument("scale must be >= 0 (0: 1/sqrt(d))");
  if (curve_points < 2) return Status::InvalidArgument("curve_points must be >= 2");
  return Status::OK();
}

Result<Diagnostics> diagnose(const MatrixView& keys, const MatrixView& queries, const DiagnosticsConfig& cfg) {
  RA_RETURN_IF_ERROR(cfg.validate());
  RA_RETURN_IF_ERROR(validate_matrix(keys, "keys"));
  RA_RETURN_IF_ERROR(validate_f32_matrix(queries, "queries"));
  if (keys.dim != queries.dim) {
    return Status::InvalidArgument("keys have dimension " + std::to_string(keys.dim) + ", queries " +
                                   std::to_string(queries.dim));
  }
  if (cfg.causal && queries.rows > keys.rows) {
    return Status::InvalidArgument("causal: more queries than keys (query i sits at position n_keys - n_queries + i)");
  }
  Diagnostics out;
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

  // Sparsity of softmax attention, per query.
  const double scale = cfg.scale > 0 ? cfg.scale : 1.0 / std::sqrt(static_cast<double>(d));
  const std::size_t nq = queries.rows;
  std::vector<MassProfile> profiles(nq);
  std::vector<double> static_first(nq, 0.0), static_sw(nq, 0.0);
  std::vector<double> curve(static_cast<std::size_t>(cfg.curve_points) * nq, 0.0);
  out.curve_share.resize(cfg.curve_points);
  for (std::uint32_t c = 0; c < cfg.curve_points; ++c) {  // log-spaced from 1/n to 1
    out.curve_share[c] = std::pow(static_cast<double>(n), -1.0 + static_cast<double>(c) / (cfg.curve_points - 1));
  }
  const int threads = resolve_threads(cfg.num_threads);
  // The first query's top-1000 keys: a set fixed before decoding starts.
  std::vector<std::uint8_t> first_top(n, 0);
  {
    const std::size_t len = cfg.causal ? n - nq + 1 : n;
    std::vector<float> s(len);
    simd::dot_rows(queries.f32_row(0), keys.data, keys.dtype, keys.stride, len, d, s.data());
    std::vector<std::size_t> idx(len);
    std::iota(idx.begin(), idx.end(), 0);
    const std::size_t top = std::min<std::size_t>(1000, len);
    std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(top), idx.end(),
                      [&](std::size_t a, std::size_t b) { return s[a] > s[b]; });
    for (std::size_t i = 0; i < top; ++i) first_top[idx[i]] = 1;
  }
  ParallelGuard guard;
  std::vector<std::vector<float>> score_buf(static_cast<std::size_t>(threads), std::vector<float>(n));
  std::vector<std::vector<double>> weight_buf(static_cast<std::size_t>(threads), std::vector<double>(n));
#pragma omp parallel num_threads(threads)
  {
    std::vector<float>& s = score_buf[static_cast<std::size_t>(omp_get_thread_num())];
    std::vector<double>& w = weight_buf[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(dynamic, 4)
    for (std::int64_t qi = 0; qi < static_cast<std::int64_t>(nq); ++qi) {
      guard.run([&] {
        const auto q = static_cast<std::size_t>(qi);
        const std::size_t len = cfg.causal ? n - nq + q + 1 : n;
        simd::dot_rows(queries.f32_row(q), keys.data, keys.dtype, keys.stride, len, d, s.data());
        profiles[q] = mass_profile({s.data(), len}, scale);
        const double m = *std::max_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(len));
        double total = 0.0, first = 0.0, sw = 0.0;
        for (std::size_t j = 0; j < len; ++j) {
          w[j] = std::exp(scale * (s[j] - m));
          total += w[j];
          if (first_top[j]) first += w[j];
          if (j < cfg.num_sink || j + cfg.window >= len) sw += w[j];
        }
        static_first[q] = first / total;
        static_sw[q] = sw / total;
        std::sort(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(len), std::greater<>());
        double cum = 0.0;
        std::size_t taken = 0;
        for (std::uint32_t c = 0; c < cfg.curve_points; ++c) {
          const auto want = std::min(len, static_cast<std::size_t>(std::ceil(out.curve_share[c] * static_cast<double>(len))));
          while (taken < want) cum += w[taken++];
          curve[q * cfg.curve_points + c] = cum / total;
        }
      });
    }
  }
  RA_RETURN_IF_ERROR(guard.status("attention sparsity"));
  const auto qn = static_cast<double>(nq);
  for (const MassProfile& p : profiles) {
    out.mass.frac_keys_mass50 += p.frac_keys_mass50 / qn;
    out.mass.frac_keys_mass90 += p.frac_keys_mass90 / qn;
    out.mass.frac_keys_mass99 += p.frac_keys_mass99 / qn;
    out.mass.top100_mass += p.top100_mass / qn;
    out.mass.top1000_mass += p.top1000_mass / qn;
  }
  for (std::size_t q = 1; q < nq; ++q) out.static_first_query_mass += static_first[q] / std::max(1.0, qn - 1);
  for (std::size_t q = 0; q < nq; ++q) out.static_sink_window_mass += static_sw[q] / qn;
  out.curve_mass.assign(cfg.curve_points, 0.0);
  for (std::size_t q = 0; q < nq; ++q)
    for (std::uint32_t c = 0; c < cfg.curve_points; ++c) out.curve_mass[c] += curve[q * cfg.curve_points + c] / qn;
  return out;
}

}  // namespace ra
