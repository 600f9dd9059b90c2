#pragma once
// Retrieval attention for one sequence of one layer: the convenience form of RetrievalLayer
// that ra decode, ra demo, the decode benchmark and the model runner use.
//
// Each step launches the static set (the first num_sink tokens and the last `window`) on a
// DenseAttentionBackend (the CPU one by default; a GPU one runs meanwhile), attends the
// retrieved keys and the tail through the layer, waits, and merges the partials by
// log-sum-exp. absorb() moves the tail into the indexes; the caller schedules it (the step
// never does), e.g. when pending() reaches merge_batch.
//
// The decoder references the caller's KV cache (no copy): pass the current view at every
// step; the cache may grow and move between steps. Not thread-safe: one step at a time.
#include <cstdint>
#include <memory>
#include <vector>

#include "dense_backend.h"
#include "kv_view.h"
#include "retrieval_config.h"

namespace ra::attention {

class RetrievalLayer;

/// Work and time of one decode step, summed over query heads.
struct DecodeStats {
  std::uint64_t keys_scored = 0;  // index score evaluations + tail + static tokens
  std::uint64_t index_evals = 0, tail_tokens = 0, static_tokens = 0;
  std::uint64_t estimate_bytes = 0;  // summaries read by the estimate of the rest (not in keys_scored)
  double dense_ms = 0, retrieval_ms = 0, total_ms = 0;
};

/// The token sets one step attended to (for evaluation).
struct DecodeTrace {
  std::vector<std::vector<std::uint32_t>> retrieved;  // per query head, token positions
  TokenRange sinks, window, tail;
};

class RetrievalDecoder {
 public:
  /// kv holds the prefill (T0 tokens); prefill_queries: (num_q_heads, T0, head_dim) f32 view.
  /// Builds the indexes over tokens [num_sink, T0 - window) (none when the prefill is shorter
  /// than the static set: the first absorb builds them). `dense` defaults to the CPU backend.
  static Result<std::unique_ptr<RetrievalDecoder>> build(
      const KvView& kv, const HeadsView& prefill_queries, const RetrievalConfig& cfg,
      std::unique_ptr<DenseAttentionBackend> dense = nullptr);

  /// One decode step. kv: the cache with the new token already appended (T tokens, same heads
  /// and dtype as at build; T only grows). q: (num_q_heads, head_dim) f32; out the same shape.
  /// out_lse, when given: num_q_heads natural-log LSEs of the whole context's attention.
  Status decode_step(const KvView& kv, const float* q, float scale, float* out,
                     DecodeStats* stats = nullptr, DecodeTrace* trace = nullptr, float* out_lse = nullptr);

  /// Moves tokens that left the window into the indexes.
  Status absorb(const KvView& kv);
  /// Tokens that left the window and wait for absorb(), for a cache of num_tokens.
  std::uint32_t pending(std::uint32_t num_tokens) const;

  std::uint32_t num_q_heads() const noexcept { return num_q_heads_; }
  /// Tokens [num_sink, indexed_end()) are in the indexes.
  std::uint32_t indexed_end() const;
  /// Graph memory of every index (the keys stay in the caller's cache).
  std::uint64_t index_bytes() const;
  double build_seconds() const noexcept { return build_s_; }
  const RetrievalConfig& config() const noexcept { return cfg_; }

  ~RetrievalDecoder();

 private:
  RetrievalDecoder() = default;
  RetrievalConfig cfg_;
  std::unique_ptr<DenseAttentionBackend> dense_;
  std::unique_ptr<RetrievalLayer> layer_;
  std::uint32_t num_q_heads_ = 0, head_dim_ = 0;
  std::vector<float> dense_o_, dense_lse_, ret_o_, ret_lse_;
  double build_s_ = 0;
};

}  // namespace ra::attention
