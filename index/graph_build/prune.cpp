#include "index/graph_build/prune.h"

#include <omp.h>

#include <algorithm>
#include <numeric>

#include "simd/inner_product.h"

namespace ra {
namespace {

constexpr std::int64_t kChunk = 4096;

// Sums fixed chunks in parallel, then the chunk sums in order: the same mean, to the bit,
// at any thread count (pruning decisions, and so the graph, depend on it).
std::vector<float> key_mean(const MatrixView& keys, int num_threads) {
  const auto n = static_cast<std::int64_t>(keys.rows);
  const std::int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> partial(static_cast<std::size_t>(chunks) * keys.dim, 0.0);
  // Scratch before the region: an exception inside an OpenMP region would terminate.
  std::vector<std::vector<float>> rows(static_cast<std::size_t>(num_threads), std::vector<float>(keys.dim));
#pragma omp parallel num_threads(num_threads)
  {
    std::vector<float>& row = rows[static_cast<std::size_t>(omp_get_thread_num())];
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < chunks; ++b) {
      double* sum = partial.data() + b * static_cast<std::int64_t>(keys.dim);
      for (std::int64_t i = b * kChunk; i < std::min(n, (b + 1) * kChunk); ++i) {
        convert_to_f32(keys.row_bytes(static_cast<std::size_t>(i)), keys.dtype, keys.dim, row.data());
        for (std::size_t c = 0; c < keys.dim; ++c) sum[c] += row[c];
      }
    }
  }
  std::vector<float> mean(keys.dim);
  for (std::size_t c = 0; c < keys.dim; ++c) {
    double total = 0.0;
    for (std::int64_t b = 0; b < chunks; ++b) total += partial[static_cast<std::size_t>(b) * keys.dim + c];
    mean[c] = static_cast<float>(total / static_cast<double>(n));
  }
  return mean;
}

}  // namespace

Pruner::Pruner(const MatrixView& keys, std::uint32_t max_degree, int num_threads)
    : Pruner(keys, max_degree, key_mean(keys, num_threads), num_threads) {}

Pruner::Pruner(const MatrixView& keys, std::uint32_t max_degree, std::vector<float> mean,
               int num_threads)
    : keys_(keys), max_degree_(max_degree), mean_(std::move(mean)) {
  mean_norm2_ = simd::dot(mean_.data(), mean_.data(), mean_.size());
  key_dot_mean_.resize(keys.rows);
  const auto n = static_cast<std::int64_t>(keys.rows);
#pragma omp parallel for schedule(static) num_threads(num_threads)
  for (std::int64_t b = 0; b < n; b += kChunk) {
    const auto rows = static_cast<std::size_t>(std::min(kChunk, n - b));
    simd::dot_rows(mean_.data(), keys.row_bytes(static_cast<std::size_t>(b)), keys.dtype,
                   keys.stride, rows, keys.dim, key_dot_mean_.data() + b);
  }
}

void Pruner::extend(const MatrixView& keys) {
  const std::size_t old = key_dot_mean_.size();
  keys_ = keys;
  key_dot_mean_.resize(keys.rows);
  if (keys.rows > old) {
    simd::dot_rows(mean_.data(), keys.row_bytes(old), keys.dtype, keys.stride, keys.rows - old,
                   keys.dim, key_dot_mean_.data() + old);
  }
}

void Pruner::centred_scores(NodeId p, std::span<const NodeId> ids, PruneScratch& s,
                            float* out) const {
  s.row.resize(keys_.dim);
  convert_to_f32(keys_.row_bytes(p), keys_.dtype, keys_.dim, s.row.data());
  simd::dot_gather(s.row.data(), keys_.data, keys_.dtype, keys_.stride, ids.data(), ids.size(),
                   keys_.dim, out);
  for (std::size_t i = 0; i < ids.size(); ++i) out[i] = centred(out[i], p, ids[i]);
}

void Pruner::prune(NodeId p, std::span<const NodeId> candidates, PruneScratch& s,
                   std::vector<NodeId>* kept) const {
  kept->clear();
  const std::size_t n = candidates.size();
  if (n == 0) return;
  const std::size_t dim = keys_.dim;
  s.row.resize(dim);
  s.scores.resize(std::max<std::size_t>(n, max_degree_));
  s.kept_scores.resize(max_degree_);
  convert_to_f32(keys_.row_bytes(p), keys_.dtype, dim, s.row.data());
  simd::dot_gather(s.row.data(), keys_.data, keys_.dtype, keys_.stride, candidates.data(), n, dim,
                   s.scores.data());
  s.order.resize(n);
  std::iota(s.order.begin(), s.order.end(), NodeId{0});
  for (std::size_t i = 0; i < n; ++i) s.scores[i] = centred(s.scores[i], p, candidates[i]);
  std::sort(s.order.begin(), s.order.end(), [&](NodeId a, NodeId b) {
    return s.scores[a] > s.scores[b] || (s.scores[a] == s.scores[b] && candidates[a] < candidates[b]);
  });
  s.dropped.clear();  // for the fill pass
  for (std::size_t i = 0; i < n && kept->size() < max_degree_; ++i) {
    const NodeId c = candidates[s.order[i]];
    const float to_p = s.scores[s.order[i]];
    bool occluded = false;
    if (!kept->empty()) {
      convert_to_f32(keys_.row_bytes(c), keys_.dtype, dim, s.row.data());
      simd::dot_gather(s.row.data(), keys_.data, keys_.dtype, keys_.stride, kept->data(),
                       kept->size(), dim, s.kept_scores.data());
      for (std::size_t j = 0; j < kept->size() && !occluded; ++j) {
        occluded = centred(s.kept_scores[j], (*kept)[j], c) > to_p;
      }
    }
    if (occluded) {
      s.dropped.push_back(static_cast<NodeId>(i));
    } else {
      kept->push_back(c);
    }
  }
  for (std::size_t i = 0; i < s.dropped.size() && kept->size() < max_degree_; ++i) {
    kept->push_back(candidates[s.order[s.dropped[i]]]);
  }
}

}  // namespace ra
