#include "attention/retrieval_decoder.h"

#include <algorithm>
#include <chrono>
#include <string>

#include "attention/cpu_dense_backend.h"
#include "attention/merge_state.h"
#include "attention/retrieval_layer.h"
#include "index/api_guard.h"

namespace ra::attention {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

Status RetrievalConfig::validate() const {
  if (top_k == 0 || top_k > kMaxBeam) {
    return Status::InvalidArgument("top_k must be in [1, " + std::to_string(kMaxBeam) + "], got " + std::to_string(top_k));
  }
  if (beam > kMaxBeam) {
    return Status::InvalidArgument("beam must be <= " + std::to_string(kMaxBeam) + ", got " + std::to_string(beam));
  }
  if (merge_batch == 0) return Status::InvalidArgument("merge_batch must be >= 1");
  if (!(beam_recall >= 0 && beam_recall <= 1)) return Status::InvalidArgument("beam_recall must be in [0, 1]");
  return build.validate();
}

RetrievalDecoder::~RetrievalDecoder() = default;

Result<std::unique_ptr<RetrievalDecoder>> RetrievalDecoder::build(
    const KvView& kv, const HeadsView& prefill_queries, const RetrievalConfig& cfg,
    std::unique_ptr<DenseAttentionBackend> dense) {
  RA_API_TRY
  const auto t0 = Clock::now();
  RA_RETURN_IF_ERROR(validate_kv(kv));
  RA_RETURN_IF_ERROR(validate_heads(prefill_queries, "prefill queries"));
  if (prefill_queries.head_dim != kv.k.head_dim) {
    return Status::InvalidArgument("queries and keys have different head_dim");
  }
  std::unique_ptr<RetrievalDecoder> d(new RetrievalDecoder());
  RA_ASSIGN_OR_RETURN(d->layer_, RetrievalLayer::create(prefill_queries.num_heads, kv.k.num_heads, kv.k.head_dim,
                                                        kv.k.dtype, cfg));
  RA_RETURN_IF_ERROR(d->layer_->add_sequence(0, kv, prefill_queries));
  d->cfg_ = cfg;
  d->dense_ = dense ? std::move(dense) : std::make_unique<CpuDenseBackend>();
  d->num_q_heads_ = prefill_queries.num_heads;
  d->head_dim_ = kv.k.head_dim;
  const std::size_t hd = static_cast<std::size_t>(d->num_q_heads_) * d->head_dim_;
  d->dense_o_.resize(hd);
  d->ret_o_.resize(hd);
  d->dense_lse_.resize(d->num_q_heads_);
  d->ret_lse_.resize(d->num_q_heads_);
  d->build_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
  return d;
  RA_API_CATCH("decoder build")
}

Status RetrievalDecoder::decode_step(const KvView& kv, const float* q, float scale, float* out,
                                     DecodeStats* stats, DecodeTrace* trace, float* out_lse) {
  RA_API_TRY
  const auto t_start = Clock::now();
  RA_ASSIGN_OR_RETURN(const std::uint32_t end, layer_->indexed_end(0));
  const std::uint32_t T = kv.k.num_tokens, sink = cfg_.static_set.num_sink, w = cfg_.static_set.window;
  const std::uint32_t win_begin = std::min(T, std::max(end, T > w ? T - w : 0u));
  const TokenRange sinks{0, std::min(sink, T)}, window{std::max(win_begin, sinks.end), T},
      tail{std::min(end, T), win_begin};
  DecodeStats local;

  auto t = Clock::now();
  RA_RETURN_IF_ERROR(dense_->launch({kv, q, num_q_heads_, sinks, window, scale}, dense_o_.data(), dense_lse_.data()));
  local.dense_ms = ms_since(t);
  t = Clock::now();
  const std::int64_t hd = head_dim_;
  const SequenceQuery query{0, kv, q, hd, ret_o_.data(), hd, ret_lse_.data()};
  AttendStats as;
  RA_RETURN_IF_ERROR(layer_->attend({&query, 1}, scale, Coverage::kRetrievedAndTail, &as));
  local.retrieval_ms = ms_since(t);
  RA_RETURN_IF_ERROR(dense_->wait());
  float* lse = out_lse != nullptr ? out_lse : dense_lse_.data();
  merge_attn_states(dense_o_.data(), dense_lse_.data(), ret_o_.data(), ret_lse_.data(), out, lse, num_q_heads_,
                    head_dim_, hd);

  local.index_evals = as.index_evals;
  local.tail_tokens = as.tail_tokens;
  local.estimate_bytes = as.estimate_bytes;
  local.static_tokens = static_cast<std::uint64_t>(sinks.size() + window.size()) * num_q_heads_;
  local.keys_scored = local.index_evals + local.tail_tokens + local.static_tokens;
  local.total_ms = ms_since(t_start);
  if (stats != nullptr) *stats = local;
  if (trace != nullptr) {
    trace->sinks = sinks;
    trace->window = window;
    trace->tail = tail;
    trace->retrieved.resize(num_q_heads_);
    for (std::uint32_t h = 0; h < num_q_heads_; ++h) {
      const auto r = layer_->last_retrieved(h);
      trace->retrieved[h].assign(r.begin(), r.end());
    }
  }
  return Status::OK();
  RA_API_CATCH("decode step")
}

Status RetrievalDecoder::absorb(const KvView& kv) { return layer_->absorb(0, kv); }

std::uint32_t RetrievalDecoder::pending(std::uint32_t num_tokens) const {
  const auto p = layer_->pending(0, num_tokens);
  return p.ok() ? *p : 0;
}

std::uint32_t RetrievalDecoder::indexed_end() const {
  const auto e = layer_->indexed_end(0);
  return e.ok() ? *e : 0;
}

std::uint64_t RetrievalDecoder::index_bytes() const {
  const auto b = layer_->index_bytes(0);
  return b.ok() ? *b : 0;
}

}  // namespace ra::attention
