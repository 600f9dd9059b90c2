#pragma once
// How sparse softmax attention is: the share of keys that holds a given share of the mass, the
// mass a fixed static set (sinks + window, or an early query's top keys) keeps, and the mean
// mass curve. The evidence that attending to the top keys alone can be accurate.
#include <cstdint>
#include <span>
#include <vector>

#include "../index/result.h"
#include "../index/types.h"

namespace ra::attention {

/// How one query's softmax attention spreads over the keys.
struct MassProfile {
  double frac_keys_mass50 = 0, frac_keys_mass90 = 0, frac_keys_mass99 = 0;  // smallest share
  double top100_mass = 0, top1000_mass = 0;  // mass held by the 100 / 1000 best keys
};
/// The profile of softmax(scale * scores) (scores: one per key, finite, non-empty).
MassProfile mass_profile(std::span<const float> scores, double scale);

struct SparsityConfig {
  double scale = 0;               // softmax scale; 0: 1/sqrt(dim)
  bool causal = false;            // query i sits at position n_keys - n_queries + i
  std::uint32_t num_sink = 4, window = 64;  // the static set whose coverage is reported
  std::uint32_t curve_points = 64;          // points on the mean mass curve
  std::uint32_t num_threads = 0;
  Status validate() const;
};

/// Means over the queries.
struct SparsityReport {
  MassProfile mass;
  double static_first_query_mass = 0;  // mass on the first query's top-1000 keys (later queries)
  double static_sink_window_mass = 0;  // mass on the sinks + window
  std::vector<double> curve_share, curve_mass;  // mean mass held by the top share of keys
  std::size_t num_keys = 0, num_queries = 0;
};

/// keys (f32/f16/bf16) and queries (f32): same dim, finite; causal needs no more queries
/// than keys. Runs on cfg.num_threads OpenMP threads (an offline analysis, not a decode path).
Result<SparsityReport> attention_sparsity(const MatrixView& keys, const MatrixView& queries,
                                          const SparsityConfig& cfg);

}  // namespace ra::attention
