// The MIPS comparison on the standard data sets (the same code as `ra bench mips`):
// `ra gen --kind attention` at n = 32768 and 131072 (dim 128; training queries = every prefill
// query, test queries = 1000 later positions) and `--kind gaussian` as the in-distribution
// control. Prints one table per data set and writes DIR/mips_<data>.json and .svg.
// Usage: bench_mips [--sizes 32768,131072] [--k 100] [--threads 1] [--out DIR] [--gaussian N]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>

#include "bench/mips/mips_comparison.h"
#include "index/atomic_file.h"
#include "tools/report/svg.h"
#include "tools/eval/measure.h"
#include "tools/synthetic/synthetic.h"

namespace {

using namespace ra;

int run(const std::string& label, const tools::SyntheticSpec& spec, const tools::MipsBenchOptions& opt,
        const std::string& out) {
  std::fprintf(stderr, "bench_mips: %s...\n", label.c_str());
  auto data = tools::generate(spec);
  if (!data.ok()) return std::fprintf(stderr, "%s\n", data.status().to_string().c_str()), 1;
  auto truth = tools::exact_truth(data->keys.view(), data->queries.view(), opt.k);
  if (!truth.ok()) return std::fprintf(stderr, "%s\n", truth.status().to_string().c_str()), 1;
  auto r = tools::run_mips_bench(data->keys, data->train_queries, data->queries, *truth, opt);
  if (!r.ok()) return std::fprintf(stderr, "%s\n", r.status().to_string().c_str()), 1;
  std::printf("\n== %s: %zu keys x %zu, %zu training queries, %zu test queries, k = %u, %u thread(s)\n%s", label.c_str(),
              r->n, r->dim, spec.num_train, r->num_queries, r->k, r->threads, tools::mips_table(*r).c_str());
  std::fflush(stdout);
  const std::string base = out + "/mips_" + label;
  for (const Status& s : {write_text_file(base + ".json", tools::mips_json(*r)),
                          write_text_file(base + ".svg", tools::mips_svg(*r, "MIPS, " + label + ", recall@" +
                                                                               std::to_string(opt.k)))}) {
    if (!s.ok()) std::fprintf(stderr, "bench_mips: %s\n", s.to_string().c_str());
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"MIPS: our query-guided graph against hnswlib and faiss"};
  std::vector<std::size_t> sizes = {32768, 131072};
  std::size_t gaussian = 32768;
  std::string out = ".";
  tools::MipsBenchOptions opt;
  app.add_option("--sizes", sizes, "Attention data sizes")->delimiter(',');
  app.add_option("--gaussian", gaussian, "Gaussian control size (0: skip)")->capture_default_str();
  app.add_option("--k", opt.k)->capture_default_str();
  app.add_option("--threads", opt.threads)->capture_default_str();
  app.add_option("--out", out, "Directory for the JSON and SVG files")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::filesystem::create_directories(out);
  int rc = 0;
  for (std::size_t n : sizes) {
    tools::SyntheticSpec spec;
    spec.n = n;
    spec.num_train = n;
    rc |= run("attention_" + std::to_string(n), spec, opt, out);
  }
  if (gaussian > 0) {
    tools::SyntheticSpec spec;
    spec.kind = tools::SyntheticKind::kGaussian;
    spec.n = gaussian;
    spec.num_train = 10000;
    rc |= run("gaussian_" + std::to_string(gaussian), spec, opt, out);
  }
  return rc;
}
