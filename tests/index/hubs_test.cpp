// Hubs: the keys most training queries rank among their best, scored outside the graph.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <random>

#include "index/crc32.h"
#include "index/flat_index.h"
#include "index/graph_build/hubs.h"
#include "index/graph_index.h"
#include "index/recall.h"

namespace ra {
namespace {

TEST(Hubs, FindsTheKeysThatMostListsShareMostFrequentFirst) {
  // Four lists of three: key 7 in all, key 2 in three, key 5 in two, the rest once.
  const std::vector<NodeId> knn = {7, 2, 1, 2, 7, 3, 7, 5, 2, 5, 4, 7};
  EXPECT_EQ(find_hubs(knn, 3, 10, 0.5, 10), (std::vector<NodeId>{2, 5, 7}));
  EXPECT_EQ(find_hubs(knn, 3, 10, 0.75, 10), (std::vector<NodeId>{2, 7}));
  EXPECT_EQ(find_hubs(knn, 3, 10, 0.5, 1), (std::vector<NodeId>{7}));  // the most frequent
  EXPECT_TRUE(find_hubs(knn, 3, 10, 0.5, 0).empty());
}

TEST(Hubs, DroppingKeepsEachListsOrderAndLength) {
  const std::vector<NodeId> knn = {7, 2, 1, 9, 2, 7, 3, 8};  // two lists of four
  const std::vector<NodeId> hubs = {2, 7};
  EXPECT_EQ(drop_hubs(knn, 4, hubs, 2), (std::vector<NodeId>{1, 9, 3, 8}));
  EXPECT_EQ(drop_hubs(knn, 4, hubs, 1), (std::vector<NodeId>{1, 3}));
}

// Keys N(0, I) plus `sinks` keys along one direction u, and queries around u: every query's
// best keys are the sinks, then the ordinary keys nearest its own noise.
struct SinkData {
  Matrix keys, train, test;
  std::vector<NodeId> sinks;
};

SinkData sink_data(std::size_t n, std::size_t dim, std::size_t sinks) {
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  SinkData d{Matrix::zeros(n, dim).value(), Matrix::zeros(2000, dim).value(),
             Matrix::zeros(200, dim).value(), {}};
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t c = 0; c < dim; ++c) d.keys.f32_row(i)[c] = g(rng);
  }
  for (std::size_t s = 0; s < sinks; ++s) {
    const auto id = static_cast<NodeId>(s * (n / sinks) + 3);
    d.sinks.push_back(id);
    d.keys.f32_row(id)[0] = 12.0f + 0.1f * static_cast<float>(s);  // u = e0
  }
  for (std::size_t i = 0; i < n; ++i) {  // the others orthogonal to u: none is favoured
    if (!std::binary_search(d.sinks.begin(), d.sinks.end(), static_cast<NodeId>(i))) d.keys.f32_row(i)[0] = 0;
  }
  for (Matrix* q : {&d.train, &d.test}) {
    for (std::size_t i = 0; i < q->rows(); ++i) {
      for (std::size_t c = 0; c < dim; ++c) q->f32_row(i)[c] = g(rng);
      q->f32_row(i)[0] = 3.0f;
    }
  }
  return d;
}

BuildConfig config(std::uint32_t max_hubs) {
  BuildConfig cfg;
  cfg.max_degree = 16;
  cfg.query_knn = 32;
  cfg.build_beam = 64;
  cfg.num_entries = 16;
  cfg.max_hubs = max_hubs;
  cfg.hub_share = 0.25;  // the sinks are in every list; a large ordinary key may be in 2%
  return cfg;
}

SearchResults exact(const SinkData& d, std::uint32_t k) {
  SearchResults truth;
  EXPECT_TRUE(FlatIndex::over(d.keys.view())->search(d.test.view(), {k}, &truth).ok());
  return truth;
}

TEST(Hubs, SinksBecomeHubsOutsideTheGraphAndSearchStaysExact) {
  const SinkData d = sink_data(4000, 16, 24);
  BuildReport report;
  auto index = GraphIndex::build(d.keys.view(), d.train.view(), config(1024), KeyOwnership::kCopy,
                                 &report).value();
  ASSERT_EQ(std::vector<NodeId>(index->hubs().begin(), index->hubs().end()), d.sinks);
  EXPECT_EQ(report.hubs, 24u);
  // Outside the graph: no edges, never an entry, nobody links to them; every other key reachable.
  for (NodeId h : index->hubs()) EXPECT_EQ(index->graph().degree(h), 0u);
  for (NodeId e : index->entry_points()) EXPECT_FALSE(std::binary_search(d.sinks.begin(), d.sinks.end(), e));
  std::vector<std::uint8_t> reached;
  EXPECT_EQ(index->graph().reachable_from(index->entry_points().front(), &reached), 4000u - 24u);
  for (NodeId h : index->hubs()) EXPECT_FALSE(reached[h]);
  // At a beam as large as the graph the search is the exact top-k, hubs merged in order.
  const SearchResults truth = exact(d, 40);
  SearchResults found;
  ASSERT_TRUE(index->search(d.test.view(), {40, 4000, 2}, &found).ok());
  EXPECT_EQ(found.ids, truth.ids);
  // The beam covers the graph's share of k only: with 24 hubs, k = 40 needs a beam >= 16.
  EXPECT_TRUE(index->search(d.test.view(), {40, 16, 1}, &found).ok());
  const Status too_small = index->search(d.test.view(), {40, 15, 1}, &found);
  EXPECT_EQ(too_small.code(), StatusCode::kInvalidArgument) << too_small.to_string();
}

TEST(Hubs, LeavingTheHubsOutOfTheListsGuidesTheRestOfTheGraph) {
  // With the sinks in every list the lists hold few other keys, so the graph among them is
  // guided poorly; with hubs the same beam finds more of the true top-k.
  const SinkData d = sink_data(4000, 16, 24);
  const SearchResults truth = exact(d, 40);
  const IdMatrix t{truth.num_queries, truth.k, truth.ids};
  double recall_on = 0, recall_off = 0;
  for (std::uint32_t hubs : {1024u, 0u}) {
    auto index = GraphIndex::build(d.keys.view(), d.train.view(), config(hubs)).value();
    SearchResults found;
    ASSERT_TRUE(index->search(d.test.view(), {40, 40, 2}, &found).ok());
    (hubs ? recall_on : recall_off) = recall_at_k(found, t, 40);
  }
  EXPECT_GT(recall_on, recall_off + 0.02) << recall_on << " vs " << recall_off;
}

TEST(Hubs, SurviveSaveAndLoadAndGrowWithAppends) {
  const SinkData d = sink_data(4000, 16, 24);
  auto index = GraphIndex::build(d.keys.view().slice_rows(0, 3600), d.train.view(), config(1024)).value();
  const std::string p1 = (std::filesystem::temp_directory_path() / "ra_hubs_test_a.ra").string();
  const std::string p2 = (std::filesystem::temp_directory_path() / "ra_hubs_test_b.ra").string();
  ASSERT_TRUE(index->save(p1).ok());
  auto loaded = GraphIndex::load(p1).value();
  ASSERT_TRUE(loaded->save(p2).ok());
  std::ifstream f1(p1, std::ios::binary), f2(p2, std::ios::binary);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(f1), {}), std::string(std::istreambuf_iterator<char>(f2), {}));
  EXPECT_TRUE(std::equal(index->hubs().begin(), index->hubs().end(), loaded->hubs().begin(), loaded->hubs().end()));
  // Appended keys join the graph, never linked to a hub, and are found.
  ASSERT_TRUE(loaded->append(d.keys.view().slice_rows(3600, 4000)).ok());
  for (NodeId v = 0; v < loaded->graph().size(); ++v) {
    for (NodeId u : loaded->graph().neighbors(v)) {
      EXPECT_FALSE(std::binary_search(loaded->hubs().begin(), loaded->hubs().end(), u));
    }
  }
  const SearchResults truth = exact(d, 10);
  SearchResults found;
  ASSERT_TRUE(loaded->search(d.test.view(), {10, 4000, 2}, &found).ok());
  EXPECT_EQ(found.ids, truth.ids);
  // A file whose hub list names a key of the graph is refused (a search would return it twice).
  std::ifstream f3(p1, std::ios::binary);
  std::string bytes(std::istreambuf_iterator<char>(f3), {});
  const std::size_t hubs_at = bytes.size() - 4 - 4 * index->hubs().size();  // the last section
  const NodeId graph_key = index->hubs()[0] + 1;
  ASSERT_LT(graph_key, index->hubs()[1]);
  std::memcpy(bytes.data() + hubs_at, &graph_key, 4);
  const std::uint32_t crc = crc32(bytes.data() + hubs_at, 4 * index->hubs().size());
  std::memcpy(bytes.data() + bytes.size() - 4, &crc, 4);
  std::ofstream(p2, std::ios::binary | std::ios::trunc).write(bytes.data(), static_cast<long>(bytes.size()));
  const Status s = GraphIndex::load(p2).status();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("hub"), std::string::npos) << s.message();
  std::filesystem::remove(p1);
  std::filesystem::remove(p2);
}

}  // namespace
}  // namespace ra

namespace ra {
namespace {

TEST(SelfTuning, KeepsTheGraphThatScoresFewerKeysOnHeldOutQueries) {
  // Sinks in every list: the graph with hubs reaches the held-out recall with fewer keys.
  const SinkData sinks = sink_data(4000, 16, 24);
  BuildReport report;
  auto index = GraphIndex::build(sinks.keys.view(), sinks.train.view(), config(1024), KeyOwnership::kCopy,
                                 &report).value();
  EXPECT_EQ(report.held_out, 200u);
  EXPECT_LT(report.tune_scored_hubs, report.tune_scored_plain) << report.tuning();
  EXPECT_EQ(index->hubs().size(), 24u);
  EXPECT_GT(report.tune_beam[1], 0u);
  EXPECT_LE(report.tune_beam[0], report.tune_beam[1]);

  // I.i.d. Gaussian keys and queries with a short Kq and a low hub bar: the "hubs" are merely
  // long keys, scoring all of them costs more than the walk they save, so the plain graph is kept.
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  Matrix keys = Matrix::zeros(8000, 16).value(), train = Matrix::zeros(4000, 16).value();
  for (Matrix* m : {&keys, &train}) {
    for (std::size_t i = 0; i < m->rows() * 16; ++i) m->f32_row(0)[i] = g(rng);
  }
  BuildConfig cfg = config(1024);
  cfg.query_knn = 8;
  cfg.hub_share = 0.001;
  BuildReport plain_report;
  auto plain = GraphIndex::build(keys.view(), train.view(), cfg, KeyOwnership::kCopy, &plain_report).value();
  EXPECT_EQ(plain_report.held_out, 200u);
  EXPECT_GT(plain_report.tune_scored_hubs, plain_report.tune_scored_plain) << plain_report.tuning();
  EXPECT_FALSE(std::isinf(plain_report.tune_scored_plain));
  EXPECT_TRUE(plain->hubs().empty());
  EXPECT_EQ(plain_report.hubs, 0u);
  // With tuning off the hubs stay.
  cfg.self_tune = false;
  BuildReport untuned;
  auto kept = GraphIndex::build(keys.view(), train.view(), cfg, KeyOwnership::kCopy, &untuned).value();
  EXPECT_FALSE(kept->hubs().empty());
  EXPECT_EQ(untuned.held_out, 0u);
}

}  // namespace
}  // namespace ra
