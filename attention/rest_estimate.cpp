#include "attention/rest_estimate.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "attention/dense_attention.h"
#include "attention/merge_state.h"
#include "index/api_guard.h"
#include "index/kmeans.h"
#include "simd/inner_product.h"

namespace ra::attention {
namespace {

constexpr int kLloydIterations = 4;

}  // namespace

Result<RestEstimate> RestEstimate::build(const MatrixView& keys, const MatrixView& values, std::uint32_t cluster_size) {
  RA_API_TRY
  if (cluster_size == 0) return Status::InvalidArgument("cluster_size must be >= 1");
  if (keys.rows != values.rows || keys.dim != values.dim) {
    return Status::InvalidArgument("keys and values must have the same rows and dim");
  }
  RestEstimate e;
  e.dim_ = keys.dim;
  const std::size_t n = keys.rows, d = keys.dim, C = std::max<std::size_t>(1, n / cluster_size);
  RA_ASSIGN_OR_RETURN(KMeans km, fit_kmeans(keys, C, kLloydIterations));
  e.centroid_ = std::move(km.centroids);
  e.assignment_ = std::move(km.assignment);
  e.count_.assign(C, 0.0f);
  e.key_sum_.assign(C * d, 0.0f);
  e.key_sq_.assign(C * d, 0.0f);
  e.value_sum_.assign(C * d, 0.0f);
  e.key_type_ = keys.dtype == DType::kF16 ? DType::kF16 : DType::kF32;
  e.value_type_ = values.dtype == DType::kF16 ? DType::kF16 : DType::kF32;
  e.key_mean_.assign(C * d * dtype_size(e.key_type_), std::byte{0});
  e.key_var_.assign(e.key_mean_.size(), std::byte{0});
  e.value_mean_.assign(C * d * dtype_size(e.value_type_), std::byte{0});
  e.members_.assign(C, {});
  RA_RETURN_IF_ERROR(e.add_rows(keys, values, 0));
  return e;
  RA_API_CATCH("rest estimate")
}

Status RestEstimate::add(const MatrixView& keys, const MatrixView& values) {
  RA_API_TRY
  if (keys.dim != dim_ || values.dim != dim_ || keys.rows != values.rows || keys.rows < size()) {
    return Status::InvalidArgument("the grown keys and values must keep the dim and every row");
  }
  const std::size_t first = size();
  assignment_.resize(keys.rows);
  assign_nearest(keys, first, keys.rows, centroid_, &assignment_);
  return add_rows(keys, values, first);
  RA_API_CATCH("rest estimate")
}

Status RestEstimate::add_rows(const MatrixView& keys, const MatrixView& values, std::size_t first) {
  const std::size_t d = dim_;
  std::vector<float> k(d), v(d);
  std::vector<std::uint8_t> touched(count_.size(), 0);
  for (std::size_t r = first; r < keys.rows; ++r) {
    convert_to_f32(keys.row_bytes(r), keys.dtype, d, k.data());
    convert_to_f32(values.row_bytes(r), values.dtype, d, v.data());
    const std::size_t c = assignment_[r];
    touched[c] = 1;
    count_[c] += 1.0f;
    members_[c].push_back(static_cast<std::uint32_t>(r));
    for (std::size_t i = 0; i < d; ++i) {
      key_sum_[c * d + i] += k[i];
      key_sq_[c * d + i] += k[i] * k[i];
      value_sum_[c * d + i] += v[i];
    }
  }
  refresh(keys, touched);
  return Status::OK();
}

void RestEstimate::refresh(const MatrixView& keys, std::span<const std::uint8_t> touched) {
  const std::size_t d = dim_;
  const std::size_t kb = d * dtype_size(key_type_), vb = d * dtype_size(value_type_);
  std::vector<float> mean(d), var(d), value(d), k(d);
  radius_.resize(count_.size(), 0.0f);
  for (std::size_t c = 0; c < count_.size(); ++c) {
    if (!touched[c]) continue;
    const double n = std::max(1.0f, count_[c]);
    for (std::size_t i = 0; i < d; ++i) {
      const double mu = key_sum_[c * d + i] / n;
      mean[i] = static_cast<float>(mu);
      var[i] = static_cast<float>(std::max(0.0, key_sq_[c * d + i] / n - mu * mu));
      value[i] = static_cast<float>(value_sum_[c * d + i] / n);
    }
    convert_from_f32(mean.data(), d, key_type_, key_mean_.data() + c * kb);
    convert_from_f32(var.data(), d, key_type_, key_var_.data() + c * kb);
    convert_from_f32(value.data(), d, value_type_, value_mean_.data() + c * vb);
    float r2 = 0;
    for (std::uint32_t j : members_[c]) {
      convert_to_f32(keys.row_bytes(j), keys.dtype, d, k.data());
      float s2 = 0;
      for (std::size_t i = 0; i < d; ++i) s2 += (k[i] - mean[i]) * (k[i] - mean[i]);
      r2 = std::max(r2, s2);
    }
    radius_[c] = std::sqrt(r2);
  }
}

std::uint64_t RestEstimate::memory_bytes() const noexcept {
  return (count_.size() + radius_.size() + key_sum_.size() + key_sq_.size() + value_sum_.size() + centroid_.size()) * sizeof(float) +
         key_mean_.size() + key_var_.size() + value_mean_.size() +
         2 * assignment_.size() * sizeof(std::uint32_t);  // assignment and member lists
}

void RestEstimate::estimate(const float* q, float scale, std::span<const std::uint32_t> exclude,
                            const MatrixView& keys, const MatrixView& values, std::uint32_t exact_clusters,
                            EstimateScratch& sc, float* o, float* lse, std::uint64_t* keys_read) const {
  constexpr float kNone = -std::numeric_limits<float>::infinity();
  const std::size_t d = dim_, C = num_clusters();
  sc.q2.resize(d);
  sc.key.resize(d);
  sc.s1.resize(2 * d);
  sc.sums.resize(3 * C);
  float* q_mu = sc.sums.data();  // q . mean per cluster
  float* q2_var = q_mu + C;      // q^2 . var
  float* logm = q2_var + C;      // the estimated log mass
  for (std::size_t i = 0; i < d; ++i) sc.q2[i] = q[i] * q[i];
  float q_norm = 0;
  for (std::size_t i = 0; i < d; ++i) q_norm += sc.q2[i];
  q_norm = std::sqrt(q_norm);
  simd::dot_rows(q, key_mean_.data(), key_type_, d, C, d, q_mu);
  simd::dot_rows(sc.q2.data(), key_var_.data(), key_type_, d, C, d, q2_var);
  // The excluded keys, grouped by cluster: each cluster's removed rows are one run of `removed`.
  sc.removed.clear();
  for (std::uint32_t j : exclude) sc.removed.push_back({assignment_[j], j});
  std::sort(sc.removed.begin(), sc.removed.end());
  auto removed_of = [&](std::size_t c, std::size_t& at) {  // the run of cluster c, advancing `at`
    const std::size_t begin = at;
    while (at < sc.removed.size() && sc.removed[at].first == c) ++at;
    return std::span(sc.removed.data() + begin, at - begin);
  };
  // log mass of a cluster's n remaining keys: log n + s q.mu + s^2/2 q^T diag(var) q. A cluster
  // that lost keys gets its mean and variance again from the sums they imply, minus those keys.
  const std::size_t kb = d * dtype_size(key_type_);
  std::size_t at = 0;
  for (std::size_t c = 0; c < C; ++c) {
    const auto gone = removed_of(c, at);
    const float n = count_[c] - static_cast<float>(gone.size());
    logm[c] = kNone;
    if (n < 0.5f) continue;
    if (!gone.empty()) {
      float* s1 = sc.s1.data();
      float* s2 = s1 + d;
      convert_to_f32(key_mean_.data() + c * kb, key_type_, d, s1);
      convert_to_f32(key_var_.data() + c * kb, key_type_, d, s2);
      for (std::size_t i = 0; i < d; ++i) {
        s2[i] = count_[c] * (s2[i] + s1[i] * s1[i]);
        s1[i] *= count_[c];
      }
      for (const auto& [cluster, j] : gone) {
        convert_to_f32(keys.row_bytes(j), keys.dtype, d, sc.key.data());
        for (std::size_t i = 0; i < d; ++i) {
          s1[i] -= sc.key[i];
          s2[i] -= sc.key[i] * sc.key[i];
        }
      }
      float qm = 0, q2v = 0;
      for (std::size_t i = 0; i < d; ++i) {
        const float mu = s1[i] / n;
        qm += q[i] * mu;
        q2v += sc.q2[i] * std::max(0.0f, s2[i] / n - mu * mu);
      }
      q_mu[c] = qm;
      q2_var[c] = q2v;
    }
    // exp(s q.(k - mu)) <= exp(s |q| radius): the Gaussian correction never exceeds the bound
    // (it does on light-tailed clusters, where it overestimates the mass).
    const float spread = 0.5f * scale * scale * std::max(0.0f, q2_var[c]);
    logm[c] = std::log(n) + scale * q_mu[c] + std::min(spread, scale * q_norm * radius_[c]);
  }
  // The clusters of highest estimated mass are attended exactly (minus the excluded rows).
  sc.order.clear();
  for (std::size_t c = 0; c < C; ++c) {
    if (logm[c] != kNone) sc.order.push_back(static_cast<std::uint32_t>(c));
  }
  const std::size_t exact = std::min<std::size_t>(exact_clusters, sc.order.size());
  std::partial_sort(sc.order.begin(), sc.order.begin() + static_cast<std::ptrdiff_t>(exact), sc.order.end(),
                    [&](std::uint32_t a, std::uint32_t b) { return logm[a] > logm[b]; });
  sc.rows.clear();
  for (std::size_t i = 0; i < exact; ++i) {
    const std::uint32_t c = sc.order[i];
    const auto first = std::lower_bound(sc.removed.begin(), sc.removed.end(), std::pair<std::uint32_t, std::uint32_t>{c, 0});
    for (std::uint32_t r : members_[c]) {  // `removed` is sorted by (cluster, row)
      const bool gone = std::binary_search(first, sc.removed.end(), std::pair{c, r});
      if (!gone) sc.rows.push_back(r);
    }
    logm[c] = kNone;  // not estimated any more
  }
  if (keys_read != nullptr) *keys_read = sc.rows.size();
  float lse_exact = kNone;
  sc.o_exact.assign(d, 0.0f);
  if (!sc.rows.empty()) attend_ids(q, keys, values, sc.rows, scale, sc.attend, sc.o_exact.data(), &lse_exact);
  float m = kNone;
  for (std::size_t c = 0; c < C; ++c) m = std::max(m, logm[c]);
  std::fill(o, o + d, 0.0f);
  *lse = kNone;
  if (m != kNone) {
    // o: the clusters' mean values (the excluded keys' values removed), weighted by their mass.
    const std::size_t vb = d * dtype_size(value_type_);
    double z = 0;
    at = 0;
    for (std::size_t c = 0; c < C; ++c) {
      const auto gone = removed_of(c, at);
      if (logm[c] == kNone) continue;
      const float w = std::exp(logm[c] - m), n = count_[c] - static_cast<float>(gone.size());
      z += w;
      simd::axpy(w * count_[c] / n, value_mean_.data() + c * vb, value_type_, o, d);
      for (const auto& [cluster, j] : gone) simd::axpy(-w / n, values.row_bytes(j), values.dtype, o, d);
    }
    const float inv = static_cast<float>(1.0 / z);
    for (std::size_t i = 0; i < d; ++i) o[i] *= inv;
    *lse = m + static_cast<float>(std::log(z));
  }
  merge_attn_states(o, lse, sc.o_exact.data(), &lse_exact, o, lse, 1, static_cast<std::uint32_t>(d),
                    static_cast<std::int64_t>(d));
}

}  // namespace ra::attention
