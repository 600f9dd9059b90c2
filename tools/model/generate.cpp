#include "tools/model/generate.h"

#include <algorithm>
#include <cmath>

namespace ra::model {
namespace {

std::int32_t argmax(const std::vector<float>& v) {
  return static_cast<std::int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// KL(p || q) of softmax(a) and softmax(b), natural log.
double kl_divergence(const std::vector<float>& a, const std::vector<float>& b) {
  const double ma = *std::max_element(a.begin(), a.end()), mb = *std::max_element(b.begin(), b.end());
  double za = 0, zb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    za += std::exp(a[i] - ma);
    zb += std::exp(b[i] - mb);
  }
  double kl = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const double lp = a[i] - ma - std::log(za), lq = b[i] - mb - std::log(zb);
    kl += std::exp(lp) * (lp - lq);
  }
  return std::max(0.0, kl);
}

}  // namespace

Result<GenerateResult> generate(Transformer& model, const Tokenizer& tokenizer, const GenerateOptions& opt,
                                Transformer* reference) {
  if (opt.steps < 1 || opt.steps > (1 << 24)) return Status::InvalidArgument("steps must be in [1, 2^24]");
  if (opt.compare && (reference == nullptr || opt.mode != AttentionMode::kRetrieval)) {
    return Status::InvalidArgument("compare needs retrieval attention and a full-attention reference model");
  }
  const std::vector<std::int32_t> prompt = tokenizer.encode(opt.prompt);
  if (static_cast<std::int32_t>(prompt.size()) > opt.steps) {
    return Status::InvalidArgument("the prompt (" + std::to_string(prompt.size()) + " tokens) is longer than steps");
  }
  RA_RETURN_IF_ERROR(model.reset(opt.mode, opt.retrieval, opt.steps));
  if (opt.compare) RA_RETURN_IF_ERROR(reference->reset(AttentionMode::kFull, {}, opt.steps));
  // With compare, the reference (full attention) chooses the tokens and both models read them.
  GenerateResult r;
  r.tokens.push_back(prompt[0]);
  std::int32_t token = prompt[0];
  double agree = 0, kl = 0;
  for (std::int32_t pos = 0; pos < opt.steps; ++pos) {
    RA_ASSIGN_OR_RETURN(const std::vector<float>* logits, model.forward(token, &r.times));
    const std::vector<float>* lead = logits;
    if (opt.compare) {
      RA_ASSIGN_OR_RETURN(lead, reference->forward(token));
      agree += argmax(*logits) == argmax(*lead);
      kl += kl_divergence(*lead, *logits);
      ++r.compared;
    }
    const bool in_prompt = pos + 1 < static_cast<std::int32_t>(prompt.size());
    const std::int32_t next = in_prompt ? prompt[static_cast<std::size_t>(pos) + 1] : argmax(*lead);
    if (!in_prompt) ++r.generated;
    if (next == Tokenizer::kBos && opt.stop_at_bos) break;  // llama2.c's end of a story
    r.text += tokenizer.decode(token, next);
    r.tokens.push_back(next);
    token = next;
  }
  if (r.compared > 0) {
    r.token_agreement = agree / r.compared;
    r.kl_mean = kl / r.compared;
  }
  return r;
}

}  // namespace ra::model
