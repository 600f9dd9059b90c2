#include "tools/eval/decode_eval.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "attention/cpu_dense_backend.h"
#include "attention/merge_state.h"
#include "index/topk.h"
#include "simd/inner_product.h"
#include "tools/eval/measure.h"

namespace ra::tools {
namespace {

using attention::AttendScratch;
using attention::TokenRange;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

double rel_error(const float* o, const float* ref, std::size_t d) {
  double num = 0, den = 0;
  for (std::size_t c = 0; c < d; ++c) {
    num += (static_cast<double>(o[c]) - ref[c]) * (static_cast<double>(o[c]) - ref[c]);
    den += static_cast<double>(ref[c]) * ref[c];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

struct Accumulator {
  std::vector<double> errors;
  double mass = 0, scored = 0, ms = 0, recall = 0;
  std::size_t samples = 0, steps = 0;
  MethodResult finish(const std::string& name) {
    MethodResult r;
    r.name = name;
    for (double e : errors) r.rel_error_mean += e / static_cast<double>(std::max<std::size_t>(1, errors.size()));
    r.rel_error_p99 = percentile(errors, 99.0);
    r.mass_recall_mean = mass / static_cast<double>(std::max<std::size_t>(1, samples));
    r.scored_mean = scored / static_cast<double>(std::max<std::size_t>(1, samples));
    r.topk_recall_mean = recall / static_cast<double>(std::max<std::size_t>(1, samples));
    r.latency_ms_mean = ms / static_cast<double>(std::max<std::size_t>(1, steps));
    return r;
  }
};

}  // namespace

Result<DecodeEvalResult> evaluate_decode(const attention::HeadsView& keys,
                                         const attention::HeadsView& values,
                                         const attention::HeadsView& queries,
                                         const DecodeEvalConfig& cfg) {
  const attention::KvView full_kv{keys, values};
  RA_RETURN_IF_ERROR(attention::validate_kv(full_kv));
  RA_RETURN_IF_ERROR(attention::validate_heads(queries, "queries"));
  if (queries.num_tokens != keys.num_tokens) {
    return Status::InvalidArgument("queries and keys cover different numbers of tokens");
  }
  const std::uint32_t T = keys.num_tokens, d = keys.head_dim, H = queries.num_heads;
  if (cfg.prefill == 0 || cfg.prefill >= T) {
    return Status::InvalidArgument("prefill must be in [1, " + std::to_string(T) + ") tokens");
  }
  const std::uint32_t steps = cfg.steps ? std::min(cfg.steps, T - cfg.prefill) : T - cfg.prefill;
  const float scale = cfg.scale > 0 ? cfg.scale : 1.0f / std::sqrt(static_cast<float>(d));
  const std::uint32_t group = H / keys.num_heads;

  auto cache = [&](std::uint32_t tokens) {
    attention::KvView kv = full_kv;
    kv.k.num_tokens = kv.v.num_tokens = tokens;
    return kv;
  };
  attention::HeadsView prefill_q = queries;
  prefill_q.num_tokens = cfg.prefill;
  std::unique_ptr<attention::DenseAttentionBackend> backend;
  if (cfg.dense) {
    RA_ASSIGN_OR_RETURN(backend, cfg.dense(full_kv, H));
  }
  RA_ASSIGN_OR_RETURN(auto decoder,
                      attention::RetrievalDecoder::build(cache(cfg.prefill), prefill_q, cfg.retrieval, std::move(backend)));

  DecodeEvalResult result;
  result.steps = steps;
  result.tokens = T;
  result.q_heads = H;
  result.kv_heads = keys.num_heads;
  result.head_dim = d;
  result.build_s = decoder->build_seconds();
  result.index_bytes = decoder->index_bytes();

  Accumulator full, stat, topk, retr;
  AttendScratch scratch;
  std::vector<float> q(static_cast<std::size_t>(H) * d), o_full(q.size()), o_static(q.size()), o_topk(q.size()),
      o_ret(q.size()), lse(H), lse_static(H), lse_top(H), o_top(d), scores, probs;
  TopK heap;
  std::vector<Label> top_labels(std::max<std::uint32_t>(cfg.retrieval.top_k, 1));
  std::vector<float> top_scores(top_labels.size());
  std::vector<std::vector<std::uint32_t>> top_ids(H);
  attention::DecodeTrace trace;
  attention::CpuDenseBackend dense;
  for (std::uint32_t s = 0; s < steps; ++s) {
    const std::uint32_t t = cfg.prefill + s, len = t + 1;
    const attention::KvView kv = cache(len);
    for (std::uint32_t h = 0; h < H; ++h) {
      std::copy_n(queries.head(h, t, t + 1).f32_row(0), d, q.data() + static_cast<std::size_t>(h) * d);
    }
    // Full attention (the reference).
    auto t0 = Clock::now();
    const TokenRange all{0, len};
    for (std::uint32_t h = 0; h < H; ++h) {
      attention::attend_ranges(q.data() + static_cast<std::size_t>(h) * d, kv.k.head(h / group), kv.v.head(h / group),
                               {&all, 1}, scale, scratch, o_full.data() + static_cast<std::size_t>(h) * d, &lse[h]);
    }
    full.ms += ms_since(t0);
    // Retrieval attention.
    attention::DecodeStats st;
    t0 = Clock::now();
    RA_RETURN_IF_ERROR(decoder->decode_step(kv, q.data(), scale, o_ret.data(), &st, &trace));
    retr.ms += ms_since(t0);
    if (const std::uint32_t waiting = decoder->pending(len); waiting >= cfg.retrieval.merge_batch) {
      t0 = Clock::now();
      RA_RETURN_IF_ERROR(decoder->absorb(kv));
      result.absorb_ms += ms_since(t0);
      result.absorbed_tokens += waiting;
    }
    // Static set only, and static + exact top-k over the rest (a full scan).
    const TokenRange statics[2] = {trace.sinks, trace.window};
    t0 = Clock::now();
    RA_RETURN_IF_ERROR(dense.launch({kv, q.data(), H, trace.sinks, trace.window, scale}, o_static.data(), lse_static.data()));
    const double static_ms = ms_since(t0);
    stat.ms += static_ms;
    t0 = Clock::now();
    const std::uint32_t rest_begin = trace.sinks.end, rest_end = trace.window.begin;
    const std::uint32_t rest = rest_end - rest_begin;
    const std::uint32_t k = std::min(cfg.retrieval.top_k, rest);
    for (std::uint32_t h = 0; h < H; ++h) {
      const float* qh = q.data() + static_cast<std::size_t>(h) * d;
      scores.resize(rest);
      simd::dot_rows(qh, kv.k.head(h / group).row_bytes(rest_begin), keys.dtype, kv.k.head(0).stride, rest, d,
                     scores.data());
      heap.reset(k);
      heap.push_all(scores.data(), rest, rest_begin);
      heap.extract(top_labels.data(), top_scores.data());
      std::vector<std::uint32_t>& top = top_ids[h];  // kept for the mass recalled below
      top.assign(top_labels.begin(), top_labels.begin() + k);
      attention::attend_ids(qh, kv.k.head(h / group), kv.v.head(h / group), top, scale, scratch, o_top.data(), &lse_top[h]);
      attention::merge_attn_states(o_static.data() + static_cast<std::size_t>(h) * d, &lse_static[h], o_top.data(),
                                   &lse_top[h], o_topk.data() + static_cast<std::size_t>(h) * d, &lse_top[h], 1, d, d);
    }
    topk.ms += static_ms + ms_since(t0);  // the static part, then the scan, selection and merge
    // Errors and attention mass recalled, per head.
    for (std::uint32_t h = 0; h < H; ++h) {
      const std::size_t off = static_cast<std::size_t>(h) * d;
      const float* qh = q.data() + off;
      scores.resize(len);
      simd::dot_rows(qh, kv.k.head(h / group).data, keys.dtype, kv.k.head(0).stride, len, d, scores.data());
      const float m = *std::max_element(scores.begin(), scores.end());
      probs.resize(len);
      double z = 0;
      for (std::uint32_t j = 0; j < len; ++j) z += (probs[j] = std::exp(scale * (scores[j] - m)));
      auto mass_of = [&](std::span<const TokenRange> ranges, std::span<const std::uint32_t> extra) {
        double sum = 0;
        for (const TokenRange& r : ranges)
          for (std::uint32_t j = r.begin; j < r.end; ++j) sum += probs[j];
        for (std::uint32_t j : extra) sum += probs[j];
        return sum / z;
      };
      const TokenRange ret_ranges[3] = {trace.sinks, trace.window, trace.tail};
      full.errors.push_back(0.0);
      full.mass += 1.0;
      full.scored += len;
      stat.errors.push_back(rel_error(o_static.data() + off, o_full.data() + off, d));
      stat.mass += mass_of(statics, {});
      stat.scored += trace.sinks.size() + trace.window.size();
      topk.errors.push_back(rel_error(o_topk.data() + off, o_full.data() + off, d));
      topk.mass += mass_of(statics, top_ids[h]);
      topk.scored += len;
      retr.errors.push_back(rel_error(o_ret.data() + off, o_full.data() + off, d));
      retr.mass += mass_of(ret_ranges, trace.retrieved[h]);
      // Recall of the exact top-k: a key counts when retrieval attends it (retrieved, or in the
      // tail it scans); the exact top-k has it by definition.
      std::size_t found = 0;
      for (std::uint32_t j : top_ids[h]) {
        found += (j >= trace.tail.begin && j < trace.tail.end) ||
                 std::find(trace.retrieved[h].begin(), trace.retrieved[h].end(), j) != trace.retrieved[h].end();
      }
      retr.recall += top_ids[h].empty() ? 1.0 : static_cast<double>(found) / static_cast<double>(top_ids[h].size());
      topk.recall += 1.0;
      full.recall += 1.0;
      for (auto* a : {&full, &stat, &topk, &retr}) ++a->samples;
    }
    // The estimate's summaries count as the keys whose bytes they equal.
    retr.scored += static_cast<double>(st.keys_scored) +
                   static_cast<double>(st.estimate_bytes) / static_cast<double>(d * dtype_size(keys.dtype));
    for (auto* a : {&full, &stat, &topk, &retr}) ++a->steps;
    if (cfg.progress) cfg.progress(s + 1, steps);
  }
  result.methods = {full.finish("full"), stat.finish("static"), topk.finish("topk_exact"), retr.finish("retrieval")};
  return result;
}

}  // namespace ra::tools
