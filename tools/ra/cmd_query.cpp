// ra query: recall, keys scored and speed of an index over a sweep: beams for a graph index,
// probes (at one reorder depth) for a partition index.
#include <cstdio>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "index/atomic_file.h"
#include "index/graph_index.h"
#include "index/index_file.h"
#include "index/partition_index.h"
#include "index/vector_io.h"
#include "tools/eval/measure.h"
#include "tools/report/table.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_query(CLI::App& app) {
  struct Options {
    std::string index, queries, gt, keys, json;
    std::uint32_t k = 10, threads = 1, reorder = 0;
    bool exact = false;
    std::vector<std::uint32_t> beams = {16, 32, 64, 128, 256}, probes = {1, 2, 4, 8, 16, 32, 64};
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("query", "Measure an index: recall@k, keys scored, QPS, latency");
  cmd->add_option("--index", o->index, "Index file from ra build")->required();
  cmd->add_option("--queries", o->queries, "Test queries (selector allowed)")->required();
  auto* gt = cmd->add_option("--gt", o->gt, "Ground truth .ibin (exact top-k or more)");
  auto* keys_opt = cmd->add_option("--keys", o->keys, "Keys, to compute the ground truth exactly");
  gt->excludes(keys_opt);
  cmd->add_option("--k", o->k, "k of recall@k")->capture_default_str();
  cmd->add_option("--beam", o->beams, "Graph index: beam widths to sweep")->delimiter(',')->capture_default_str();
  cmd->add_option("--probes", o->probes, "Partition index: lists scanned, swept")->delimiter(',')->capture_default_str();
  cmd->add_option("--reorder", o->reorder, "Partition index: best estimates rescored exactly (0: 4k)")
      ->capture_default_str();
  cmd->add_option("--threads", o->threads, "Search threads (0: all)")->capture_default_str();
  cmd->add_option("--json", o->json, "Also write the rows as JSON");
  cmd->add_flag("--exact", o->exact, "Also time the exact scan of the index's keys (baseline row)");
  return [o] {
    if (o->gt.empty() && o->keys.empty()) {
      return fail("query", Status::InvalidArgument("give --gt FILE or --keys FILE for the ground truth"));
    }
    if (Status s = check_outputs({o->json}); !s.ok()) return fail("query", s);
    auto kind = index_file_kind(o->index);
    if (!kind.ok()) return fail("query", kind.status());
    const bool partition = *kind == IndexKind::kPartition;
    std::unique_ptr<GraphIndex> graph;
    std::unique_ptr<PartitionIndex> partitions;
    if (partition) {
      auto loaded = PartitionIndex::load(o->index);
      if (!loaded.ok()) return fail("query", loaded.status());
      partitions = std::move(*loaded);
    } else {
      auto loaded = GraphIndex::load(o->index);
      if (!loaded.ok()) return fail("query", loaded.status());
      graph = std::move(*loaded);
    }
    const MatrixView index_keys = partition ? partitions->keys() : graph->keys();
    auto queries = read_matrix(o->queries);
    if (!queries.ok()) return fail("query", queries.status());
    Result<IdMatrix> truth = Status::Internal("unset");
    if (!o->gt.empty()) {
      truth = read_ibin(o->gt);
    } else {
      auto keys = read_matrix(o->keys);
      if (!keys.ok()) return fail("query", keys.status());
      truth = tools::exact_truth(keys->view(), queries->view(), o->k);
    }
    if (!truth.ok()) return fail("query", truth.status());
    auto rows = partition ? tools::sweep_probes(*partitions, queries->view(), *truth, o->k, o->probes, o->reorder, o->threads)
                          : tools::sweep_beams(*graph, queries->view(), *truth, o->k, o->beams, o->threads);
    if (!rows.ok()) return fail("query", rows.status());

    if (o->exact) {
      auto exact = tools::exact_scan_row(index_keys, queries->view(), *truth, o->k, o->threads);
      if (!exact.ok()) return fail("query", exact.status());
      rows->push_back(*exact);
    }
    const std::size_t n = index_keys.rows;
    const char* param = partition ? "probes" : "beam";
    tools::Table table({param, "recall@" + std::to_string(o->k), "keys scored", "% of n", "hops",
                        "QPS", "mean us", "p99 us"});
    nlohmann::json j = {{"n", n}, {"dim", index_keys.dim}, {"index", partition ? "partition" : "graph"}, {"k", o->k}, {"threads", o->threads},
                        {"rows", nlohmann::json::array()}};
    for (const auto& r : *rows) {
      table.add_row({r.beam ? std::to_string(r.beam) : "exact", tools::format("%.4f", r.recall),
                     tools::format("%.0f", r.scored_mean), tools::format("%.2f%%", 100 * r.scored_fraction),
                     tools::format("%.1f", r.hops_mean), tools::format("%.0f", r.qps),
                     tools::format("%.1f", r.latency_us_mean), tools::format("%.1f", r.latency_us_p99)});
      j["rows"].push_back({{param, r.beam ? nlohmann::json(r.beam) : nlohmann::json("exact")},
                           {"recall", r.recall}, {"scored_mean", r.scored_mean},
                           {"scored_fraction", r.scored_fraction}, {"qps", r.qps},
                           {"latency_us_mean", r.latency_us_mean}, {"latency_us_p99", r.latency_us_p99}});
    }
    std::printf("%zu keys x dim %zu, %zu queries, %u thread(s)\n\n%s", n, index_keys.dim,
                queries->rows(), o->threads, table.render().c_str());
    if (!o->json.empty()) {
      if (const Status s = write_text_file(o->json, j.dump(2) + "\n"); !s.ok()) return fail("query", s);
    }
    return 0;
  };
}

}  // namespace ra::cli
