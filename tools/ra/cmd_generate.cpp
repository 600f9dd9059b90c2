// ra generate: greedy text from a llama2.c model whose every layer attends fully or by
// retrieval; --compare measures retrieval against full attention step by step.
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "index/atomic_file.h"
#include "tools/model/generate.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_generate(CLI::App& app) {
  struct Options {
    std::string model, tokenizer, attention = "full", json;
    model::GenerateOptions gen;
  };
  auto o = std::make_shared<Options>();
  o->gen.retrieval.static_set = {4, 64};
  o->gen.retrieval.merge_batch = 64;
  CLI::App* cmd = app.add_subcommand("generate", "Generate text with a llama2.c model, full or retrieval attention");
  cmd->add_option("--model", o->model, "llama2.c checkpoint (.bin)")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "llama2.c tokenizer (.bin)")->required();
  cmd->add_option("--prompt", o->gen.prompt, "Prompt (none: from BOS)");
  cmd->add_option("--steps", o->gen.steps, "Positions in all, prompt included")->capture_default_str();
  cmd->add_option("--attention", o->attention, "full or retrieval, in every layer")
      ->check(CLI::IsMember({"full", "retrieval"}))
      ->capture_default_str();
  cmd->add_option("--sink", o->gen.retrieval.static_set.num_sink, "Sink tokens")->capture_default_str();
  cmd->add_option("--window", o->gen.retrieval.static_set.window, "Window tokens")->capture_default_str();
  cmd->add_option("--top-k", o->gen.retrieval.top_k, "Keys retrieved per head and step")->capture_default_str();
  add_beam_options(cmd, o->gen.retrieval);
  cmd->add_option("--merge-batch", o->gen.retrieval.merge_batch, "Tokens that left the window before an absorb")
      ->capture_default_str();
  cmd->add_flag("--compare", o->gen.compare, "Also run full attention: token agreement and KL per step");
  cmd->add_flag("--no-stop", [o](std::int64_t) { o->gen.stop_at_bos = false; },
                "Generate on through BOS (llama2.c ends a story there)");
  cmd->add_option("--json", o->json, "Write text, tokens and figures as JSON");
  return [o] {
    if (Status s = check_outputs({o->json}); !s.ok()) return fail("generate", s);
    o->gen.mode = o->attention == "full" ? model::AttentionMode::kFull : model::AttentionMode::kRetrieval;
    use_gpu_knn(&o->gen.retrieval.build);  // the indexes' training-query kNN on a device when there is one
    if (o->gen.compare && o->gen.mode != model::AttentionMode::kRetrieval) {
      return fail("generate", Status::InvalidArgument("--compare needs --attention retrieval"));
    }
    auto m = model::Transformer::load(o->model);
    if (!m.ok()) return fail("generate", m.status());
    auto tok = model::Tokenizer::load(o->tokenizer, (*m)->config().vocab_size);
    if (!tok.ok()) return fail("generate", tok.status());
    std::unique_ptr<model::Transformer> reference;
    if (o->gen.compare) {
      auto r = model::Transformer::load(o->model);
      if (!r.ok()) return fail("generate", r.status());
      reference = std::move(*r);
    }
    auto r = model::generate(**m, *tok, o->gen, reference.get());
    if (!r.ok()) return fail("generate", r.status());
    const double n = static_cast<double>(r->tokens.size());
    std::printf("%s\n\n", r->text.c_str());
    std::fprintf(stderr, "%zu tokens (%d generated), %s attention; per token: dense %.3f ms, retrieval %.3f ms, "
                 "absorb %.3f ms, rest %.3f ms\n", r->tokens.size(), r->generated, o->attention.c_str(),
                 r->times.dense_ms / n, r->times.retrieval_ms / n, r->times.absorb_ms / n, r->times.rest_ms / n);
    if (o->gen.compare) {
      std::printf("against full attention over %d steps: token agreement %.4f, mean KL %.3g nats\n", r->compared,
                  r->token_agreement, r->kl_mean);
    }
    if (!o->json.empty()) {
      nlohmann::json j = {{"text", r->text}, {"tokens", r->tokens}, {"generated", r->generated},
                          {"attention", o->attention},
                          {"ms_per_token", {{"dense", r->times.dense_ms / n}, {"retrieval", r->times.retrieval_ms / n},
                                            {"absorb", r->times.absorb_ms / n}, {"rest", r->times.rest_ms / n}}}};
      if (o->gen.compare) {
        j["token_agreement"] = r->token_agreement;
        j["kl_mean"] = r->kl_mean;
        j["compared_steps"] = r->compared;
      }
      if (Status s = write_text_file(o->json, j.dump(2) + "\n"); !s.ok()) return fail("generate", s);
    }
    return 0;
  };
}

}  // namespace ra::cli
