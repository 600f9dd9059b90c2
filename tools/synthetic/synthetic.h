#pragma once
// Seeded synthetic data for tests, benchmarks and the demo.
//
// kGaussian: keys, training queries and test queries all i.i.d. N(0, I): the in-distribution
// control, where any MIPS index should do well.
//
// kAttention mimics one attention head of a long-context LLM (see DESIGN.md): a sequence of
// n + num_queries tokens with hidden states h_t drawn around the centre of the current topic
// (topics change in segments of about `mean_segment` tokens and recur, so attention is sparse
// and shifts from query to query). Keys and queries are two different projections of the same
// hidden states:
//   k_t = RoPE_t(G (W h_t) + b)     G: anisotropic per-pair key gains, b: a large key-only bias
//   q_t = RoPE_t(D (W h_t) + E h_t) D: per-channel log-normal scales, E: a mixing the keys lack
// G spreads log-uniformly from `key_gain_min` up to 1, larger on the slowly rotating RoPE pairs
// (keys are nearly flat in some directions, where queries still have energy: that is what
// makes queries far from the key distribution in Mahalanobis distance, as in real heads);
// b sits on the low-frequency RoPE
// channels, so it stays a near-constant offset; a few outlier pairs are amplified in the keys;
// token 0 is an attention sink (a key along the mean query).
// Training queries are `num_train` distinct prefill positions (< n), sorted; test queries are
// the decode positions n, n+1, ... . Values (for attention) are a third projection.
#include <cstddef>
#include <cstdint>

#include "index/matrix.h"
#include "index/result.h"

namespace ra::tools {

enum class SyntheticKind { kGaussian, kAttention };

struct SyntheticSpec {
  SyntheticKind kind = SyntheticKind::kAttention;
  std::size_t n = 32768;          // keys (the prefill)
  std::size_t dim = 128;          // head dimension (even, for RoPE)
  std::size_t num_queries = 1000; // test queries (decode positions after the prefill)
  std::size_t num_train = 10000;  // training queries (prefill positions), <= n
  std::uint64_t seed = 1;
  // kAttention only:
  std::size_t num_topics = 256;
  double mean_segment = 64.0;     // mean tokens per topic segment
  double topic_strength = 2.0;    // topic centre scale relative to per-token noise
  double query_scale_sigma = 0.6; // log-normal spread of the per-channel query scales D
  double query_noise = 0.5;       // weight of the E h_t term
  double query_gain = 0.5;        // overall query scale: the softmax temperature (no effect on ranking)
  double key_gain_min = 0.002;    // smallest per-pair key gain (1 = isotropic keys)
  double key_bias = 6.0;          // size of the key-only bias on low-frequency channels
  std::size_t outlier_channels = 4;
  double outlier_scale = 4.0;
  double sink_strength = 1.2;     // mean sink score / mean best score of the other keys
  double rope_theta = 10000.0;
  /// Llama-3.1 RoPE frequency scaling: pairs whose wavelength exceeds the original 8192-token
  /// context rotate `rope_scale` times slower, those under 2048 tokens are kept, the band between
  /// is blended (Meta's llama3 rule, low/high frequency factors 1 and 4). 1: no scaling.
  double rope_scale = 1.0;
  bool attention_sink = true;
  std::size_t query_heads = 1;    // query heads sharing these keys (GQA group size)

  Status validate() const;
};

struct SyntheticData {
  Matrix keys;           // n x dim
  Matrix values;         // n x dim (kAttention; empty for kGaussian)
  Matrix train_queries;  // num_train x dim
  Matrix queries;        // num_queries x dim
  /// kAttention: for each query head, its query at every position (n + num_queries rows);
  /// head 0 is the one train_queries and queries are taken from.
  std::vector<Matrix> position_queries;
};

/// Deterministic in the seed (independent of thread count). Runs on OpenMP threads.
Result<SyntheticData> generate(const SyntheticSpec& spec);

/// One attention layer for decoding experiments: `kv_heads` independent KV heads (seeds
/// spec.seed + 1000 * head), each read by `group` query heads (GQA), over spec.n tokens.
/// keys and values are (kv_heads, n, dim) in `kv_dtype`; queries (kv_heads * group, n, dim) f32.
struct SyntheticLayer {
  std::uint32_t kv_heads = 0, q_heads = 0, tokens = 0, dim = 0;
  Matrix keys, values, queries;  // rows: head-major, then token
};
Result<SyntheticLayer> generate_layer(SyntheticSpec spec, std::uint32_t kv_heads, std::uint32_t group,
                                      DType kv_dtype);

}  // namespace ra::tools
