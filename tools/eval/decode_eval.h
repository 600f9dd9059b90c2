#pragma once
// Replays decoding over a recorded (or generated) sequence and compares, at every step, each
// attention method with full causal attention: the prefill's tokens build the indexes, then
// tokens T0, T0+1, ... are decoded one by one, each appending its K/V to the cache.
// Methods: "full" (exact attention over every past token), "static" (sinks + window only),
// "topk_exact" (static + the exact top-k of the other tokens by a full scan) and "retrieval"
// (the RetrievalDecoder).
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "attention/retrieval_decoder.h"

namespace ra::tools {

struct DecodeEvalConfig {
  attention::RetrievalConfig retrieval;
  std::uint32_t prefill = 0;  // T0
  std::uint32_t steps = 0;    // decode steps (0: to the end of the sequence)
  float scale = 0;            // softmax scale (0: 1/sqrt(head_dim))
  /// Called after each step with (steps done, total).
  std::function<void(std::uint32_t, std::uint32_t)> progress;
  /// Makes the retrieval decoder's dense backend for (the cache, query heads); unset: the CPU one.
  std::function<Result<std::unique_ptr<attention::DenseAttentionBackend>>(const attention::KvView&, std::uint32_t)>
      dense;
};

struct MethodResult {
  std::string name;
  double rel_error_mean = 0, rel_error_p99 = 0;  // |o - o_full| / |o_full| over (step, head)
  double mass_recall_mean = 0;                   // full-softmax mass on the keys used
  double scored_mean = 0;                        // keys scored per head and step
  double topk_recall_mean = 0;  // share of the exact top-k (outside the static set) it attends
  double latency_ms_mean = 0;                    // per step, all heads
};

struct DecodeEvalResult {
  std::uint32_t steps = 0, tokens = 0, q_heads = 0, kv_heads = 0, head_dim = 0;
  double build_s = 0;
  std::uint64_t index_bytes = 0;
  // Absorbs run between steps, when merge_batch tokens have left the window (not in latency).
  std::uint64_t absorbed_tokens = 0;
  double absorb_ms = 0;  // in all
  std::vector<MethodResult> methods;  // full, static, topk_exact, retrieval
};

/// keys, values: (kv_heads, T, d) views of any dtype; queries: (q_heads, T, d) f32.
Result<DecodeEvalResult> evaluate_decode(const attention::HeadsView& keys,
                                         const attention::HeadsView& values,
                                         const attention::HeadsView& queries,
                                         const DecodeEvalConfig& cfg);

}  // namespace ra::tools
