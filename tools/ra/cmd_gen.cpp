// ra gen: synthetic keys, training queries, test queries and exact ground truth.
#include <cstdio>
#include <filesystem>
#include <memory>

#include "index/flat_index.h"
#include "index/vector_io.h"
#include "tools/synthetic/synthetic.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_gen(CLI::App& app) {
  struct Options {
    std::string kind = "attention", out;
    tools::SyntheticSpec spec;
    std::uint32_t gt_k = 100;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand(
      "gen", "Generate synthetic data: keys.fbin, train_queries.fbin, queries.fbin, gt.ibin");
  cmd->add_option("--kind", o->kind, "gaussian (in-distribution control) or attention (OOD)")
      ->check(CLI::IsMember({"gaussian", "attention"}))
      ->capture_default_str();
  cmd->add_option("--n", o->spec.n, "Keys (prefill tokens)")->capture_default_str();
  cmd->add_option("--dim", o->spec.dim, "Dimension (head size)")->capture_default_str();
  cmd->add_option("--queries", o->spec.num_queries, "Test queries (decode positions)")
      ->capture_default_str();
  cmd->add_option("--train-queries", o->spec.num_train, "Training queries (prefill positions)")
      ->capture_default_str();
  cmd->add_option("--seed", o->spec.seed, "Random seed")->capture_default_str();
  cmd->add_option("--query-gain", o->spec.query_gain, "attention: query scale (softmax temperature)")
      ->capture_default_str();
  cmd->add_option("--key-gain-min", o->spec.key_gain_min, "attention: smallest per-pair key gain")
      ->capture_default_str();
  cmd->add_option("--topics", o->spec.num_topics, "attention: distinct topics (more: a query's best keys "
                  "scatter over more distant segments)")->capture_default_str();
  cmd->add_option("--segment", o->spec.mean_segment, "attention: mean tokens per topic segment")
      ->capture_default_str();
  cmd->add_option("--key-bias", o->spec.key_bias, "attention: size of the key-only bias (variance the "
                  "queries ignore)")->capture_default_str();
  cmd->add_option("--query-noise", o->spec.query_noise, "attention: weight of the query mixing the keys lack")
      ->capture_default_str();
  cmd->add_option("--outlier-scale", o->spec.outlier_scale, "attention: gain of the outlier key pairs")
      ->capture_default_str();
  cmd->add_option("--rope-theta", o->spec.rope_theta, "attention: RoPE base")->capture_default_str();
  cmd->add_option("--rope-scale", o->spec.rope_scale,
                  "attention: Llama-3.1 RoPE frequency scaling factor (8 in Llama 3.1; 1: none)")
      ->capture_default_str();
  cmd->add_flag("!--no-sink", o->spec.attention_sink, "attention: no attention sink at token 0");
  cmd->add_option("--gt-k", o->gt_k, "Ground-truth neighbours per test query")->capture_default_str();
  cmd->add_option("--out", o->out, "Output directory (created if missing)")->required();
  return [o] {
    o->spec.kind = o->kind == "gaussian" ? tools::SyntheticKind::kGaussian
                                         : tools::SyntheticKind::kAttention;
    if (o->gt_k > o->spec.n) o->gt_k = static_cast<std::uint32_t>(o->spec.n);
    std::error_code ec;
    std::filesystem::create_directories(o->out, ec);
    if (ec) return fail("gen", Status::IoError(o->out + ": cannot create directory: " + ec.message()));
    std::fprintf(stderr, "ra gen: %s data, n=%zu dim=%zu, %zu train + %zu test queries...\n",
                 o->kind.c_str(), o->spec.n, o->spec.dim, o->spec.num_train, o->spec.num_queries);
    auto data = tools::generate(o->spec);
    if (!data.ok()) return fail("gen", data.status());
    const std::string dir = o->out + "/";
    for (auto [name, m] : {std::pair{"keys.fbin", &data->keys}, {"values.fbin", &data->values},
                           {"train_queries.fbin", &data->train_queries},
                           {"queries.fbin", &data->queries}}) {
      if (m->empty()) continue;
      Status s = write_fbin(dir + name, m->view());
      if (!s.ok()) return fail("gen", s);
    }
    if (!data->queries.empty()) {
      std::fprintf(stderr, "ra gen: exact top-%u ground truth...\n", o->gt_k);
      auto index = FlatIndex::over(data->keys.view());
      if (!index.ok()) return fail("gen", index.status());
      SearchResults gt;
      Status s = index->search(data->queries.view(), {o->gt_k}, &gt);
      if (s.ok()) s = write_ibin(dir + "gt.ibin", gt.ids.data(), gt.num_queries, gt.k);
      if (!s.ok()) return fail("gen", s);
    }
    std::fprintf(stderr, "ra gen: wrote %s{keys,%strain_queries,queries}.fbin and gt.ibin\n",
                 dir.c_str(), data->values.empty() ? "" : "values,");
    return 0;
  };
}

}  // namespace ra::cli
