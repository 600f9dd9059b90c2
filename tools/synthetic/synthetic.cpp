#include "tools/synthetic/synthetic.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "simd/inner_product.h"

namespace ra::tools {
namespace {

// splitmix64: a small counter-friendly generator, so every token gets its own stream and the
// output does not depend on how tokens are split among threads.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  Rng(std::uint64_t seed, std::uint64_t stream, std::uint64_t index)
      : state_(seed ^ (stream * 0x9E3779B97F4A7C15ull) ^ (index * 0xD1B54A32D192ED03ull)) {
    next();
  }
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double normal() {
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  std::uint64_t state_;
};

enum Stream : std::uint64_t { kWeights = 1, kHidden, kGaussianRows, kTrainPick, kTopics };

void fill_normal(Matrix& m, std::uint64_t seed, std::uint64_t stream, double scale) {
  const auto rows = static_cast<std::int64_t>(m.rows());
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < rows; ++i) {
    Rng rng(seed, stream, static_cast<std::uint64_t>(i));
    float* row = m.f32_row(static_cast<std::size_t>(i));
    for (std::size_t j = 0; j < m.dim(); ++j) row[j] = static_cast<float>(rng.normal() * scale);
  }
}

// y = M x for a square f32 matrix stored row-major.
void matvec(const Matrix& m, const float* x, float* y) {
  simd::dot_rows(x, m.data(), DType::kF32, m.dim(), m.rows(), m.dim(), y);
}

// The rotation frequency of RoPE pair i, with Llama-3.1's scaling when scale != 1.
double rope_frequency(std::size_t i, std::size_t dim, double theta, double scale) {
  const double freq = std::pow(theta, -2.0 * static_cast<double>(i) / static_cast<double>(dim));
  if (scale == 1.0) return freq;
  constexpr double kOriginalContext = 8192, kLowFreqFactor = 1, kHighFreqFactor = 4;
  constexpr double kPi = 3.14159265358979323846;
  const double wavelength = 2 * kPi / freq;
  if (wavelength < kOriginalContext / kHighFreqFactor) return freq;
  if (wavelength > kOriginalContext / kLowFreqFactor) return freq / scale;
  const double smooth = (kOriginalContext / wavelength - kLowFreqFactor) / (kHighFreqFactor - kLowFreqFactor);
  return (1 - smooth) * freq / scale + smooth * freq;
}

void apply_rope(float* v, std::size_t dim, std::size_t pos, double theta, double scale) {
  for (std::size_t i = 0; i < dim / 2; ++i) {
    const double freq = rope_frequency(i, dim, theta, scale);
    const double a = static_cast<double>(pos) * freq;
    const double c = std::cos(a), s = std::sin(a);
    const double x0 = v[2 * i], x1 = v[2 * i + 1];
    v[2 * i] = static_cast<float>(x0 * c - x1 * s);
    v[2 * i + 1] = static_cast<float>(x0 * s + x1 * c);
  }
}

std::vector<std::size_t> pick_train_positions(const SyntheticSpec& spec) {
  std::vector<std::size_t> pos(spec.n);
  std::iota(pos.begin(), pos.end(), 0);
  if (spec.num_train < spec.n) {  // partial Fisher-Yates, then sorted
    Rng rng(spec.seed, kTrainPick, 0);
    for (std::size_t i = 0; i < spec.num_train; ++i) {
      const std::size_t j = i + static_cast<std::size_t>(rng.next() % (spec.n - i));
      std::swap(pos[i], pos[j]);
    }
    pos.resize(spec.num_train);
    std::sort(pos.begin(), pos.end());
  }
  return pos;
}

Result<SyntheticData> generate_gaussian(const SyntheticSpec& spec) {
  SyntheticData d;
  RA_ASSIGN_OR_RETURN(d.keys, Matrix::zeros(spec.n, spec.dim));
  RA_ASSIGN_OR_RETURN(d.train_queries, Matrix::zeros(spec.num_train, spec.dim));
  RA_ASSIGN_OR_RETURN(d.queries, Matrix::zeros(spec.num_queries, spec.dim));
  fill_normal(d.keys, spec.seed, kGaussianRows, 1.0);
  fill_normal(d.train_queries, spec.seed + 1, kGaussianRows, 1.0);
  fill_normal(d.queries, spec.seed + 2, kGaussianRows, 1.0);
  return d;
}

Result<SyntheticData> generate_attention(const SyntheticSpec& spec) {
  const std::size_t dim = spec.dim, total = spec.n + spec.num_queries;
  const double inv_sqrt_dim = 1.0 / std::sqrt(static_cast<double>(dim));

  // Projections and per-channel structure.
  RA_ASSIGN_OR_RETURN(Matrix w_key, Matrix::zeros(dim, dim));
  RA_ASSIGN_OR_RETURN(Matrix w_noise, Matrix::zeros(dim, dim));
  RA_ASSIGN_OR_RETURN(Matrix w_value, Matrix::zeros(dim, dim));
  RA_ASSIGN_OR_RETURN(Matrix topics, Matrix::zeros(spec.num_topics, dim));
  fill_normal(w_key, spec.seed, kWeights, inv_sqrt_dim);
  fill_normal(w_noise, spec.seed + 1, kWeights, inv_sqrt_dim);
  fill_normal(w_value, spec.seed + 2, kWeights, inv_sqrt_dim);
  fill_normal(topics, spec.seed, kTopics, spec.topic_strength);
  std::vector<float> q_scale(dim), key_bias(dim, 0.0f), key_gain(dim, 1.0f);
  Rng rng(spec.seed, kWeights, 1u << 20);
  for (std::size_t c = 0; c < dim; ++c) {
    q_scale[c] = static_cast<float>(std::exp(spec.query_scale_sigma * rng.normal()));
    // Low-frequency RoPE pairs (the last quarter) rotate slowly, so a bias there stays a
    // near-constant offset of every key, as in real models.
    if (c >= dim * 3 / 4) key_bias[c] = static_cast<float>(spec.key_bias * rng.normal());
  }
  // Per-pair gains (a pair shares one, so RoPE's rotation keeps the spectrum), log-uniform
  // from key_gain_min to 1 and growing with the pair's wavelength, with some disorder: as in
  // trained models, keys carry little in the fast-rotating (positional) pairs and most in the
  // slow (semantic) ones. `order` lists the pairs from the strongest gain down.
  const std::size_t pairs = dim / 2;
  std::vector<double> rank(pairs);
  for (std::size_t i = 0; i < pairs; ++i) {
    const double t = pairs > 1 ? static_cast<double>(i) / static_cast<double>(pairs - 1) : 1.0;
    rank[i] = t + 0.15 * rng.normal();  // higher: slower rotation, larger gain
  }
  std::vector<std::size_t> order(pairs);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return rank[a] > rank[b] || (rank[a] == rank[b] && a < b);
  });
  for (std::size_t i = 0; i < pairs; ++i) {
    const double t = pairs > 1 ? static_cast<double>(i) / static_cast<double>(pairs - 1) : 0.0;
    const auto g = static_cast<float>(std::pow(spec.key_gain_min, t));
    key_gain[2 * order[i]] = key_gain[2 * order[i] + 1] = g;
  }
  for (std::size_t i = 0; i < spec.outlier_channels && i < pairs; ++i) {
    const std::size_t p = order[i];  // the strongest pairs carry the outliers
    key_gain[2 * p] = key_gain[2 * p + 1] = static_cast<float>(spec.outlier_scale);
  }

  // Further query heads of the same KV head (GQA): the same hidden states and keys, their own
  // scales D and mixing E.
  std::vector<Matrix> head_noise;
  std::vector<std::vector<float>> head_scale;
  for (std::size_t g = 1; g < spec.query_heads; ++g) {
    RA_ASSIGN_OR_RETURN(Matrix w, Matrix::zeros(dim, dim));
    fill_normal(w, spec.seed + 100 + g, kWeights, inv_sqrt_dim);
    head_noise.push_back(std::move(w));
    Rng hr(spec.seed, kWeights, (1u << 20) + g);
    std::vector<float> sc(dim);
    for (float& x : sc) x = static_cast<float>(std::exp(spec.query_scale_sigma * hr.normal()));
    head_scale.push_back(std::move(sc));
  }

  // Topic of each position: segments of geometric length, each on a random topic.
  std::vector<std::uint32_t> topic(total);
  Rng seg(spec.seed, kTopics, 1);
  std::uint32_t current = 0;
  for (std::size_t t = 0; t < total; ++t) {
    if (t == 0 || seg.uniform() < 1.0 / spec.mean_segment) {
      current = static_cast<std::uint32_t>(seg.next() % spec.num_topics);
    }
    topic[t] = current;
  }

  SyntheticData d;
  RA_ASSIGN_OR_RETURN(d.keys, Matrix::zeros(spec.n, dim));
  RA_ASSIGN_OR_RETURN(d.values, Matrix::zeros(spec.n, dim));
  RA_ASSIGN_OR_RETURN(Matrix all_queries, Matrix::zeros(total, dim));
  for (std::size_t g = 1; g < spec.query_heads; ++g) {
    RA_ASSIGN_OR_RETURN(Matrix m, Matrix::zeros(total, dim));
    d.position_queries.push_back(std::move(m));
  }
  const auto total_i = static_cast<std::int64_t>(total);
#pragma omp parallel
  {
    std::vector<float> h(dim), proj(dim), mix(dim);
#pragma omp for schedule(static)
    for (std::int64_t ti = 0; ti < total_i; ++ti) {
      const auto t = static_cast<std::size_t>(ti);
      Rng r(spec.seed, kHidden, t);
      const float* centre = topics.f32_row(topic[t]);
      for (std::size_t c = 0; c < dim; ++c) h[c] = centre[c] + static_cast<float>(r.normal());
      matvec(w_key, h.data(), proj.data());
      matvec(w_noise, h.data(), mix.data());
      float* q = all_queries.f32_row(t);
      for (std::size_t c = 0; c < dim; ++c) {
        q[c] = static_cast<float>(spec.query_gain) * (q_scale[c] * proj[c] + static_cast<float>(spec.query_noise) * mix[c]);
      }
      apply_rope(q, dim, t, spec.rope_theta, spec.rope_scale);
      for (std::size_t g = 1; g < spec.query_heads; ++g) {
        matvec(head_noise[g - 1], h.data(), mix.data());
        float* qg = d.position_queries[g - 1].f32_row(t);
        for (std::size_t c = 0; c < dim; ++c) {
          qg[c] = static_cast<float>(spec.query_gain) *
                  (head_scale[g - 1][c] * proj[c] + static_cast<float>(spec.query_noise) * mix[c]);
        }
        apply_rope(qg, dim, t, spec.rope_theta, spec.rope_scale);
      }
      if (t < spec.n) {
        float* k = d.keys.f32_row(t);
        for (std::size_t c = 0; c < dim; ++c) k[c] = key_gain[c] * proj[c] + key_bias[c];
        apply_rope(k, dim, t, spec.rope_theta, spec.rope_scale);
        matvec(w_value, h.data(), d.values.f32_row(t));
      }
    }
  }

  if (spec.attention_sink && spec.n > 1) {
    // Token 0 becomes a sink: its key points along the mean query (RoPE is the identity at
    // position 0), long enough that its mean score is sink_strength times the mean best score
    // of the other keys, measured on a sample of prefill queries.
    std::vector<float> mean(dim, 0.0f);
    for (std::size_t t = 0; t < spec.n; ++t) {
      for (std::size_t c = 0; c < dim; ++c) mean[c] += all_queries.f32_row(t)[c];
    }
    const std::size_t samples = std::min<std::size_t>(64, spec.n);
    std::vector<float> scores(spec.n - 1);
    double best_sum = 0.0, mean_dot_sum = 0.0;
    for (std::size_t s = 0; s < samples; ++s) {
      const float* q = all_queries.f32_row(s * spec.n / samples);
      simd::dot_rows(q, d.keys.f32_row(1), DType::kF32, dim, spec.n - 1, dim, scores.data());
      best_sum += *std::max_element(scores.begin(), scores.end());
      mean_dot_sum += simd::dot(q, mean.data(), dim);
    }
    if (mean_dot_sum > 0.0) {
      const double scale = spec.sink_strength * best_sum / mean_dot_sum;
      for (std::size_t c = 0; c < dim; ++c) d.keys.f32_row(0)[c] = static_cast<float>(scale * mean[c]);
    }
  }

  const std::vector<std::size_t> train = pick_train_positions(spec);
  RA_ASSIGN_OR_RETURN(d.train_queries, Matrix::zeros(train.size(), dim));
  for (std::size_t i = 0; i < train.size(); ++i) {
    std::copy_n(all_queries.f32_row(train[i]), dim, d.train_queries.f32_row(i));
  }
  RA_ASSIGN_OR_RETURN(d.queries, Matrix::zeros(spec.num_queries, dim));
  if (spec.num_queries > 0) {
    std::copy_n(all_queries.f32_row(spec.n), spec.num_queries * dim, d.queries.f32_row(0));
  }
  d.position_queries.insert(d.position_queries.begin(), std::move(all_queries));
  return d;
}

}  // namespace

Status SyntheticSpec::validate() const {
  if (n == 0) return Status::InvalidArgument("synthetic data needs n >= 1 keys");
  if (dim == 0) return Status::InvalidArgument("synthetic data needs dim >= 1");
  if (num_train > n && kind == SyntheticKind::kAttention) {
    return Status::InvalidArgument("training queries (" + std::to_string(num_train) +
                                   ") must be prefill positions, at most n = " + std::to_string(n));
  }
  for (const auto& [name, value] : {std::pair{"mean_segment", mean_segment}, {"topic_strength", topic_strength},
                                    {"query_scale_sigma", query_scale_sigma}, {"query_noise", query_noise},
                                    {"query_gain", query_gain}, {"key_gain_min", key_gain_min},
                                    {"key_bias", key_bias}, {"outlier_scale", outlier_scale},
                                    {"sink_strength", sink_strength}, {"rope_theta", rope_theta},
                                    {"rope_scale", rope_scale}}) {
    if (!std::isfinite(value)) {
      return Status::InvalidArgument(std::string("synthetic spec: ") + name + " must be finite, got " +
                                     std::to_string(value));
    }
  }
  if (kind == SyntheticKind::kAttention) {
    if (dim % 2 != 0) return Status::InvalidArgument("attention data needs an even dim (RoPE pairs)");
    if (num_topics == 0) return Status::InvalidArgument("attention data needs num_topics >= 1");
    if (!(mean_segment >= 1.0)) return Status::InvalidArgument("mean_segment must be >= 1");
    if (!(key_gain_min > 0.0)) return Status::InvalidArgument("key_gain_min must be > 0");
    if (query_heads == 0) return Status::InvalidArgument("query_heads must be >= 1");
    if (!(rope_theta > 1.0)) return Status::InvalidArgument("rope_theta must be > 1");
    if (!(rope_scale >= 1.0)) return Status::InvalidArgument("rope_scale must be >= 1");
    if (n + num_queries > (std::size_t{1} << 31)) {
      return Status::InvalidArgument("n + queries must stay below 2^31 positions");
    }
  }
  return Status::OK();
}

Result<SyntheticLayer> generate_layer(SyntheticSpec spec, std::uint32_t kv_heads, std::uint32_t group,
                                      DType kv_dtype) {
  if (kv_heads == 0 || group == 0) return Status::InvalidArgument("kv_heads and group must be >= 1");
  spec.kind = SyntheticKind::kAttention;
  spec.num_queries = 0;
  spec.num_train = 1;
  spec.query_heads = group;
  const std::uint64_t base_seed = spec.seed;
  SyntheticLayer layer;
  layer.kv_heads = kv_heads;
  layer.q_heads = kv_heads * group;
  layer.tokens = static_cast<std::uint32_t>(spec.n);
  layer.dim = static_cast<std::uint32_t>(spec.dim);
  const std::size_t n = spec.n, dim = spec.dim;
  RA_ASSIGN_OR_RETURN(layer.keys, Matrix::zeros(kv_heads * n, dim, kv_dtype));
  RA_ASSIGN_OR_RETURN(layer.values, Matrix::zeros(kv_heads * n, dim, kv_dtype));
  RA_ASSIGN_OR_RETURN(layer.queries, Matrix::zeros(layer.q_heads * n, dim));
  for (std::uint32_t h = 0; h < kv_heads; ++h) {
    spec.seed = base_seed + 1000ull * h;
    RA_ASSIGN_OR_RETURN(SyntheticData d, generate(spec));
    convert_from_f32(d.keys.f32_row(0), n * dim, kv_dtype, layer.keys.row_bytes(h * n));
    convert_from_f32(d.values.f32_row(0), n * dim, kv_dtype, layer.values.row_bytes(h * n));
    for (std::uint32_t g = 0; g < group; ++g) {
      std::copy_n(d.position_queries[g].f32_row(0), n * dim, layer.queries.f32_row((h * group + g) * n));
    }
  }
  return layer;
}

Result<SyntheticData> generate(const SyntheticSpec& spec) {
  RA_RETURN_IF_ERROR(spec.validate());
  return spec.kind == SyntheticKind::kGaussian ? generate_gaussian(spec) : generate_attention(spec);
}

}  // namespace ra::tools
