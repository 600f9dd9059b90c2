#include "index/graph_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>

#include "index/crc32.h"
#include "index/graph_build/projection.h"
#include "index/flat_index.h"
#include "index/recall.h"
#include "tools/synthetic/synthetic.h"

namespace ra {
namespace {

namespace fs = std::filesystem;

tools::SyntheticData attention_set(std::size_t n, std::size_t dim, std::size_t queries, std::size_t train,
                                   std::uint64_t seed) {
  tools::SyntheticSpec s;
  s.n = n;
  s.dim = dim;
  s.num_queries = queries;
  s.num_train = train;
  s.seed = seed;
  return tools::generate(s).value();
}

// A small out-of-distribution attention-like set, generated once.
const tools::SyntheticData& data() {
  static const tools::SyntheticData d = attention_set(4000, 32, 200, 2000, 5);
  return d;
}

BuildConfig small_config() {
  BuildConfig cfg;
  cfg.max_degree = 16;
  cfg.query_knn = 32;
  cfg.build_beam = 64;
  cfg.num_entries = 16;
  return cfg;
}

double recall(const GraphIndex& index, const MatrixView& keys, std::uint32_t k, std::uint32_t beam) {
  SearchResults found, truth;
  EXPECT_TRUE(index.search(data().queries.view(), {k, beam, 2}, &found).ok());
  EXPECT_TRUE(FlatIndex::over(keys)->search(data().queries.view(), {k}, &truth).ok());
  return recall_at_k(found, IdMatrix{truth.num_queries, truth.k, truth.ids}, k);
}

std::string temp_path(const std::string& name) {
  return (fs::temp_directory_path() / ("ra_graph_test_" + name)).string();
}

TEST(GraphIndex, FindsTheTopKOfOutOfDistributionQueries) {
  BuildReport report;
  auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), small_config(),
                                 KeyOwnership::kCopy, &report).value();
  EXPECT_GE(recall(*index, data().keys.view(), 10, 64), 0.9);
  EXPECT_GT(recall(*index, data().keys.view(), 10, 128), recall(*index, data().keys.view(), 10, 16));
  EXPECT_EQ(report.unreachable, 0u);
  EXPECT_GT(report.pivots, 0u);
  EXPECT_LE(report.max_degree, 16u);
  // Searching scores a small share of the keys.
  std::vector<SearchStats> stats;
  SearchResults res;
  ASSERT_TRUE(index->search(data().queries.view(), {10, 32, 1}, &res, &stats).ok());
  double scored = 0;
  for (const auto& s : stats) scored += static_cast<double>(s.score_evals);
  EXPECT_LT(scored / static_cast<double>(stats.size()), 0.25 * 4000);
  // Scores are the true inner products, best first.
  for (std::size_t q = 0; q < 5; ++q) {
    for (std::size_t j = 0; j < 10; ++j) {
      const float* key = data().keys.f32_row(static_cast<std::size_t>(res.ids_of(q)[j]));
      double s = 0;
      for (std::size_t c = 0; c < 32; ++c) s += key[c] * data().queries.f32_row(q)[c];
      EXPECT_NEAR(res.scores_of(q)[j], s, 1e-3 * (1 + std::fabs(s)));
      if (j > 0) {
        EXPECT_GE(res.scores_of(q)[j - 1], res.scores_of(q)[j]);
      }
    }
  }
}

TEST(GraphIndex, GraphIsBoundedSimpleAndReachable) {
  auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), small_config()).value();
  const Graph& g = index->graph();
  for (NodeId v = 0; v < g.size(); ++v) {
    const auto nb = g.neighbors(v);
    EXPECT_LE(nb.size(), 16u);
    std::set<NodeId> distinct(nb.begin(), nb.end());
    EXPECT_EQ(distinct.size(), nb.size()) << "duplicate edge at " << v;
    EXPECT_EQ(distinct.count(v), 0u) << "self loop at " << v;
    for (NodeId u : nb) EXPECT_LT(u, g.size());
  }
  std::vector<std::uint8_t> reached;  // every key but the hubs, which are outside the graph
  EXPECT_EQ(g.reachable_from(index->entry_points().front(), &reached), g.size() - index->hubs().size());
  for (NodeId h : index->hubs()) EXPECT_EQ(g.degree(h), 0u);
}

TEST(GraphIndex, SameGraphAtAnyThreadCount) {
  BuildConfig one = small_config(), many = small_config();
  one.num_threads = 1;
  many.num_threads = 3;
  auto a = GraphIndex::build(data().keys.view(), data().train_queries.view(), one).value();
  auto b = GraphIndex::build(data().keys.view(), data().train_queries.view(), many).value();
  EXPECT_EQ(a->graph().degrees(), b->graph().degrees());
  EXPECT_EQ(a->graph().slots(), b->graph().slots());
  EXPECT_TRUE(std::equal(a->entry_points().begin(), a->entry_points().end(),
                         b->entry_points().begin(), b->entry_points().end()));
}

TEST(GraphIndex, ConcurrentSearchesEqualSerialOnes) {
  auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), small_config()).value();
  SearchResults serial, parallel;
  ASSERT_TRUE(index->search(data().queries.view(), {10, 48, 1}, &serial).ok());
  ASSERT_TRUE(index->search(data().queries.view(), {10, 48, 4}, &parallel).ok());
  EXPECT_EQ(serial.ids, parallel.ids);
  EXPECT_EQ(serial.scores, parallel.scores);
}

TEST(GraphIndex, ProjectionMergesQueriesThatShareAPivot) {
  // Six keys on a line of growing norm; two queries whose best key is 0.
  Matrix keys = Matrix::zeros(6, 2).value();
  for (std::size_t i = 0; i < 6; ++i) {
    keys.f32_row(i)[0] = 1.0f + static_cast<float>(i);
    keys.f32_row(i)[1] = static_cast<float>(i % 2);
  }
  const std::vector<NodeId> knn = {0, 1, 2, 0, 3, 4};  // two queries, k = 3, both pivot 0
  Pruner pruner(keys.view(), 8, 1);
  Graph g(6, 8);
  auto pivots = project_queries(knn, 3, pruner, 1, &g);
  ASSERT_TRUE(pivots.ok());
  EXPECT_EQ(*pivots, 1u);
  const auto nb = g.neighbors(0);
  EXPECT_EQ(std::set<NodeId>(nb.begin(), nb.end()), (std::set<NodeId>{1, 2, 3, 4}));
  EXPECT_EQ(g.degree(5), 0u);  // no query touched key 5
}

TEST(GraphIndex, SaveLoadRoundTripIsBitExact) {
  for (DType storage : {DType::kF32, DType::kF16}) {
    BuildConfig cfg = small_config();
    cfg.storage = storage;
    auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), cfg).value();
    const std::string p1 = temp_path("a.ra"), p2 = temp_path("b.ra");
    ASSERT_TRUE(index->save(p1).ok());
    auto loaded = GraphIndex::load(p1);
    ASSERT_TRUE(loaded.ok()) << loaded.status().to_string();
    ASSERT_TRUE((*loaded)->save(p2).ok());
    std::ifstream f1(p1, std::ios::binary), f2(p2, std::ios::binary);
    const std::string b1((std::istreambuf_iterator<char>(f1)), {}), b2((std::istreambuf_iterator<char>(f2)), {});
    EXPECT_EQ(b1, b2);
    EXPECT_EQ((*loaded)->dtype(), storage);
    SearchResults r1, r2;
    ASSERT_TRUE(index->search(data().queries.view(), {10, 32, 1}, &r1).ok());
    ASSERT_TRUE((*loaded)->search(data().queries.view(), {10, 32, 1}, &r2).ok());
    EXPECT_EQ(r1.ids, r2.ids);
    EXPECT_EQ(r1.scores, r2.scores);
    fs::remove(p1);
    fs::remove(p2);
  }
}

TEST(GraphIndex, ReferencedKeysAreNotCopiedAndMustComeBackOnLoad) {
  auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), small_config(),
                                 KeyOwnership::kReference).value();
  EXPECT_FALSE(index->owns_keys());
  EXPECT_EQ(index->keys().data, data().keys.data());
  const std::string p = temp_path("ref.ra");
  ASSERT_TRUE(index->save(p).ok());
  EXPECT_EQ(GraphIndex::load(p).status().code(), StatusCode::kInvalidArgument);
  const MatrixView wrong = data().keys.view().slice_rows(0, 100);
  EXPECT_EQ(GraphIndex::load(p, wrong).status().code(), StatusCode::kInvalidArgument);
  auto loaded = GraphIndex::load(p, data().keys.view());
  ASSERT_TRUE(loaded.ok());
  EXPECT_GE(recall(**loaded, data().keys.view(), 10, 64), 0.9);
  fs::remove(p);
}

TEST(GraphIndex, DamagedFilesGiveClearErrors) {
  auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), small_config()).value();
  const std::string p = temp_path("good.ra");
  ASSERT_TRUE(index->save(p).ok());
  std::ifstream in(p, std::ios::binary);
  const std::string good((std::istreambuf_iterator<char>(in)), {});
  auto load_bytes = [&](const std::string& bytes) {
    const std::string q = temp_path("bad.ra");
    std::ofstream(q, std::ios::binary).write(bytes.data(), static_cast<long>(bytes.size()));
    auto r = GraphIndex::load(q);
    fs::remove(q);
    return r.status();
  };
  EXPECT_EQ(load_bytes(good.substr(0, good.size() / 2)).code(), StatusCode::kCorruption);
  EXPECT_EQ(load_bytes(good.substr(0, 40)).code(), StatusCode::kCorruption);
  EXPECT_EQ(load_bytes(good + "x").code(), StatusCode::kCorruption);
  std::string flipped = good;
  flipped[good.size() - 100] ^= 0x10;  // inside the vectors section
  const Status s = load_bytes(flipped);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("checksum"), std::string::npos) << s.message();
  std::string magic = good;
  magic[0] = 'X';
  EXPECT_EQ(load_bytes(magic).code(), StatusCode::kCorruption);
  std::string newer = good;
  newer[8] = 3;  // version 3 with its header checksum: a file from a newer library
  const std::uint32_t crc = crc32(newer.data(), 60);
  std::memcpy(newer.data() + 60, &crc, 4);
  EXPECT_EQ(load_bytes(newer).code(), StatusCode::kUnsupported);
  std::string bad_version = good;
  bad_version[8] = 3;  // a corrupted version field is corruption, not a newer format
  const Status v = load_bytes(bad_version);
  EXPECT_EQ(v.code(), StatusCode::kCorruption);
  EXPECT_NE(v.message().find("checksum"), std::string::npos) << v.message();
  EXPECT_EQ(GraphIndex::load(fs::temp_directory_path().string()).status().code(), StatusCode::kIoError);
  std::string header = good;
  header[20] ^= 1;  // n, caught by the header checksum
  EXPECT_EQ(load_bytes(header).code(), StatusCode::kCorruption);
  EXPECT_EQ(GraphIndex::load(temp_path("missing.ra")).status().code(), StatusCode::kIoError);
  fs::remove(p);
}

TEST(GraphIndex, AppendedKeysBecomeSearchable) {
  const MatrixView all = data().keys.view();
  const std::size_t first = 3000;
  auto grown = GraphIndex::build(all.slice_rows(0, first), data().train_queries.view(),
                                 small_config()).value();
  ASSERT_TRUE(grown->append(all.slice_rows(first, all.rows)).ok());
  ASSERT_EQ(grown->size(), all.rows);
  std::vector<std::uint8_t> reached;
  EXPECT_EQ(grown->graph().reachable_from(grown->entry_points().front(), &reached),
            all.rows - grown->hubs().size());
  auto rebuilt = GraphIndex::build(all, data().train_queries.view(), small_config()).value();
  const double r_grown = recall(*grown, all, 10, 64), r_rebuilt = recall(*rebuilt, all, 10, 64);
  EXPECT_GE(r_grown, 0.85);
  EXPECT_GE(r_grown, r_rebuilt - 0.1);

  // A referencing index grows with the caller's buffer.
  auto ref = GraphIndex::build(all.slice_rows(0, first), data().train_queries.view(), small_config(),
                               KeyOwnership::kReference).value();
  EXPECT_EQ(ref->append(all.slice_rows(first, all.rows)).code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(ref->extend(all).ok());
  EXPECT_GE(recall(*ref, all, 10, 64), 0.85);
  EXPECT_EQ(ref->extend(all.slice_rows(0, 10)).code(), StatusCode::kInvalidArgument);
}

// The approximate kNN modes measure their recall and build an index nearly as good as exact.
TEST(GraphIndex, ApproximateKnnModesAreMeasuredAndGood) {
  auto exact = GraphIndex::build(data().keys.view(), data().train_queries.view(), small_config()).value();
  const double exact_recall = recall(*exact, data().keys.view(), 10, 64);
  for (KnnMode mode : {KnnMode::kBootstrap, KnnMode::kClustered}) {
    BuildConfig cfg = small_config();
    cfg.knn_mode = mode;
    cfg.bootstrap_fraction = 0.25;
    cfg.probe_share = 0.25;
    BuildReport report;
    auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), cfg,
                                   KeyOwnership::kCopy, &report).value();
    const std::string name(knn_mode_name(mode));
    EXPECT_EQ(report.knn_mode, mode) << name;
    if (mode == KnnMode::kClustered) {
      EXPECT_EQ(report.probe_share, cfg.probe_share);  // no doubling outside auto
    }
    EXPECT_GT(report.knn_recall, 0.8) << name;
    EXPECT_LE(report.knn_recall, 1.0) << name;
    EXPECT_GE(recall(*index, data().keys.view(), 10, 64), exact_recall - 0.05) << name;
  }
  // Auto past its exact limit from a tiny probe share: the share doubles until the sample's
  // recall reaches kMinClusteredRecall, or the build falls back to exact beyond kMaxAutoProbeShare.
  BuildConfig automatic = small_config();
  automatic.auto_exact_pairs = 1;
  automatic.probe_share = 0.005;
  BuildReport report;
  ASSERT_TRUE(GraphIndex::build(data().keys.view(), data().train_queries.view(), automatic, KeyOwnership::kCopy,
                                &report).ok());
  std::printf("auto from probe share 0.005: %s at share %.3f, recall %.3f\n",
              std::string(knn_mode_name(report.knn_mode)).c_str(), report.probe_share,
              report.knn_mode == KnnMode::kClustered ? report.knn_recall : report.clustered_recall);
  EXPECT_GT(report.probe_share, automatic.probe_share);  // 0.5% of the partitions is one: too few
  if (report.knn_mode == KnnMode::kClustered) {
    EXPECT_GE(report.knn_recall, kMinClusteredRecall);
    EXPECT_LE(report.probe_share, kMaxAutoProbeShare);
  } else {
    EXPECT_EQ(report.knn_mode, KnnMode::kExact);
    EXPECT_LT(report.clustered_recall, kMinClusteredRecall);
    EXPECT_GT(report.probe_share * 2, kMaxAutoProbeShare);
  }
  BuildConfig bad = small_config();
  bad.probe_share = 0;
  EXPECT_EQ(GraphIndex::build(data().keys.view(), data().train_queries.view(), bad).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(GraphIndex, BuildReportsEachStepAndTheKnnsProgress) {
  // More training queries than one chunk of the kNN holds on one thread (8192).
  const tools::SyntheticData small = attention_set(1000, 16, 1, 1000, 9);
  Matrix train = Matrix::zeros(20000, 16).value();  // the training queries, repeated
  for (std::size_t i = 0; i < train.rows(); ++i) {
    std::copy_n(small.train_queries.f32_row(i % 1000), 16, train.f32_row(i));
  }
  BuildConfig cfg = small_config();
  cfg.num_threads = 1;
  std::vector<std::pair<std::string, double>> calls;
  cfg.progress = [&](std::string_view step, double done) { calls.emplace_back(std::string(step), done); };
  ASSERT_TRUE(GraphIndex::build(small.keys.view(), train.view(), cfg).ok());
  std::vector<double> knn;  // the kNN step's calls, in order
  for (const auto& [step, done] : calls) {
    EXPECT_GE(done, 0.0);
    EXPECT_LT(done, 1.0);
    if (step == "training-query kNN") {
      knn.push_back(done);
    } else {
      EXPECT_EQ(done, 0.0) << step;  // only the kNN reports within its step
    }
  }
  ASSERT_EQ(knn.size(), 3u);  // 20000 queries in chunks of 8192: starts at 0, 0.41 and 0.82
  EXPECT_EQ(knn.front(), 0.0);
  EXPECT_TRUE(std::is_sorted(knn.begin(), knn.end()));
  EXPECT_EQ(std::set<double>(knn.begin(), knn.end()).size(), knn.size());
}

TEST(GraphIndex, AnExactKnnProviderIsUsedAndNamedInTheReport) {
  // A provider with the CPU's contract (FlatIndex's lists) builds the same graph as the CPU
  // kNN, and the report names where it ran (as with gpu::exact_knn and "gpu").
  BuildConfig plain = small_config(), provided = small_config();
  plain.knn_mode = provided.knn_mode = KnnMode::kExact;
  int calls = 0;
  provided.exact_knn = [&](const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                           std::vector<NodeId>* knn) {
    ++calls;
    SearchResults r;
    RA_RETURN_IF_ERROR(FlatIndex::over(keys)->search(queries, {k}, &r));
    knn->assign(r.ids.begin(), r.ids.end());
    return Status::OK();
  };
  provided.exact_knn_device = "test device";
  BuildReport a, b;
  auto x = GraphIndex::build(data().keys.view(), data().train_queries.view(), plain, KeyOwnership::kCopy, &a);
  auto y = GraphIndex::build(data().keys.view(), data().train_queries.view(), provided, KeyOwnership::kCopy, &b);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_GT(calls, 0);
  EXPECT_EQ((*x)->graph().slots(), (*y)->graph().slots());
  EXPECT_NE(b.to_string().find("knn exact on the test device"), std::string::npos) << b.to_string();
  EXPECT_EQ(a.to_string().find(" on the "), std::string::npos) << a.to_string();
}

TEST(GraphIndex, TheScoredLogHoldsEveryScoredKeyOnce) {
  for (std::uint32_t max_hubs : {0u, 64u}) {
    BuildConfig cfg = small_config();
    cfg.max_hubs = max_hubs;
    cfg.hub_share = 0.001;
    cfg.self_tune = false;
    auto index = GraphIndex::build(data().keys.view(), data().train_queries.view(), cfg).value();
    SearchContext ctx;
    std::vector<NodeId> log;
    std::vector<Label> ids(10);
    std::vector<float> scores(10);
    for (std::size_t q = 0; q < 20; ++q) {
      log.clear();
      SearchStats stats;
      ctx.set_scored_log(&log);
      ASSERT_TRUE(index->search_one(data().queries.f32_row(q), {10, 48, 1}, ctx, ids.data(), scores.data(), &stats).ok());
      ctx.set_scored_log(nullptr);
      EXPECT_EQ(log.size(), stats.score_evals);
      EXPECT_EQ(std::set<NodeId>(log.begin(), log.end()).size(), log.size()) << "an id scored twice";
      for (Label id : ids) EXPECT_NE(std::find(log.begin(), log.end(), static_cast<NodeId>(id)), log.end());
    }
    log.clear();
    ASSERT_TRUE(index->search_one(data().queries.f32_row(0), {10, 48, 1}, ctx, ids.data(), scores.data()).ok());
    EXPECT_TRUE(log.empty());  // unset: nothing logged
  }
}

TEST(GraphIndex, BadInputsAreErrors) {
  const MatrixView keys = data().keys.view(), train = data().train_queries.view();
  BuildConfig bad = small_config();
  bad.max_degree = 2;
  EXPECT_EQ(GraphIndex::build(keys, train, bad).status().code(), StatusCode::kInvalidArgument);
  bad = small_config();
  bad.build_beam = 4;
  EXPECT_EQ(GraphIndex::build(keys, train, bad).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GraphIndex::build(MatrixView{}, train, small_config()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GraphIndex::build(keys, MatrixView{}, small_config()).status().code(), StatusCode::kInvalidArgument);
  Matrix other_dim = Matrix::zeros(10, 31).value();
  EXPECT_EQ(GraphIndex::build(keys, other_dim.view(), small_config()).status().code(), StatusCode::kInvalidArgument);
  Matrix nan_keys = Matrix::copy_of(keys).value();
  nan_keys.f32_row(7)[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(GraphIndex::build(nan_keys.view(), train, small_config()).status().code(), StatusCode::kInvalidArgument);
  const std::vector<NodeId> bad_knn = {0, 1, 99999};
  EXPECT_EQ(GraphIndex::build_from_knn(keys, bad_knn, 3, 0, small_config()).status().code(),
            StatusCode::kInvalidArgument);

  auto index = GraphIndex::build(keys, train, small_config()).value();
  SearchResults res;
  const auto k_past_beam = static_cast<std::uint32_t>(10 + index->hubs().size() + 1);  // beam + hubs < k
  EXPECT_EQ(index->search(data().queries.view(), {k_past_beam, 10, 1}, &res).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->search(data().queries.view(), {5000, 6000, 1}, &res).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->search(data().queries.view(), {0, 10, 1}, &res).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(index->search(other_dim.view(), {10, 10, 1}, &res).code(), StatusCode::kInvalidArgument);
  std::vector<float> q(32, 1.0f);
  q[5] = std::numeric_limits<float>::infinity();
  SearchContext ctx = index->make_context();
  Label ids[10];
  float scores[10];
  EXPECT_EQ(index->search_one(q.data(), {10, 10, 1}, ctx, ids, scores).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra

namespace ra {
namespace {

TEST(GraphIndex, QueryGuidanceBeatsAKeyOnlyGraphOnOutOfDistributionQueries) {
  // The same build guided by the training queries or by the keys themselves (a key-only graph);
  // at equal keys scored the guided one finds more of the OOD test queries' top-10.
  BuildConfig cfg = small_config();
  cfg.max_hubs = 0;  // guidance alone
  const MatrixView keys = data().keys.view();
  auto guided = GraphIndex::build(keys, data().train_queries.view(), cfg).value();
  auto key_only = GraphIndex::build(keys, keys.slice_rows(0, data().train_queries.rows()), cfg).value();
  SearchResults truth;
  ASSERT_TRUE(FlatIndex::over(keys)->search(data().queries.view(), {10}, &truth).ok());
  const IdMatrix t{truth.num_queries, truth.k, truth.ids};
  auto measure = [&](const GraphIndex& index, std::uint32_t beam) {
    SearchResults found;
    std::vector<SearchStats> stats;
    EXPECT_TRUE(index.search(data().queries.view(), {10, beam, 1}, &found, &stats).ok());
    double scored = 0;
    for (const auto& s : stats) scored += static_cast<double>(s.score_evals) / static_cast<double>(stats.size());
    return std::pair<double, double>{recall_at_k(found, t, 10), scored};
  };
  const auto [recall_guided, scored_guided] = measure(*guided, 24);
  double best_key_only = 0;  // the key-only graph's best recall without scoring more keys
  for (std::uint32_t beam = 10; beam <= 400; beam += 6) {
    const auto [r, scored] = measure(*key_only, beam);
    if (scored > scored_guided) break;
    best_key_only = std::max(best_key_only, r);
  }
  EXPECT_GT(recall_guided, best_key_only + 0.05) << recall_guided << " vs " << best_key_only << " at "
                                                 << scored_guided << " keys";
}

}  // namespace
}  // namespace ra
