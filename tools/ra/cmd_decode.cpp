// ra decode: replay decoding over real or synthetic attention and compare retrieval attention
// with full attention, the static set alone and the exact top-k.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "index/atomic_file.h"
#include "index/vector_io.h"
#include "tools/eval/decode_eval.h"
#include "tools/report/svg.h"
#include "tools/report/table.h"
#include "tools/ra/commands.h"

namespace ra::cli {
namespace {

// (heads, T, d) or (T, d) as one head.
Result<attention::HeadsView> heads_of(const Tensor& t) {
  if (t.shape.size() > 3) return Status::InvalidArgument("expected (heads, tokens, dim) or (tokens, dim)");
  const auto heads = static_cast<std::uint32_t>(t.shape.size() == 3 ? t.shape[0] : 1);
  const auto tokens = static_cast<std::uint32_t>(t.shape[t.shape.size() - 2]);
  return attention::HeadsView::hnd(t.data.data(), t.data.dtype(), heads, tokens,
                                   static_cast<std::uint32_t>(t.data.dim()));
}

}  // namespace

Runner add_decode(CLI::App& app) {
  struct Options {
    std::string keys, values, queries, json, sharing = "kv", dtype = "f32", dense = "cpu";
    tools::DecodeEvalConfig cfg;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("decode", "Replay decoding: retrieval attention vs full, static, exact top-k");
  cmd->add_option("--keys", o->keys, "Keys (kv_heads, T, d) or (T, d); selector allowed: keys.npy[1]")->required();
  cmd->add_option("--values", o->values, "Values, same shape as the keys")->required();
  cmd->add_option("--queries", o->queries, "Queries (q_heads, T, d) or (T, d)")->required();
  cmd->add_option("--prefill", o->cfg.prefill, "Prefill tokens T0 (the indexes are built from them)")->required();
  cmd->add_option("--steps", o->cfg.steps, "Decode steps (0: to the end)")->capture_default_str();
  cmd->add_option("--sink", o->cfg.retrieval.static_set.num_sink, "Sink tokens")->capture_default_str();
  cmd->add_option("--window", o->cfg.retrieval.static_set.window, "Window tokens")->capture_default_str();
  cmd->add_option("--top-k", o->cfg.retrieval.top_k, "Keys retrieved per head and step")->capture_default_str();
  add_beam_options(cmd, o->cfg.retrieval);
  cmd->add_option("--sharing", o->sharing, "One index per kv head (pooled queries) or per query head")
      ->check(CLI::IsMember({"kv", "query"}))
      ->capture_default_str();
  cmd->add_option("--merge-batch", o->cfg.retrieval.merge_batch, "Tokens that left the window before an absorb into the indexes")
      ->capture_default_str();
  cmd->add_option("--max-train", o->cfg.retrieval.max_train_queries, "Training queries per index (0: all)")
      ->capture_default_str();
  cmd->add_option("--degree", o->cfg.retrieval.build.max_degree, "Graph degree M")->capture_default_str();
  add_estimate_options(cmd, o->cfg.retrieval);
  cmd->add_option("--dtype", o->dtype, "KV cache storage: f32, f16 or bf16")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}))
      ->capture_default_str();
  cmd->add_option("--threads", o->cfg.retrieval.num_threads, "Threads (0: all)")->capture_default_str();
  cmd->add_option("--json", o->json, "Write the results as JSON");
  add_dense_option(cmd, o->dense);
  return [o] {
    if (Status s = check_outputs({o->json}); !s.ok()) return fail("decode", s);
    DType kv_type = DType::kF32;
    parse_dtype(o->dtype, &kv_type);
    o->cfg.retrieval.sharing = o->sharing == "kv" ? attention::IndexSharing::kPerKvHead
                                                  : attention::IndexSharing::kPerQueryHead;
    o->cfg.retrieval.build.num_threads = o->cfg.retrieval.num_threads;
    auto keys = read_tensor(o->keys, kv_type);
    if (!keys.ok()) return fail("decode", keys.status());
    auto values = read_tensor(o->values, kv_type);
    if (!values.ok()) return fail("decode", values.status());
    auto queries = read_tensor(o->queries);
    if (!queries.ok()) return fail("decode", queries.status());
    auto k = heads_of(*keys), v = heads_of(*values), q = heads_of(*queries);
    for (const auto* r : {&k, &v, &q}) {
      if (!r->ok()) return fail("decode", r->status());
    }
    o->cfg.progress = [tty = isatty(2) != 0](std::uint32_t done, std::uint32_t total) {
      if (tty && (done % 16 == 0 || done == total)) std::fprintf(stderr, "\rra decode: step %u / %u", done, total);
      if (tty && done == total) std::fprintf(stderr, "\n");
    };
    std::fprintf(stderr, "ra decode: %u kv heads x %u query heads, %u tokens, dim %u; building indexes over %u prefill tokens...\n",
                 k->num_heads, q->num_heads, k->num_tokens, k->head_dim, o->cfg.prefill);
    if (Status st = use_dense_backend(o->dense, &o->cfg); !st.ok()) return fail("decode", st);
    const bool gpu_knn = use_gpu_knn(&o->cfg.retrieval.build);
    auto r = tools::evaluate_decode(*k, *v, *q, o->cfg);
    if (!r.ok()) return fail("decode", r.status());
    const auto& rc = o->cfg.retrieval;
    std::printf("%u kv heads, %u query heads, dim %u, %s KV; prefill %u, %u decode steps; sink %u, window %u, "
                "top-%u, beam %u, one index per %s head (%zu MiB graph, built in %.2f s%s); static set on the %s\n\n",
                r->kv_heads, r->q_heads, r->head_dim, o->dtype.c_str(), o->cfg.prefill, r->steps, rc.static_set.num_sink,
                rc.static_set.window, rc.top_k, rc.beam, o->sharing.c_str(),
                static_cast<std::size_t>(r->index_bytes >> 20), r->build_s, gpu_knn ? ", training-query kNN on the GPU" : "",
                o->dense.c_str());
    tools::Table t({"method", "rel error mean", "rel error p99", "mass recalled", "top-k recall", "keys scored / head",
                    "ms / step"});
    for (const auto& m : r->methods) {
      t.add_row({m.name, tools::format("%.5f", m.rel_error_mean), tools::format("%.5f", m.rel_error_p99),
                 tools::format("%.4f", m.mass_recall_mean),
                 m.name == "static" ? std::string("-") : tools::format("%.4f", m.topk_recall_mean),
                 tools::format("%.0f", m.scored_mean),
                 tools::format("%.3f", m.latency_ms_mean)});
    }
    std::printf("%s", t.render().c_str());
    if (r->absorbed_tokens > 0) {
      std::printf("absorbed %llu tokens into the indexes between steps, %.1f us per token\n",
                  static_cast<unsigned long long>(r->absorbed_tokens),
                  1000.0 * r->absorb_ms / static_cast<double>(r->absorbed_tokens));
    }
    if (!o->json.empty()) {
      nlohmann::json j = {{"steps", r->steps}, {"tokens", r->tokens},
                          {"settings", {{"prefill", o->cfg.prefill}, {"sink", rc.static_set.num_sink},
                                        {"window", rc.static_set.window}, {"top_k", rc.top_k}, {"beam", rc.beam},
                                        {"sharing", o->sharing}, {"dtype", o->dtype}, {"dense", o->dense}, {"kv_heads", r->kv_heads},
                                        {"q_heads", r->q_heads}, {"head_dim", r->head_dim},
                                        {"index_bytes", r->index_bytes}, {"build_s", r->build_s}}},
                          {"absorbed_tokens", r->absorbed_tokens}, {"absorb_ms", r->absorb_ms},
                          {"methods", nlohmann::json::array()}};
      for (const auto& m : r->methods) {
        j["methods"].push_back({{"name", m.name}, {"rel_error_mean", m.rel_error_mean},
                                {"rel_error_p99", m.rel_error_p99}, {"mass_recall_mean", m.mass_recall_mean},
                                {"topk_recall_mean", m.topk_recall_mean}, {"scored_mean", m.scored_mean}, {"latency_ms_mean", m.latency_ms_mean}});
      }
      if (const Status s = write_text_file(o->json, j.dump(2) + "\n"); !s.ok()) {
        return fail("decode", s);
      }
    }
    return 0;
  };
}

}  // namespace ra::cli
