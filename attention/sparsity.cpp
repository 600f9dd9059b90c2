#include "attention/sparsity.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <string>

#include "index/api_guard.h"
#include "index/threading.h"
#include "simd/inner_product.h"

namespace ra::attention {

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

Status SparsityConfig::validate() const {
  if (scale < 0.0 || !std::isfinite(scale)) return Status::InvalidArgument("scale must be >= 0 (0: 1/sqrt(d))");
  if (curve_points < 2) return Status::InvalidArgument("curve_points must be >= 2");
  return Status::OK();
}

Result<SparsityReport> attention_sparsity(const MatrixView& keys, const MatrixView& queries,
                                          const SparsityConfig& cfg) {
  RA_API_TRY
  RA_RETURN_IF_ERROR(cfg.validate());
  RA_RETURN_IF_ERROR(validate_keys_and_queries(keys, queries));
  if (cfg.causal && queries.rows > keys.rows) {
    return Status::InvalidArgument("causal: more queries than keys (query i sits at position n_keys - n_queries + i)");
  }
  SparsityReport out;
  out.num_keys = keys.rows;
  out.num_queries = queries.rows;
  const std::size_t n = keys.rows, d = keys.dim;
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
  RA_API_CATCH("attention sparsity")
}

}  // namespace ra::attention
