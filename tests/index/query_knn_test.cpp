// The build's training-query kNN: k-means partitions and the clustered kNN against the exact one.
#include "index/graph_build/query_knn.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "index/build_config.h"
#include "index/kmeans.h"
#include "index/matrix.h"
#include "index/recall.h"
#include "tools/synthetic/synthetic.h"

namespace ra {
namespace {

const tools::SyntheticData& data() {
  static const tools::SyntheticData d = [] {
    tools::SyntheticSpec s;
    s.n = 10000;
    s.dim = 24;
    s.num_queries = 10;
    s.num_train = 9000;  // more than one group of 8192 queries, not a multiple of a block
    s.seed = 21;
    return tools::generate(s).value();
  }();
  return d;
}

TEST(KMeans, EveryRowGoesToItsNearestCentroid) {
  const MatrixView keys = data().keys.view();
  for (std::size_t stride : {1u, 7u}) {
    const KMeans km = fit_kmeans(keys, 40, 3, stride).value();
    ASSERT_EQ(km.clusters(), 40u);
    ASSERT_EQ(km.assignment.size(), keys.rows);
    for (std::size_t r = 0; r < keys.rows; r += 37) {
      auto dist = [&](std::size_t c) {
        double s = 0;
        for (std::size_t j = 0; j < keys.dim; ++j) {
          const double diff = keys.f32_row(r)[j] - km.centroids[c * keys.dim + j];
          s += diff * diff;
        }
        return s;
      };
      const double mine = dist(km.assignment[r]);
      for (std::size_t c = 0; c < 40; ++c) EXPECT_LE(mine, dist(c) * (1 + 1e-4) + 1e-6) << "row " << r;
    }
  }
  EXPECT_FALSE(fit_kmeans(keys, keys.rows + 1, 1).ok());
  EXPECT_FALSE(fit_kmeans(keys, 0, 1).ok());
}

std::vector<NodeId> exact(std::uint32_t k) {
  std::vector<NodeId> knn;
  EXPECT_TRUE(exact_query_knn(data().keys.view(), data().train_queries.view(), k, 2, &knn).ok());
  return knn;
}

TEST(ClusteredKnn, ProbingEveryPartitionIsExact) {
  const std::uint32_t k = 20;
  std::vector<NodeId> knn;
  const ClusteredKnn clustered = ClusteredKnn::over(data().keys.view(), 2).value();
  ASSERT_TRUE(clustered.solve(data().train_queries.view(), k, 1.0, &knn).ok());
  const std::vector<NodeId> truth = exact(k);
  ASSERT_EQ(knn.size(), truth.size());
  EXPECT_EQ((recall_at_k<NodeId, NodeId>(knn, k, truth, k, k)), 1.0);  // the same sets (no ties here)
}

TEST(ClusteredKnn, ProbingAShareFindsMostAndEveryRowIsValid) {
  const std::uint32_t k = 50;
  std::vector<NodeId> knn;
  const ClusteredKnn one = ClusteredKnn::over(data().keys.view(), 1).value();
  ASSERT_TRUE(one.solve(data().train_queries.view(), k, 0.3, &knn).ok());
  EXPECT_GE((recall_at_k<NodeId, NodeId>(knn, k, exact(k), k, k)), 0.9);
  for (std::size_t q = 0; q < data().train_queries.rows(); ++q) {
    const std::set<NodeId> row(knn.begin() + static_cast<std::ptrdiff_t>(q * k),
                               knn.begin() + static_cast<std::ptrdiff_t>((q + 1) * k));
    EXPECT_EQ(row.size(), k) << "query " << q;
    EXPECT_LT(*row.rbegin(), data().keys.rows());
  }
  // The same answer at any thread count.
  std::vector<NodeId> two;
  ASSERT_TRUE(ClusteredKnn::over(data().keys.view(), 2)->solve(data().train_queries.view(), k, 0.3, &two).ok());
  EXPECT_EQ(knn, two);
  // And the same when the queries come in slices (the build solves them in chunks to report
  // progress): each query's list depends on that query alone.
  const MatrixView all = data().train_queries.view();
  std::vector<NodeId> first, rest;
  ASSERT_TRUE(one.solve(all.slice_rows(0, 1024), k, 0.3, &first).ok());
  ASSERT_TRUE(one.solve(all.slice_rows(1024, all.rows), k, 0.3, &rest).ok());
  first.insert(first.end(), rest.begin(), rest.end());
  EXPECT_EQ(first, knn);
  EXPECT_FALSE(one.solve(data().train_queries.view(), k, 0.0, &knn).ok());
  EXPECT_FALSE(one.solve(data().train_queries.view(), static_cast<std::uint32_t>(data().keys.rows() + 1), 0.5, &knn).ok());
}

TEST(KnnMode, AutoIsExactUpToTheLimitAndNamesRoundTrip) {
  EXPECT_EQ(resolve_knn_mode(KnnMode::kAuto, 32768, 32768), KnnMode::kExact);  // 2^30 pairs
  EXPECT_EQ(resolve_knn_mode(KnnMode::kAuto, 32768, 32769), KnnMode::kClustered);
  EXPECT_EQ(resolve_knn_mode(KnnMode::kExact, 1u << 20, 1u << 20), KnnMode::kExact);
  EXPECT_EQ(resolve_knn_mode(KnnMode::kBootstrap, 10, 10), KnnMode::kBootstrap);
  for (KnnMode m : {KnnMode::kAuto, KnnMode::kExact, KnnMode::kBootstrap, KnnMode::kClustered}) {
    KnnMode back = KnnMode::kAuto;
    ASSERT_TRUE(parse_knn_mode(knn_mode_name(m), &back));
    EXPECT_EQ(back, m);
  }
  KnnMode unchanged = KnnMode::kExact;
  EXPECT_FALSE(parse_knn_mode("gpu", &unchanged));
  EXPECT_EQ(unchanged, KnnMode::kExact);
}

}  // namespace
}  // namespace ra
