#pragma once
// Greedy generation with a llama2.c model (ra generate), optionally compared step by step
// with full attention: the full-attention sequence is forced on both models, and each step's
// next-token choice and distribution are compared.
#include <cstdint>
#include <string>
#include <vector>

#include "tools/model/llama2c.h"

namespace ra::model {

struct GenerateOptions {
  std::string prompt;          // empty: generate from BOS
  std::int32_t steps = 256;    // positions in all, prompt included (llama2.c's -n); past the
                               // trained context RoPE extends, as the model allows
  AttentionMode mode = AttentionMode::kFull;
  attention::RetrievalConfig retrieval;
  bool compare = false;        // also run full attention and compare (mode must be kRetrieval)
  bool stop_at_bos = true;     // llama2.c ends a story at BOS; false generates on through it
};

struct GenerateResult {
  std::string text;                  // the prompt and the generation, decoded
  std::vector<std::int32_t> tokens;  // BOS, prompt, generation
  std::int32_t generated = 0;        // tokens chosen by the model (after the prompt)
  StepTimes times;                   // summed over all positions of the model that generated
  // With compare: over every position, the share where the argmax equals full attention's,
  // and the mean KL(full || this) of the next-token distributions (natural log).
  double token_agreement = 0, kl_mean = 0;
  std::int32_t compared = 0;
};

Result<GenerateResult> generate(Transformer& model, const Tokenizer& tokenizer, const GenerateOptions& opt,
                                Transformer* reference = nullptr);

}  // namespace ra::model
