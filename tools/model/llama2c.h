#pragma once
// A small model runner for llama2.c checkpoints (karpathy/llama2.c's public format): RMSNorm,
// RoPE (adjacent pairs, theta 10000), grouped-query attention, SwiGLU, shared or separate
// classifier, f32 weights. Matrix-vector products use this library's kernels. Each layer's
// attention is either full (exact, over the KV cache) or retrieval attention through
// attention::RetrievalDecoder (the static set on the CPU backend, the rest from the indexes).
//
// Checkpoint: 7 x int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size --
// negative for a separate classifier -- and seq_len), then the f32 tensors in llama2.c order.
// Tokenizer: int32 max_token_length, then per token a f32 score, an int32 length and its bytes.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "attention/retrieval_decoder.h"
#include "index/result.h"

namespace ra::model {

struct ModelConfig {
  std::int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab_size = 0, seq_len = 0;
  bool shared_classifier = true;
  std::int32_t head_size() const noexcept { return dim / n_heads; }
  std::int32_t kv_dim() const noexcept { return head_size() * n_kv_heads; }
};

class Tokenizer {
 public:
  static Result<Tokenizer> load(const std::string& path, std::int32_t vocab_size);
  /// BOS, then the text as llama2.c encodes it (a leading space, UTF-8 code points or byte
  /// fallback, then the highest-scoring merges).
  std::vector<std::int32_t> encode(const std::string& text) const;
  /// The text of `token` following `prev` (a space after BOS is dropped; <0xNN> is a byte).
  std::string decode(std::int32_t prev, std::int32_t token) const;
  static constexpr std::int32_t kBos = 1, kEos = 2;

 private:
  std::vector<std::string> vocab_;
  std::vector<float> scores_;
};

/// Each layer's attention.
enum class AttentionMode { kFull, kRetrieval };

/// Time per generated token, split as ra generate reports it.
struct StepTimes {
  double dense_ms = 0, retrieval_ms = 0, absorb_ms = 0, rest_ms = 0;
};

class Transformer {
 public:
  static Result<std::unique_ptr<Transformer>> load(const std::string& path);
  const ModelConfig& config() const noexcept { return cfg_; }

  /// Starts a new sequence of up to `capacity` positions (at least the trained seq_len; RoPE
  /// extends past it, with the quality the model has there). kRetrieval: every layer gets a
  /// RetrievalDecoder over its cache, built when the first token arrives (with no prefill
  /// index: the indexes grow as tokens leave the window and are absorbed, merge_batch at a time).
  Status reset(AttentionMode mode, const attention::RetrievalConfig& retrieval = {}, std::int32_t capacity = 0);
  /// Runs `token` at the next position and returns the logits (vocab_size floats).
  Result<const std::vector<float>*> forward(std::int32_t token, StepTimes* times = nullptr);
  std::int32_t position() const noexcept { return pos_; }

 private:
  Transformer() = default;
  Status attend_layer(int layer, StepTimes* times);
  ModelConfig cfg_;
  std::vector<float> weights_;  // the whole checkpoint's floats
  const float *embedding_ = nullptr, *rms_att_ = nullptr, *wq_ = nullptr, *wk_ = nullptr, *wv_ = nullptr,
              *wo_ = nullptr, *rms_ffn_ = nullptr, *w1_ = nullptr, *w2_ = nullptr, *w3_ = nullptr,
              *rms_final_ = nullptr, *classifier_ = nullptr;
  AttentionMode mode_ = AttentionMode::kFull;
  attention::RetrievalConfig retrieval_;
  std::vector<std::unique_ptr<attention::RetrievalDecoder>> decoders_;  // per layer (kRetrieval)
  // Activations and the cache: key_cache/value_cache (layer, kv_head, seq_len, head_size).
  std::vector<float> x_, xb_, xb2_, hb_, hb2_, q_, k_, v_, att_, logits_, key_cache_, value_cache_;
  std::int32_t pos_ = 0, capacity_ = 0;
};

}  // namespace ra::model
