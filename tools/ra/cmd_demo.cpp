// ra demo: the main job on an embedded default. Generates one attention layer of a long
// context (attention-like keys, values and queries; f16 KV cache; GQA), builds the query-guided
// indexes from the prefill, decodes a few hundred tokens with retrieval attention and compares
// every step with full attention, the static set alone and the exact top-k.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "tools/eval/decode_eval.h"
#include "tools/synthetic/synthetic.h"
#include "tools/report/table.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_demo(CLI::App& app) {
  struct Options {
    std::uint32_t tokens = 65536, decode = 512, kv_heads = 4, group = 4, dim = 128, threads = 0;
    std::uint64_t seed = 1;
    double query_gain = 1.5;  // a sparse head: what retrieval attention is for
    std::string dense = "cpu";
    tools::DecodeEvalConfig cfg;
  };
  auto o = std::make_shared<Options>();
  o->cfg.retrieval.max_train_queries = 8192;
  CLI::App* cmd = app.add_subcommand("demo", "Decode a generated long context with retrieval attention");
  cmd->add_option("--tokens", o->tokens, "Context length (prefill + decode)")->capture_default_str();
  cmd->add_option("--decode", o->decode, "Tokens decoded one by one at the end")->capture_default_str();
  cmd->add_option("--kv-heads", o->kv_heads, "KV heads")->capture_default_str();
  cmd->add_option("--group", o->group, "Query heads per KV head (GQA)")->capture_default_str();
  cmd->add_option("--dim", o->dim, "Head dimension")->capture_default_str();
  cmd->add_option("--top-k", o->cfg.retrieval.top_k, "Keys retrieved per head and step")->capture_default_str();
  add_beam_options(cmd, o->cfg.retrieval);
  add_estimate_options(cmd, o->cfg.retrieval);
  add_dense_option(cmd, o->dense);
  cmd->add_option("--threads", o->threads, "Threads (0: all)")->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed")->capture_default_str();
  cmd->add_option("--query-gain", o->query_gain, "Query scale: higher makes attention sparser")
      ->capture_default_str();
  return [o] {
    if (o->decode == 0 || o->decode >= o->tokens) {
      return fail("demo", Status::InvalidArgument("--decode must be in [1, --tokens)"));
    }
    o->cfg.retrieval.num_threads = o->cfg.retrieval.build.num_threads = o->threads;
    o->cfg.prefill = o->tokens - o->decode;
    if (Status st = use_dense_backend(o->dense, &o->cfg); !st.ok()) return fail("demo", st);
    const bool gpu_knn = use_gpu_knn(&o->cfg.retrieval.build);
    std::fprintf(stderr, "[1/3] generating one attention layer: %u tokens, %u KV heads x %u query heads, dim %u, f16 KV\n",
                 o->tokens, o->kv_heads, o->group, o->dim);
    tools::SyntheticSpec spec;
    spec.n = o->tokens;
    spec.dim = o->dim;
    spec.seed = o->seed;
    spec.query_gain = o->query_gain;
    auto layer = tools::generate_layer(spec, o->kv_heads, o->group, DType::kF16);
    if (!layer.ok()) return fail("demo", layer.status());
    const auto k = attention::HeadsView::hnd(layer->keys.data(), DType::kF16, o->kv_heads, o->tokens, o->dim);
    const auto v = attention::HeadsView::hnd(layer->values.data(), DType::kF16, o->kv_heads, o->tokens, o->dim);
    const auto q = attention::HeadsView::hnd(layer->queries.data(), DType::kF32, layer->q_heads, o->tokens, o->dim);
    std::fprintf(stderr, "[2/3] building %u query-guided indexes over the %u-token prefill (one per KV head)\n",
                 o->kv_heads, o->cfg.prefill);
    o->cfg.progress = [tty = isatty(2) != 0](std::uint32_t done, std::uint32_t total) {
      if (done == 1) std::fprintf(stderr, "[3/3] decoding %u tokens, comparing every step with full attention\n", total);
      if (tty && (done % 32 == 0 || done == total)) std::fprintf(stderr, "\r      step %u / %u", done, total);
      if (tty && done == total) std::fprintf(stderr, "\n");
    };
    auto r = tools::evaluate_decode(k, v, q, o->cfg);
    if (!r.ok()) return fail("demo", r.status());

    const auto& rc = o->cfg.retrieval;
    std::printf("\nOne layer, %u-token context: %u KV heads x %u query heads, head dim %u, f16 KV cache.\n"
                "Indexes over tokens %u..%u built in %.1f s (%.1f MiB of graph%s); then %u tokens decoded.\n"
                "Static set: %u sinks + %u window (on the %s); retrieval: top-%u keys per head, beam %u.\n\n",
                o->tokens, r->kv_heads, o->group, o->dim, rc.static_set.num_sink,
                o->cfg.prefill - rc.static_set.window, r->build_s, static_cast<double>(r->index_bytes) / (1 << 20),
                gpu_knn ? ", training-query kNN on the GPU" : "", r->steps, rc.static_set.num_sink, rc.static_set.window, o->dense == "gpu" ? "GPU" : "CPU", rc.top_k,
                rc.beam);
    const auto& topk = r->methods[2];
    tools::Table t({"method", "output error (mean)", "(p99)", "attention mass", "keys scored / head",
                    "ms / token", "vs exact top-k"});
    for (const auto& m : r->methods) {
      t.add_row({m.name, tools::format("%.2f%%", 100 * m.rel_error_mean), tools::format("%.2f%%", 100 * m.rel_error_p99),
                 tools::format("%.3f", m.mass_recall_mean),
                 tools::format("%.0f", m.scored_mean) + tools::format(" (%.1f%%)", 100 * m.scored_mean / o->tokens),
                 tools::format("%.2f", m.latency_ms_mean),
                 tools::format("%.1fx", topk.latency_ms_mean / m.latency_ms_mean)});
    }
    std::printf("%s", t.render().c_str());
    const auto& ret = r->methods[3];
    const auto& stat = r->methods[1];
    std::printf("\nVerdict: retrieval attention keeps %.1f%% of the attention mass with %.2f%% mean output error "
                "(static set alone: %.1f%%), scoring %.1f%% of the keys, %.1fx faster than the exact top-k scan.\n",
                100 * ret.mass_recall_mean, 100 * ret.rel_error_mean, 100 * stat.rel_error_mean,
                100 * ret.scored_mean / o->tokens, topk.latency_ms_mean / ret.latency_ms_mean);
    return 0;
  };
}

}  // namespace ra::cli
