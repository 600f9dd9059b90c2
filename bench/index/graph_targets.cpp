// The query-guided graph index against its targets, with the exact scan of the same keys as
// the baseline in the same run:
//   synthetic  ra gen --kind attention, n keys (default 131072) x 128, every prefill query as a
//              training query, 1000 decode queries: recall@10 and recall@100 against keys
//              scored, QPS and single-thread latency; f32 and f16 storage; exact, bootstrap, clustered kNN
//   stories    every layer / query head of the real stories260K data: index over the first 1536
//              keys guided by the first 1536 queries, tested on positions 1536-2047
//   insert     build over 75% of the keys, append the rest, compare with a full rebuild
// Usage: bench_graph_targets [--part all|synthetic|stories|insert] [--n N] [--data DIR]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <string>

#include "index/graph_index.h"
#include "index/vector_io.h"
#include "tools/eval/measure.h"
#include "tools/synthetic/synthetic.h"
#include "tools/report/table.h"

namespace {

using namespace ra;
using tools::format;

void print_rows(const std::string& title, const std::vector<tools::SweepRow>& rows, std::uint32_t k) {
  tools::Table t({"beam", "recall@" + std::to_string(k), "keys scored", "% of n", "QPS",
                  "mean us", "p99 us"});
  for (const auto& r : rows) {
    t.add_row({r.beam ? std::to_string(r.beam) : "exact", format("%.4f", r.recall),
               format("%.0f", r.scored_mean), format("%.2f%%", 100 * r.scored_fraction),
               format("%.0f", r.qps), format("%.1f", r.latency_us_mean), format("%.1f", r.latency_us_p99)});
  }
  std::printf("\n%s\n%s", title.c_str(), t.render().c_str());
}

// The cheapest row reaching `target` recall, or null.
const tools::SweepRow* first_at(const std::vector<tools::SweepRow>& rows, double target) {
  for (const auto& r : rows) {
    if (r.beam && r.recall >= target) return &r;
  }
  return nullptr;
}

int fail(const Status& s) {
  std::fprintf(stderr, "bench_graph_targets: %s\n", s.to_string().c_str());
  return 1;
}

int synthetic(std::size_t n) {
  tools::SyntheticSpec spec;
  spec.n = n;
  spec.num_train = n;
  spec.num_queries = 1000;
  auto data = tools::generate(spec);
  if (!data.ok()) return fail(data.status());
  auto truth = tools::exact_truth(data->keys.view(), data->queries.view(), 100);
  if (!truth.ok()) return fail(truth.status());
  std::printf("== synthetic attention: %zu keys x %zu, %zu training queries (all prefill positions), "
              "%zu decode queries, 1 search thread\n", n, spec.dim, spec.num_train, spec.num_queries);
  struct Variant {
    const char* name;
    DType storage;
    KnnMode knn;
  };
  for (const Variant v : {Variant{"f32, exact kNN", DType::kF32, KnnMode::kExact},
                          Variant{"f16, exact kNN", DType::kF16, KnnMode::kExact},
                          Variant{"f32, bootstrap kNN (10% exact)", DType::kF32, KnnMode::kBootstrap},
                          Variant{"f32, clustered kNN", DType::kF32, KnnMode::kClustered}}) {
    BuildConfig cfg;
    cfg.storage = v.storage;
    cfg.knn_mode = v.knn;
    BuildReport report;
    auto index = GraphIndex::build(data->keys.view(), data->train_queries.view(), cfg,
                                   KeyOwnership::kCopy, &report);
    if (!index.ok()) return fail(index.status());
    std::printf("\n-- %s\n%s\n", v.name, report.to_string().c_str());
    for (std::uint32_t k : {10u, 100u}) {
      const std::vector<std::uint32_t> beams =
          k == 10 ? std::vector<std::uint32_t>{16, 32, 48, 64, 96, 128}
                  : std::vector<std::uint32_t>{100, 150, 200, 250, 300, 400};
      auto rows = tools::sweep_beams(**index, data->queries.view(), *truth, k, beams, 1);
      if (!rows.ok()) return fail(rows.status());
      auto exact = tools::exact_scan_row((*index)->keys(), data->queries.view(), *truth, k, 1);
      if (!exact.ok()) return fail(exact.status());
      rows->push_back(*exact);
      print_rows(std::string(v.name) + ", k = " + std::to_string(k), *rows, k);
      if (const auto* r = first_at(*rows, 0.95)) {
        std::printf("recall@%u >= 0.95: beam %u, %.2f%% of keys scored, %.1f us mean "
                    "(exact scan %.1f us: %.1fx faster)\n", k, r->beam, 100 * r->scored_fraction,
                    r->latency_us_mean, exact->latency_us_mean, exact->latency_us_mean / r->latency_us_mean);
      }
    }
  }
  return 0;
}

int stories(const std::string& dir) {
  const std::string keys = dir + "/keys.npy", queries = dir + "/queries.npy";
  std::printf("\n== stories260K (%s): per layer and query head, index over keys 0-1535 guided by "
              "queries 0-1535, tested on queries 1536-2047; smallest beam with recall@10 >= 0.95\n",
              dir.c_str());
  tools::Table t({"layer", "q head", "kv head", "beam", "recall@10", "keys scored", "% of n"});
  const std::vector<std::uint32_t> beams = {10, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256};
  int met = 0, total = 0;
  double fraction_sum = 0;
  for (int layer = 0; layer < 5; ++layer) {
    for (int head = 0; head < 8; ++head) {
      const std::string sel = "[" + std::to_string(layer) + "," + std::to_string(head / 2) + ",:1536]";
      auto k = read_matrix(keys + sel);
      auto train = read_matrix(queries + "[" + std::to_string(layer) + "," + std::to_string(head) + ",:1536]");
      auto test = read_matrix(queries + "[" + std::to_string(layer) + "," + std::to_string(head) + ",1536:]");
      if (!k.ok()) return fail(k.status());
      if (!train.ok()) return fail(train.status());
      if (!test.ok()) return fail(test.status());
      BuildConfig cfg;
      cfg.max_degree = 16;
      cfg.num_entries = 16;
      auto index = GraphIndex::build(k->view(), train->view(), cfg);
      if (!index.ok()) return fail(index.status());
      auto truth = tools::exact_truth(k->view(), test->view(), 10);
      if (!truth.ok()) return fail(truth.status());
      auto rows = tools::sweep_beams(**index, test->view(), *truth, 10, beams, 1);
      if (!rows.ok()) return fail(rows.status());
      const auto* r = first_at(*rows, 0.95);
      if (r == nullptr) r = &rows->back();
      ++total;
      met += r->recall >= 0.95;
      fraction_sum += r->scored_fraction;
      t.add_row({std::to_string(layer), std::to_string(head), std::to_string(head / 2),
                 std::to_string(r->beam), format("%.4f", r->recall), format("%.0f", r->scored_mean),
                 format("%.1f%%", 100 * r->scored_fraction)});
    }
  }
  std::printf("%s%d of %d heads reach recall@10 >= 0.95; mean keys scored there %.1f%% of 1536\n",
              t.render().c_str(), met, total, 100 * fraction_sum / total);
  return 0;
}

int insert(std::size_t n) {
  tools::SyntheticSpec spec;
  spec.n = n;
  spec.num_train = n / 4;
  spec.num_queries = 1000;
  auto data = tools::generate(spec);
  if (!data.ok()) return fail(data.status());
  const MatrixView all = data->keys.view();
  const std::size_t first = n * 3 / 4;
  auto truth = tools::exact_truth(all, data->queries.view(), 10);
  if (!truth.ok()) return fail(truth.status());
  BuildConfig cfg;
  auto t0 = std::chrono::steady_clock::now();
  auto grown = GraphIndex::build(all.slice_rows(0, first), data->train_queries.view(), cfg);
  if (!grown.ok()) return fail(grown.status());
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  if (Status s = (*grown)->append(all.slice_rows(first, n)); !s.ok()) return fail(s);
  const double append_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto rebuilt = GraphIndex::build(all, data->train_queries.view(), cfg);
  if (!rebuilt.ok()) return fail(rebuilt.status());
  std::printf("\n== insert: built over %zu keys (%.2f s), appended %zu (%.2f s, %.0f us per key), "
              "vs a full rebuild over %zu; same %zu training queries\n", first, build_s, n - first,
              append_s, 1e6 * append_s / static_cast<double>(n - first), n, spec.num_train);
  const std::vector<std::uint32_t> beams = {16, 32, 64, 128};
  auto a = tools::sweep_beams(**grown, data->queries.view(), *truth, 10, beams, 1);
  auto b = tools::sweep_beams(**rebuilt, data->queries.view(), *truth, 10, beams, 1);
  if (!a.ok()) return fail(a.status());
  if (!b.ok()) return fail(b.status());
  print_rows("built + appended", *a, 10);
  print_rows("full rebuild", *b, 10);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Query-guided graph index: targets and baselines"};
  std::string part = "all", data = "../shared/data/stories260K/ctx2048";
  std::size_t n = 131072;
  app.add_option("--part", part)->check(CLI::IsMember({"all", "synthetic", "stories", "insert"}));
  app.add_option("--n", n, "Keys for the synthetic part")->capture_default_str();
  app.add_option("--data", data, "stories260K context directory")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  int rc = 0;
  if (part == "all" || part == "synthetic") rc |= synthetic(n);
  if (part == "all" || part == "stories") rc |= stories(data);
  if (part == "all" || part == "insert") rc |= insert(32768);
  return rc;
}
