#pragma once
// Retrieval attention for one transformer layer at decode time.
//
// The static set (the first num_sink tokens and the last `window`) is attended exactly by a
// DenseAttentionBackend. Every token between them lives in a query-guided graph index built
// from the prefill's keys, guided by the prefill's queries; each decode query retrieves its
// top_k keys and attends to them exactly. Tokens that leave the window are scanned exactly
// (the "tail") until merge_batch of them have gathered, then inserted into the indexes. The
// partial results over these disjoint sets are merged by log-sum-exp.
//
// The decoder references the caller's KV cache (no copy): pass the current view at every
// step; the cache may grow and move between steps. Not thread-safe: one decoder per layer,
// one step at a time; it parallelises over heads inside a TBB task arena of its own.
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "dense_backend.h"
#include "kv_view.h"
#include "../index/build_config.h"
#include "../index/graph_index.h"

namespace ra::attention {

enum class IndexSharing : std::uint8_t {
  kPerKvHead,     // one index per KV head, guided by all its query heads' prefill queries
  kPerQueryHead,  // one index per query head (the published design)
};

struct RetrievalConfig {
  SinkWindow static_set;
  std::uint32_t top_k = 100;               // keys retrieved per query head and step
  std::uint32_t beam = 320;                // search beam (raised to top_k if smaller)
  IndexSharing sharing = IndexSharing::kPerKvHead;
  std::uint32_t max_train_queries = 16384;  // per index: evenly spaced prefill queries (0: all)
  std::uint32_t merge_batch = 256;         // evicted tokens scanned exactly before insertion
  std::uint32_t num_threads = 0;           // task arena size (0: all cores)
  BuildConfig build;

  Status validate() const;
};

/// Work and time of one decode step, summed over query heads.
struct DecodeStats {
  std::uint64_t keys_scored = 0;  // index score evaluations + tail + static tokens
  std::uint64_t index_evals = 0, tail_tokens = 0, static_tokens = 0;
  double dense_ms = 0, retrieval_ms = 0, insert_ms = 0, total_ms = 0;
};

/// The token sets one step attended to (for evaluation).
struct DecodeTrace {
  std::vector<std::vector<std::uint32_t>> retrieved;  // per query head, token positions
  TokenRange sinks, window, tail;
};

class RetrievalDecoder {
 public:
  /// kv holds the prefill (T0 tokens); prefill_queries: (num_q_heads, T0, head_dim) f32 view.
  /// Builds the indexes over tokens [num_sink, T0 - window). `dense` defaults to the CPU one.
  static Result<std::unique_ptr<RetrievalDecoder>> build(
      const KvView& kv, const HeadsView& prefill_queries, const RetrievalConfig& cfg,
      std::unique_ptr<DenseAttentionBackend> dense = nullptr);

  /// One decode step. kv: the cache with the new token already appended (T tokens, same heads
  /// and dtype as at build; T only grows). q: (num_q_heads, head_dim) f32; out the same shape.
  Status decode_step(const KvView& kv, const float* q, float scale, float* out,
                     DecodeStats* stats = nullptr, DecodeTrace* trace = nullptr);

  std::uint32_t num_q_heads() const noexcept { return num_q_heads_; }
  /// Tokens [num_sink, indexed_end()) are in the indexes.
  std::uint32_t indexed_end() const noexcept { return indexed_end_; }
  std::size_t num_indexes() const noexcept { return indexes_.size(); }
  /// Graph memory of every index (the keys stay in the caller's cache).
  std::uint64_t index_bytes() const noexcept;
  double build_seconds() const noexcept { return build_s_; }

  ~RetrievalDecoder();

 private:
  RetrievalDecoder() = default;
  std::uint32_t group() const noexcept { return num_q_heads_ / num_kv_heads_; }
  bool per_kv_head() const noexcept { return cfg_.sharing == IndexSharing::kPerKvHead; }
  /// The index a query head searches, and the KV head an index covers.
  std::size_t index_of_query_head(std::uint32_t h) const noexcept { return per_kv_head() ? h / group() : h; }
  std::uint32_t kv_head_of_index(std::size_t i) const noexcept {
    return static_cast<std::uint32_t>(per_kv_head() ? i : i / group());
  }
  struct Impl;
  std::unique_ptr<Impl> impl_;
  RetrievalConfig cfg_;
  std::unique_ptr<DenseAttentionBackend> dense_;
  std::vector<std::unique_ptr<GraphIndex>> indexes_;
  std::uint32_t num_q_heads_ = 0, num_kv_heads_ = 0, head_dim_ = 0, indexed_end_ = 0;
  std::uint32_t last_tokens_ = 0;
  double build_s_ = 0;
};

}  // namespace ra::attention
