// ra bench mips: our index against the libraries people use, on the user's data, in one run.
#include <cstdio>
#include <memory>

#include "index/atomic_file.h"
#include "index/vector_io.h"
#include "bench/mips/mips_comparison.h"
#include "tools/report/svg.h"
#include "tools/eval/measure.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_bench(CLI::App& app) {
  struct Options {
    std::string keys, train, queries, gt, json, svg;
    tools::MipsBenchOptions opt;
  };
  auto o = std::make_shared<Options>();
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  CLI::App* cmd = bench->add_subcommand("mips", "MIPS: flat, our graph and partitions, hnswlib, faiss HNSW and IVF, one table");
  cmd->add_option("--keys", o->keys, "Keys (selector allowed)")->required();
  cmd->add_option("--train-queries", o->train, "Training queries (guide our graph)")->required();
  cmd->add_option("--queries", o->queries, "Test queries")->required();
  cmd->add_option("--gt", o->gt, "Ground truth .ibin (computed exactly when absent)");
  cmd->add_option("--k", o->opt.k, "k of recall@k")->capture_default_str();
  cmd->add_option("--threads", o->opt.threads, "Search threads, the same for every method")->capture_default_str();
  cmd->add_option("--build-threads", o->opt.build_threads, "Build threads, the same for every method (0: all)")
      ->capture_default_str();
  cmd->add_option("--target-recall", o->opt.target_recall, "Each sweep stops once it reaches this recall")
      ->capture_default_str();
  cmd->add_option("--max-width", o->opt.max_width_factor,
                  "Sweeps (beam, ef) go at most this many times k wide (and stop earlier once recall stops gaining)")
      ->capture_default_str();
  cmd->add_option("--degree", o->opt.degree, "M of every graph method")->capture_default_str();
  cmd->add_option("--skip", o->opt.skip, "Methods not to run: flat, graph, partition, hnswlib, faiss-hnsw, faiss-ivf")
      ->delimiter(',');
  cmd->add_option("--json", o->json, "Write the results as JSON");
  cmd->add_option("--svg", o->svg, "Write recall vs keys scored and recall vs QPS as SVG");
  return [o] {
    if (Status s = check_outputs({o->json, o->svg}); !s.ok()) return fail("bench mips", s);
    auto keys = read_matrix(o->keys);
    if (!keys.ok()) return fail("bench mips", keys.status());
    auto train = read_matrix(o->train);
    if (!train.ok()) return fail("bench mips", train.status());
    auto queries = read_matrix(o->queries);
    if (!queries.ok()) return fail("bench mips", queries.status());
    auto truth = o->gt.empty() ? tools::exact_truth(keys->view(), queries->view(), o->opt.k) : read_ibin(o->gt);
    if (!truth.ok()) return fail("bench mips", truth.status());
    std::fprintf(stderr, "ra bench mips: %zu keys x %zu, %zu queries, k = %u, %u thread(s)...\n", keys->rows(),
                 keys->dim(), queries->rows(), o->opt.k, o->opt.threads);
    auto report = tools::run_mips_bench(*keys, *train, *queries, *truth, o->opt);
    if (!report.ok()) return fail("bench mips", report.status());
    std::printf("%s", tools::mips_table(*report).c_str());
    if (!o->json.empty()) {
      if (const Status s = write_text_file(o->json, tools::mips_json(*report)); !s.ok()) return fail("bench mips", s);
    }
    if (!o->svg.empty()) {
      const Status s = write_text_file(o->svg, tools::mips_svg(*report, "MIPS on " + o->keys));
      if (!s.ok()) return fail("bench mips", s);
    }
    return 0;
  };
}

}  // namespace ra::cli
