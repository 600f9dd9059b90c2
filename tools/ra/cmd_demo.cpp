// ra demo: the main job on an embedded default. At this stage: attention-like data, exact
// MIPS with every SIMD level and key dtype, against the scalar f32 scan as the baseline.
#include <chrono>
#include <cstdio>
#include <memory>

#include "index/flat_index.h"
#include "simd/simd_level.h"
#include "tools/common/synthetic.h"
#include "tools/common/table.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_demo(CLI::App& app) {
  struct Options {
    tools::SyntheticSpec spec;
    std::uint32_t k = 10, threads = 1;
  };
  auto o = std::make_shared<Options>();
  o->spec.n = 32768;
  o->spec.num_queries = 256;
  o->spec.num_train = 1024;
  CLI::App* cmd = app.add_subcommand("demo", "Show the library at work on generated attention data");
  cmd->add_option("--n", o->spec.n, "Keys (context tokens)")->capture_default_str();
  cmd->add_option("--dim", o->spec.dim, "Head dimension")->capture_default_str();
  cmd->add_option("--queries", o->spec.num_queries, "Decode queries")->capture_default_str();
  cmd->add_option("--k", o->k, "Top-k")->capture_default_str();
  cmd->add_option("--threads", o->threads, "Search threads (0: all)")->capture_default_str();
  cmd->add_option("--seed", o->spec.seed, "Random seed")->capture_default_str();
  return [o] {
    o->spec.num_train = std::min(o->spec.num_train, o->spec.n);
    std::fprintf(stderr, "[1/3] generating an attention-like head: %zu keys x dim %zu, %zu queries\n",
                 o->spec.n, o->spec.dim, o->spec.num_queries);
    auto data = tools::generate(o->spec);
    if (!data.ok()) return fail("demo", data.status());

    std::fprintf(stderr, "[2/3] exact ground truth (f32)\n");
    auto truth_index = FlatIndex::over(data->keys.view());
    if (!truth_index.ok()) return fail("demo", truth_index.status());
    SearchResults truth;
    if (Status s = truth_index->search(data->queries.view(), o->k, &truth); !s.ok()) {
      return fail("demo", s);
    }
    IdMatrix truth_ids{truth.num_queries, truth.k, truth.ids};

    std::fprintf(stderr, "[3/3] exact scans per SIMD level and key dtype\n");
    tools::Table table({"method", "simd", "keys", "threads", "us/query", "QPS", "keys GB/s",
                        "vs scalar f32", "recall@" + std::to_string(o->k), "scored"});
    double baseline_us = 0.0;
    for (DType dtype : {DType::kF32, DType::kF16}) {
      auto keys = Matrix::copy_of(data->keys.view(), dtype);
      if (!keys.ok()) return fail("demo", keys.status());
      auto index = FlatIndex::over(keys->view());
      if (!index.ok()) return fail("demo", index.status());
      for (simd::SimdLevel level : simd::supported_levels()) {
        simd::ScopedSimdLevel scoped(level);
        SearchResults res;
        const auto t0 = std::chrono::steady_clock::now();
        if (Status s = index->search(data->queries.view(), o->k, &res, o->threads); !s.ok()) {
          return fail("demo", s);
        }
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double us = secs * 1e6 / static_cast<double>(res.num_queries);
        if (baseline_us == 0.0) baseline_us = us;
        const double bytes = static_cast<double>(keys->bytes()) * static_cast<double>(res.num_queries);
        table.add_row({"exact scan", std::string(simd::level_name(level)),
                       std::string(dtype_name(dtype)), std::to_string(o->threads),
                       tools::format("%.1f", us), tools::format("%.0f", 1e6 / us),
                       tools::format("%.1f", bytes / secs / 1e9), tools::format("%.2fx", baseline_us / us),
                       tools::format("%.4f", recall_at_k(res, truth_ids, o->k)), "100%"});
      }
    }
    std::printf("\nExact top-%u MIPS over %zu keys (dim %zu), %zu queries:\n\n%s", o->k, o->spec.n,
                o->spec.dim, o->spec.num_queries, table.render().c_str());
    std::printf("\n'keys GB/s' counts the key bytes each query scores (the block kernel reuses each\n"
                "key tile across 64 queries, so it can exceed DRAM bandwidth).\n");
    return 0;
  };
}

}  // namespace ra::cli
