#include "index/graph_build/query_knn.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <new>
#include <numeric>
#include <span>
#include <string>

#include "index/flat_index.h"
#include "index/kmeans.h"
#include "index/threading.h"
#include "index/topk.h"
#include "simd/inner_product.h"

namespace ra {
namespace {

constexpr std::size_t kClusterSize = 128;   // keys per k-means cluster, on average
constexpr std::size_t kSamplePerCluster = 32;  // k-means fits on about this many keys a cluster
constexpr int kIterations = 4;
constexpr std::size_t kQueryBlock = 64, kKeyBlock = 1024;  // as FlatIndex's tiles
constexpr std::size_t kFirstClusters = 4;  // probed first: each query's best, to raise its bar
constexpr NodeId kNoNode = ~NodeId{0};

using Partition = ClusteredKnn::Partition;

Partition partition(const MatrixView& keys, const KMeans& km) {
  const std::size_t row_bytes = keys.dim * dtype_size(keys.dtype);
  Partition p;
  group_by_bucket(keys.rows, km.clusters(), [&](std::size_t i) { return km.assignment[i]; },
                  [](std::size_t i) { return static_cast<NodeId>(i); }, &p.cluster);
  p.rows.resize(keys.rows * row_bytes);
  for (std::size_t r = 0; r < keys.rows; ++r) {
    std::copy_n(keys.row_bytes(p.cluster.values[r]), row_bytes, p.rows.data() + r * row_bytes);
  }
  p.dtype = keys.dtype;
  p.dim = keys.dim;
  return p;
}

// The clusters a query probes: its best `probes` by centroid score (ties to the smaller id),
// and more, best first, until they hold `min_keys` keys (tiny clusters). The probes-th score
// is selected on a copy of the scores (plain float compares; ranking ids through the scores
// cost a fifth of the kNN), then one pass takes the clusters above it. Scratch: C entries each.
void probe_list(const float* centroid_scores, const Partition& p, std::size_t probes, std::size_t min_keys,
                std::vector<float>& sorted, std::vector<std::uint32_t>& rank, std::vector<std::uint32_t>* out) {
  const std::size_t C = rank.size();
  sorted.assign(centroid_scores, centroid_scores + C);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(probes - 1), sorted.end(),
                   std::greater<float>());
  const float bar = sorted[probes - 1];
  out->clear();
  std::size_t keys = 0;
  for (std::size_t c = 0; c < C; ++c) {
    if (centroid_scores[c] > bar) out->push_back(static_cast<std::uint32_t>(c));
  }
  for (std::size_t c = 0; c < C && out->size() < probes; ++c) {
    if (centroid_scores[c] == bar) out->push_back(static_cast<std::uint32_t>(c));
  }
  for (std::uint32_t c : *out) keys += p.cluster.size(c);
  if (keys >= min_keys) return;
  // Tiny clusters: every cluster ranked, taken best first until they hold min_keys keys.
  std::iota(rank.begin(), rank.end(), 0u);
  std::sort(rank.begin(), rank.end(), [&](std::uint32_t a, std::uint32_t b) {
    return centroid_scores[a] > centroid_scores[b] || (centroid_scores[a] == centroid_scores[b] && a < b);
  });
  out->clear();
  keys = 0;
  for (std::size_t i = 0; i < C && (i < probes || keys < min_keys); ++i) {
    out->push_back(rank[i]);
    keys += p.cluster.size(rank[i]);
  }
}

// Per thread: a group's top-k per query, its (cluster, query) pairs grouped by cluster, a block
// of queries, a score tile.
struct GroupScratch {
  std::vector<TopK> heaps;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> first, rest;  // (cluster, offset into the group)
  Buckets<std::uint32_t> members;       // the offsets of the queries that probe each cluster
  std::vector<std::uint32_t> list, rank;
  std::vector<float> centroid_scores, queries, tile, sorted;
  std::vector<Label> ids;
  std::vector<float> scores;
  GroupScratch(std::size_t C, std::size_t dim, std::size_t k, std::size_t group, std::size_t probes)
      : rank(C), centroid_scores(kQueryBlock * C), queries(kQueryBlock * dim),
        tile(kQueryBlock * kKeyBlock), sorted(C), ids(k), scores(k) {
    for (std::size_t i = 0; i < group; ++i) heaps.emplace_back(k);
    members.start.reserve(C + 2);
    members.values.reserve(group * probes);
    first.reserve(group * std::min(probes, kFirstClusters));
    rest.reserve(group * probes);
    list.reserve(probes);
  }
};

// Scores every (cluster, query) pair of `pairs` into the queries' top-k: cluster by cluster,
// the queries that probe it against its keys on the block kernel, so a cluster's keys stay in
// cache while its queries pass.
void score_pairs(const MatrixView& queries, std::size_t q0, const Partition& p,
                 const std::vector<std::pair<std::uint32_t, std::uint32_t>>& pairs, GroupScratch& s) {
  const std::size_t C = p.clusters(), d = queries.dim;
  const MatrixView rows = p.view();
  group_by_bucket(pairs.size(), C, [&](std::size_t i) { return pairs[i].first; },
                  [&](std::size_t i) { return pairs[i].second; }, &s.members);
  for (std::size_t c = 0; c < C; ++c) {
    const std::uint32_t* who = s.members.values.data() + s.members.start[c];
    const std::size_t count = s.members.size(c);
    const std::size_t first = p.cluster.start[c], last = p.cluster.start[c + 1];
    for (std::size_t i0 = 0; i0 < count; i0 += kQueryBlock) {
      const std::size_t nq = std::min(kQueryBlock, count - i0);
      for (std::size_t i = 0; i < nq; ++i) std::copy_n(queries.f32_row(q0 + who[i0 + i]), d, s.queries.data() + i * d);
      for (std::size_t r0 = first; r0 < last; r0 += kKeyBlock) {
        const std::size_t r1 = std::min(last, r0 + kKeyBlock);
        simd::dot_block(s.queries.data(), d, nq, rows.row_bytes(r0), rows.dtype, rows.stride, r1 - r0, d,
                        s.tile.data(), kKeyBlock);
        for (std::size_t i = 0; i < nq; ++i) {
          s.heaps[who[i0 + i]].push_all(s.tile.data() + i * kKeyBlock, r1 - r0, static_cast<Label>(r0));
        }
      }
    }
  }
}

// The top-k of queries [q0, q1): each query's clusters (its block against every centroid),
// scored in two passes: first each query's kFirstClusters best, after which its top-k keeps k
// entries and its bar is the k-th of their scores, then the rest of its clusters, whose keys
// now mostly fall below that bar. In one pass, clusters came in index order and every better
// cluster refilled the top-k: four compactions a query, a fifth of the build. Allocates only
// where tiny clusters make a probe list longer than `probes`.
void solve_group(const MatrixView& queries, std::size_t q0, std::size_t q1, const std::vector<float>& centroids,
                 const Partition& p, std::size_t probes, std::uint32_t k, GroupScratch& s, NodeId* out) {
  const std::size_t C = p.clusters(), d = queries.dim;
  s.first.clear();
  s.rest.clear();
  for (std::size_t b0 = q0; b0 < q1; b0 += kQueryBlock) {
    const std::size_t b1 = std::min(q1, b0 + kQueryBlock);
    simd::dot_block(queries.f32_row(b0), queries.stride, b1 - b0, centroids.data(), DType::kF32, d, C, d,
                    s.centroid_scores.data(), C);
    for (std::size_t q = b0; q < b1; ++q) {
      const float* scores = s.centroid_scores.data() + (q - b0) * C;
      probe_list(scores, p, probes, k, s.sorted, s.rank, &s.list);
      const std::size_t best = std::min(kFirstClusters, s.list.size());
      std::nth_element(s.list.begin(), s.list.begin() + static_cast<std::ptrdiff_t>(best), s.list.end(),
                       [scores](std::uint32_t a, std::uint32_t b) { return scores[a] > scores[b]; });
      const auto offset = static_cast<std::uint32_t>(q - q0);
      for (std::size_t i = 0; i < s.list.size(); ++i) (i < best ? s.first : s.rest).emplace_back(s.list[i], offset);
    }
  }
  for (std::size_t q = q0; q < q1; ++q) s.heaps[q - q0].reset(k);
  score_pairs(queries, q0, p, s.first, s);
  for (std::size_t q = q0; q < q1; ++q) s.heaps[q - q0].tighten();
  score_pairs(queries, q0, p, s.rest, s);
  for (std::size_t q = q0; q < q1; ++q) {
    s.heaps[q - q0].extract(s.ids.data(), s.scores.data());
    NodeId* row = out + q * k;
    for (std::size_t j = 0; j < k; ++j) {  // every query scored >= k keys (probe_list)
      row[j] = s.ids[j] == kNoLabel ? kNoNode : p.cluster.values[static_cast<std::size_t>(s.ids[j])];
    }
  }
}

}  // namespace

Status exact_query_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                       std::uint32_t num_threads, std::vector<NodeId>* knn) {
  RA_ASSIGN_OR_RETURN(const FlatIndex flat, FlatIndex::over(keys));
  SearchResults res;
  RA_RETURN_IF_ERROR(flat.search(queries, {k, k, num_threads}, &res));
  knn->resize(res.ids.size());
  std::transform(res.ids.begin(), res.ids.end(), knn->begin(),
                 [](Label id) { return static_cast<NodeId>(id); });
  return Status::OK();
}

Result<ClusteredKnn> ClusteredKnn::over(const MatrixView& keys, std::uint32_t num_threads) {
  const std::size_t n = keys.rows, C = std::max<std::size_t>(1, n / kClusterSize);
  if (n == 0) return Status::InvalidArgument("clustered kNN: no keys");
  ClusteredKnn c;
  c.threads_ = resolve_threads(num_threads);
  try {
    RA_ASSIGN_OR_RETURN(KMeans km, fit_kmeans(keys, C, kIterations, std::max<std::size_t>(1, n / (C * kSamplePerCluster)),
                                              static_cast<std::uint32_t>(c.threads_)));
    c.part_ = partition(keys, km);
    c.centroids_ = std::move(km.centroids);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("clustered kNN: out of memory");
  }
  return c;
}

Status ClusteredKnn::solve(const MatrixView& queries, std::uint32_t k, double probe_share,
                           std::vector<NodeId>* knn) const {
  const Partition& p = part_;
  const std::size_t n = p.cluster.values.size(), m = queries.rows, d = p.dim, C = p.clusters();
  if (k == 0 || k > n || queries.dim != d || !(probe_share > 0 && probe_share <= 1)) {
    return Status::InvalidArgument("clustered kNN: k in [1, keys], matching dims, probe share in (0, 1]");
  }
  const std::size_t probes = std::clamp<std::size_t>(static_cast<std::size_t>(std::ceil(probe_share * C)), 1, C);
  // Groups of at most kClusteredKnnGroup queries, at least one per thread.
  const std::size_t group = std::clamp<std::size_t>((m + threads_ - 1) / threads_, 1, kClusteredKnnGroup);
  const std::size_t groups = (m + group - 1) / group;
  try {
    knn->assign(m * k, 0);
    std::vector<GroupScratch> scratch;
    for (int t = 0; t < threads_; ++t) scratch.emplace_back(C, d, k, group, probes);
    ParallelGuard guard;  // a probe list longer than `probes` allocates
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads_)
    for (std::size_t g = 0; g < groups; ++g) guard.run([&] {
      solve_group(queries, g * group, std::min(m, (g + 1) * group), centroids_, p, probes, k,
                  scratch[static_cast<std::size_t>(omp_get_thread_num())], knn->data());
    });
    RA_RETURN_IF_ERROR(guard.status("clustered kNN"));
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("clustered kNN: out of memory");
  }
  if (std::find(knn->begin(), knn->end(), kNoNode) != knn->end()) {
    return Status::Internal("clustered kNN: a query scored fewer than k keys");
  }
  return Status::OK();
}

}  // namespace ra
