// The diagnostics (`ra diag`) over every layer / query head of the real stories260K data and
// over the synthetic attention generator, side by side: the evidence that the generator's
// queries are as out of distribution, and its attention as sparse, as real attention.
// Usage: bench_diag_tables [--data DIR] [--n 32768,131072]
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

#include "attention/sparsity.h"
#include "index/ood_diagnostics.h"
#include "index/vector_io.h"
#include "tools/synthetic/synthetic.h"
#include "tools/report/table.h"

namespace {

using namespace ra;
using tools::format;

struct Figures {
  OodReport ood;
  attention::SparsityReport sparsity;
};

Result<Figures> diagnose(const MatrixView& keys, const MatrixView& queries, bool causal) {
  Figures f;
  RA_ASSIGN_OR_RETURN(f.ood, diagnose_ood(keys, queries, OodConfig{}));
  attention::SparsityConfig cfg;
  cfg.causal = causal;
  RA_ASSIGN_OR_RETURN(f.sparsity, attention::attention_sparsity(keys, queries, cfg));
  return f;
}

std::vector<std::string> cells(const Figures& f) {
  const auto& m = f.sparsity.mass;
  return {format("%.2f", f.ood.ratio_mean), format("%.2f", f.ood.ratio_median),
          format("%.4f", m.frac_keys_mass50), format("%.4f", m.frac_keys_mass90),
          format("%.4f", m.frac_keys_mass99), format("%.3f", m.top100_mass),
          format("%.3f", m.top1000_mass), format("%.3f", f.sparsity.static_sink_window_mass)};
}

const std::vector<std::string> kColumns = {"Maha ratio mean", "median", "keys 50%", "keys 90%",
                                           "keys 99%", "top-100 mass", "top-1000 mass", "sink4+win64 mass"};

int fail(const Status& s) {
  std::fprintf(stderr, "bench_diag_tables: %s\n", s.to_string().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Diagnostics of real and synthetic attention"};
  std::string data = "../shared/data/stories260K/ctx2048";
  std::vector<std::size_t> sizes = {32768, 131072};
  app.add_option("--data", data)->capture_default_str();
  app.add_option("--n", sizes)->delimiter(',');
  CLI11_PARSE(app, argc, argv);

  std::vector<std::string> head = {"layer", "q head"};
  head.insert(head.end(), kColumns.begin(), kColumns.end());
  tools::Table real(head);
  double ratio_sum = 0, share90_sum = 0;
  int count = 0;
  for (int layer = 0; layer < 5; ++layer) {
    for (int qh = 0; qh < 8; ++qh) {
      auto keys = read_matrix(data + "/keys.npy[" + std::to_string(layer) + "," + std::to_string(qh / 2) + "]");
      auto queries = read_matrix(data + "/queries.npy[" + std::to_string(layer) + "," + std::to_string(qh) + "]");
      if (!keys.ok()) return fail(keys.status());
      if (!queries.ok()) return fail(queries.status());
      auto d = diagnose(keys->view(), queries->view(), /*causal=*/true);
      if (!d.ok()) return fail(d.status());
      std::vector<std::string> row = {std::to_string(layer), std::to_string(qh)};
      const auto c = cells(*d);
      row.insert(row.end(), c.begin(), c.end());
      real.add_row(row);
      ratio_sum += d->ood.ratio_mean;
      share90_sum += d->sparsity.mass.frac_keys_mass90;
      ++count;
    }
  }
  std::printf("== real: %s, causal, every layer and query head\n%smean ratio %.2f, mean share of keys "
              "holding 90%% of the mass %.4f\n\n", data.c_str(), real.render().c_str(), ratio_sum / count,
              share90_sum / count);

  std::vector<std::string> shead = {"keys (n)", "queries"};
  shead.insert(shead.end(), kColumns.begin(), kColumns.end());
  tools::Table synth(shead);
  for (std::size_t n : sizes) {
    tools::SyntheticSpec spec;
    spec.n = n;
    spec.num_train = 1;
    spec.num_queries = 500;
    auto gen = tools::generate(spec);
    if (!gen.ok()) return fail(gen.status());
    auto d = diagnose(gen->keys.view(), gen->queries.view(), /*causal=*/false);
    if (!d.ok()) return fail(d.status());
    std::vector<std::string> row = {std::to_string(n), "500 decode"};
    const auto c = cells(*d);
    row.insert(row.end(), c.begin(), c.end());
    synth.add_row(row);
  }
  std::printf("== synthetic: ra gen --kind attention (defaults), dim 128, decode queries after the keys\n%s",
              synth.render().c_str());
  return 0;
}
