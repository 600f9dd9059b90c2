#pragma once
// Retrieval attention for one transformer layer of an inference engine: the indexes of a batch
// of sequences, each over its own KV cache (which stays the engine's: the layer references it
// and follows it when it grows or moves).
//
// Per sequence, tokens [0, num_sink) and the last `window` are the static set, which the engine
// may attend itself (on its GPU, say) or leave to attend(). Tokens between them are in a
// query-guided graph index per KV head (or per query head), built from the prefill's keys and
// guided by its queries; tokens that have left the window but are not yet absorbed (the
// "tail") are attended exactly. absorb() moves the tail into the indexes: a separate call the
// engine schedules (between steps, on another thread), whose cost per token does not grow with
// the index (no full-graph pass). A sequence whose prefill is shorter than the static set starts
// with no index; its first absorb() builds one, guided by the queries attend() has seen.
//
// attend() returns, per query head, the partial attention over the keys it covers: o normalised
// over those keys and lse = ln sum exp(scale * q.k) (natural log; flashinfer's LSE is base 2),
// so that the engine can merge it with partials it computes elsewhere (merge_attn_states).
//
// Thread safety: attend() may run concurrently with attend() and with absorb() of other
// sequences (a sequence's own attend and absorb exclude each other); add_sequence and
// remove_sequence exclude everything else. No exception crosses the API.
#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <memory>
#include <span>

#include "kv_view.h"
#include "retrieval_config.h"

namespace ra::attention {

/// One query of a decode batch: a sequence's queries at this step, and where its output goes.
struct SequenceQuery {
  std::uint64_t sequence = 0;  // an id given to add_sequence
  KvView kv;                   // the sequence's cache now, this step's token included
  const float* q = nullptr;    // (num_q_heads, head_dim) f32: head h at q + h * q_head_stride
  std::int64_t q_head_stride = 0;
  float* o = nullptr;          // out: (num_q_heads, head_dim), head h at o + h * o_head_stride
  std::int64_t o_head_stride = 0;
  float* lse = nullptr;        // out: num_q_heads natural-log LSEs (-inf when no key is covered)
};

/// Which keys attend() covers.
enum class Coverage : std::uint8_t {
  kRetrievedAndTail,  // the engine attends the static set itself and merges
  kAll,               // also the static set: o and lse are the whole context's
};

/// Work of one attend() call, summed over its queries and heads.
struct AttendStats {
  std::uint64_t index_evals = 0, tail_tokens = 0, static_tokens = 0;
  std::uint64_t estimate_bytes = 0;  // summaries read by the estimate of the rest (estimate_rest)
};

/// Where the build of a sequence's indexes stands; return false from the callback to cancel.
struct BuildProgress {
  std::uint32_t done = 0, total = 0;  // indexes
  double seconds = 0;                 // since the build started
  std::uint64_t bytes = 0;            // graph memory of the indexes built so far
};
using BuildCallback = bool (*)(const BuildProgress&, void* user);

class RetrievalLayer {
 public:
  /// A layer of num_q_heads query heads over num_kv_heads KV heads (GQA) of head_dim in
  /// kv_dtype. Retrieval runs in `arena` when given (the engine's, shared with its other work;
  /// it must outlive the layer); else in a task arena of cfg.num_threads threads when that is
  /// set, else in one arena that every layer of the process shares.
  static Result<std::unique_ptr<RetrievalLayer>> create(std::uint32_t num_q_heads, std::uint32_t num_kv_heads,
                                                        std::uint32_t head_dim, DType kv_dtype,
                                                        const RetrievalConfig& cfg,
                                                        tbb::task_arena* arena = nullptr);
  ~RetrievalLayer();

  /// A sequence joins with its prefill: kv (T0 tokens) and prefill_queries (num_q_heads, T0,
  /// head_dim) f32 (T0 may be 0 rows short of kv: queries of tokens before the prefill are not
  /// needed). Builds its indexes, one per KV head (or query head) in parallel in the arena;
  /// `progress` is called after each. On any failure or a cancel nothing changes.
  Status add_sequence(std::uint64_t id, const KvView& kv, const HeadsView& prefill_queries,
                      BuildCallback progress = nullptr, void* user = nullptr);
  /// The sequence leaves; its indexes are freed.
  Status remove_sequence(std::uint64_t id);

  /// Attention of every query of the batch over the keys `coverage` names, heads in parallel.
  /// Each entry's kv must hold every token the sequence has (only appends since the last call).
  Status attend(std::span<const SequenceQuery> batch, float scale, Coverage coverage,
                AttendStats* stats = nullptr);

  /// Moves the sequence's tail (tokens that left the window) into its indexes.
  Status absorb(std::uint64_t id, const KvView& kv);
  /// Tail tokens of the sequence not yet absorbed, given its cache's length now.
  Result<std::uint32_t> pending(std::uint64_t id, std::uint32_t num_tokens) const;

  std::size_t num_sequences() const;
  /// Graph bytes of a sequence's indexes (the keys stay in the engine's cache).
  Result<std::uint64_t> index_bytes(std::uint64_t id) const;
  /// Tokens [num_sink, indexed_end) of the sequence are in its indexes.
  Result<std::uint32_t> indexed_end(std::uint64_t id) const;
  /// With estimate_rest: how many of the sequence's indexes use the estimate (chosen at build).
  Result<std::uint32_t> estimates_on(std::uint64_t id) const;
  /// The cache positions attend() last retrieved for query head h of the first entry of the
  /// batch (for evaluation; empty before any attend).
  std::span<const std::uint32_t> last_retrieved(std::uint32_t h) const;

 private:
  RetrievalLayer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ra::attention
