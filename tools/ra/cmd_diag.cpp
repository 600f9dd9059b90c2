// ra diag: are the queries out of distribution for the keys, and how sparse is attention?
#include <algorithm>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "attention/sparsity.h"
#include "index/atomic_file.h"
#include "index/ood_diagnostics.h"
#include "index/vector_io.h"
#include "tools/report/svg.h"
#include "tools/report/table.h"
#include "tools/ra/commands.h"

namespace ra::cli {
namespace {

// Histogram of `v` over [lo, hi) in `bins` bins, as densities (share of values per bin).
tools::Series histogram(const std::string& name, const std::vector<double>& v, double lo, double hi,
                        int bins, const std::string& color) {
  tools::Series s{name, {}, std::vector<double>(static_cast<std::size_t>(bins), 0.0), color, true};
  const double w = (hi - lo) / bins;
  for (int b = 0; b < bins; ++b) s.x.push_back(lo + (b + 0.5) * w);
  for (double x : v) {
    const int b = std::clamp(static_cast<int>((x - lo) / w), 0, bins - 1);
    s.y[static_cast<std::size_t>(b)] += 1.0 / static_cast<double>(v.size());
  }
  return s;
}

nlohmann::json percentiles(const Percentiles& p) {
  return {{"mean", p.mean}, {"p10", p.p10}, {"p50", p.p50}, {"p90", p.p90}, {"p99", p.p99}};
}

}  // namespace

Runner add_diag(CLI::App& app) {
  struct Options {
    std::string keys, queries, json, svg;
    OodConfig ood;
    attention::SparsityConfig sparsity;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("diag", "Mahalanobis (OOD) and attention-sparsity diagnostics");
  cmd->add_option("--keys", o->keys, "Keys (selector allowed)")->required();
  cmd->add_option("--queries", o->queries, "Queries (selector allowed)")->required();
  cmd->add_option("--heldout-fraction", o->ood.heldout_fraction, "Keys held out of the fit")->capture_default_str();
  cmd->add_option("--scale", o->sparsity.scale, "Softmax scale (0: 1/sqrt(d))")->capture_default_str();
  cmd->add_flag("--causal", o->sparsity.causal, "Query i attends to keys up to position n_keys - n_queries + i");
  cmd->add_option("--sink", o->sparsity.num_sink, "Sinks of the static set")->capture_default_str();
  cmd->add_option("--window", o->sparsity.window, "Window of the static set")->capture_default_str();
  cmd->add_option("--seed", o->ood.seed, "Seed of the held-out split")->capture_default_str();
  cmd->add_option("--threads", o->sparsity.num_threads, "Threads (0: all)")->capture_default_str();
  cmd->add_option("--json", o->json, "Write every figure as JSON");
  cmd->add_option("--svg", o->svg, "Write the picture (histograms and mass curve) as SVG");
  return [o] {
    if (Status s = check_outputs({o->json, o->svg}); !s.ok()) return fail("diag", s);
    auto keys = read_matrix(o->keys);
    if (!keys.ok()) return fail("diag", keys.status());
    auto queries = read_matrix(o->queries);
    if (!queries.ok()) return fail("diag", queries.status());
    auto d = diagnose_ood(keys->view(), queries->view(), o->ood);
    if (!d.ok()) return fail("diag", d.status());
    auto a = attention::attention_sparsity(keys->view(), queries->view(), o->sparsity);
    if (!a.ok()) return fail("diag", a.status());

    std::printf("%zu keys, %zu queries, dim %zu%s\n\n", d->num_keys, d->num_queries, d->dim,
                o->sparsity.causal ? ", causal" : "");
    tools::Table dist({"Mahalanobis distance", "mean", "p10", "p50", "p90", "p99"});
    auto row = [](const char* name, const Percentiles& p) {
      return std::vector<std::string>{name, tools::format("%.2f", p.mean), tools::format("%.2f", p.p10),
                                      tools::format("%.2f", p.p50), tools::format("%.2f", p.p90),
                                      tools::format("%.2f", p.p99)};
    };
    dist.add_row(row("held-out keys", d->heldout_key_distance));
    dist.add_row(row("queries", d->query_distance));
    dist.add_row(row("norm of keys", d->key_norm));
    dist.add_row(row("norm of queries", d->query_norm));
    std::printf("%s\nratio queries / held-out keys: mean %.2f, median %.2f%s\n\n", dist.render().c_str(),
                d->ratio_mean, d->ratio_median,
                d->ratio_mean > 2 ? "  -> queries are out of distribution for the keys" : "");
    tools::Table sp({"attention sparsity (mean over queries)", "value"});
    sp.add_row({"share of keys holding 50% of the mass", tools::format("%.4f", a->mass.frac_keys_mass50)});
    sp.add_row({"share of keys holding 90% of the mass", tools::format("%.4f", a->mass.frac_keys_mass90)});
    sp.add_row({"share of keys holding 99% of the mass", tools::format("%.4f", a->mass.frac_keys_mass99)});
    sp.add_row({"mass on the top-100 keys", tools::format("%.4f", a->mass.top100_mass)});
    sp.add_row({"mass on the top-1000 keys", tools::format("%.4f", a->mass.top1000_mass)});
    sp.add_row({"mass on the first query's top-1000 (later queries)", tools::format("%.4f", a->static_first_query_mass)});
    sp.add_row({"mass on " + std::to_string(o->sparsity.num_sink) + " sinks + " + std::to_string(o->sparsity.window) + " window",
                tools::format("%.4f", a->static_sink_window_mass)});
    std::printf("%s", sp.render().c_str());

    if (!o->json.empty()) {
      nlohmann::json j = {
          {"num_keys", d->num_keys}, {"num_queries", d->num_queries}, {"dim", d->dim},
          {"mahalanobis", {{"query_mean", d->query_distance.mean}, {"heldout_key_mean", d->heldout_key_distance.mean},
                           {"ratio_mean", d->ratio_mean}, {"ratio_median", d->ratio_median},
                           {"query", percentiles(d->query_distance)}, {"heldout_key", percentiles(d->heldout_key_distance)}}},
          {"norms", {{"key", percentiles(d->key_norm)}, {"query", percentiles(d->query_norm)}}},
          {"sparsity", {{"frac_keys_mass50", a->mass.frac_keys_mass50}, {"frac_keys_mass90", a->mass.frac_keys_mass90},
                        {"frac_keys_mass99", a->mass.frac_keys_mass99}, {"top100_mass", a->mass.top100_mass},
                        {"top1000_mass", a->mass.top1000_mass},
                        {"static_first_query_top1000_mass", a->static_first_query_mass},
                        {"static_sink_window_mass", a->static_sink_window_mass},
                        {"curve", {{"share", a->curve_share}, {"mass", a->curve_mass}}}}}};
      if (const Status s = write_text_file(o->json, j.dump(2) + "\n"); !s.ok()) {
        return fail("diag", s);
      }
    }
    if (!o->svg.empty()) {
      const double hi = std::max(d->query_distance.p99, d->heldout_key_distance.p99) * 1.1;
      tools::Panel left{"Mahalanobis distance to the keys", "distance", "share of vectors", false,
                        {histogram("held-out keys", d->heldout_distances, 0, hi, 40, "#2ca02c"),
                         histogram("queries", d->query_distances, 0, hi, 40, "#d62728")},
                        true};
      tools::Panel right{"Attention mass on the top keys", "share of keys (best first)", "mean mass covered", true,
                         {tools::Series{"mean over queries", a->curve_share, a->curve_mass, "#1f77b4", false, false}}};
      const std::string title = "ra diag: " + std::to_string(d->num_keys) + " keys, " +
                                std::to_string(d->num_queries) + " queries, ratio " +
                                tools::format("%.1f", d->ratio_mean) + "x";
      if (const Status s = write_text_file(o->svg, tools::render_svg(title, {left, right})); !s.ok()) {
        return fail("diag", s);
      }
    }
    return 0;
  };
}

}  // namespace ra::cli
