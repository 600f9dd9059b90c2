#include "attention/retrieval_decoder.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/cpu_dense_backend.h"
#include "attention/merge_state.h"

namespace ra::attention {
namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

}  // namespace

// Per-step buffers and per-thread scratch, sized at build so a step allocates nothing.
struct RetrievalDecoder::Impl {
  tbb::task_arena arena;
  tbb::enumerable_thread_specific<SearchContext> contexts;
  tbb::enumerable_thread_specific<AttendScratch> scratch;
  std::vector<float> dense_o, dense_lse, ret_o, ret_lse, tail_o, tail_lse;
  std::vector<std::vector<Label>> ids;
  std::vector<std::vector<float>> scores;
  std::vector<std::vector<std::uint32_t>> tokens;
  std::vector<SearchStats> search_stats;
  const void* last_keys = nullptr;
};

RetrievalDecoder::~RetrievalDecoder() = default;

Status RetrievalConfig::validate() const {
  if (top_k == 0 || top_k > kMaxBeam) {
    return Status::InvalidArgument("top_k must be in [1, " + std::to_string(kMaxBeam) + "], got " + std::to_string(top_k));
  }
  if (beam > kMaxBeam) {
    return Status::InvalidArgument("beam must be <= " + std::to_string(kMaxBeam) + ", got " + std::to_string(beam));
  }
  if (merge_batch == 0) return Status::InvalidArgument("merge_batch must be >= 1");
  return build.validate();
}

std::uint64_t RetrievalDecoder::index_bytes() const noexcept {
  std::uint64_t total = 0;
  for (const auto& idx : indexes_) total += idx->memory_bytes();
  return total;
}

Result<std::unique_ptr<RetrievalDecoder>> RetrievalDecoder::build(
    const KvView& kv, const HeadsView& prefill_queries, const RetrievalConfig& cfg,
    std::unique_ptr<DenseAttentionBackend> dense) {
  const auto t0 = Clock::now();
  RA_RETURN_IF_ERROR(cfg.validate());
  RA_RETURN_IF_ERROR(validate_kv(kv));
  RA_RETURN_IF_ERROR(validate_heads(prefill_queries, "prefill queries"));
  if (prefill_queries.dtype != DType::kF32) return Status::InvalidArgument("prefill queries must be f32");
  if (prefill_queries.head_dim != kv.k.head_dim) {
    return Status::InvalidArgument("queries and keys have different head_dim");
  }
  if (prefill_queries.num_heads % kv.k.num_heads != 0) {
    return Status::InvalidArgument("query heads (" + std::to_string(prefill_queries.num_heads) +
                                   ") must be a multiple of kv heads (" + std::to_string(kv.k.num_heads) + ")");
  }
  const std::uint32_t t0_tokens = kv.k.num_tokens, sink = cfg.static_set.num_sink;
  if (t0_tokens <= sink + cfg.static_set.window) {
    return Status::InvalidArgument("the prefill (" + std::to_string(t0_tokens) +
                                   " tokens) leaves nothing between the sinks and the window");
  }
  std::unique_ptr<RetrievalDecoder> d(new RetrievalDecoder());
  d->cfg_ = cfg;
  d->dense_ = dense ? std::move(dense) : std::make_unique<CpuDenseBackend>();
  d->num_q_heads_ = prefill_queries.num_heads;
  d->num_kv_heads_ = kv.k.num_heads;
  d->head_dim_ = kv.k.head_dim;
  d->indexed_end_ = t0_tokens - cfg.static_set.window;
  d->last_tokens_ = t0_tokens;
  const std::uint32_t group = d->group();
  const bool per_kv = d->per_kv_head();
  const std::uint32_t num_indexes = per_kv ? d->num_kv_heads_ : d->num_q_heads_;
  const std::uint32_t q_rows = prefill_queries.num_tokens;
  for (std::uint32_t i = 0; i < num_indexes; ++i) {
    const std::uint32_t kv_head = d->kv_head_of_index(i);
    const std::uint32_t first_q = per_kv ? i * group : i, heads = per_kv ? group : 1;
    // Training queries: this index's query heads, evenly spaced prefill positions.
    const std::size_t available = static_cast<std::size_t>(heads) * q_rows;
    const std::size_t take = cfg.max_train_queries ? std::min<std::size_t>(available, cfg.max_train_queries) : available;
    RA_ASSIGN_OR_RETURN(Matrix train, Matrix::zeros(take, d->head_dim_));
    for (std::size_t r = 0; r < take; ++r) {
      const std::size_t flat = r * available / take;
      const auto h = static_cast<std::uint32_t>(first_q + flat / q_rows);
      const auto t = static_cast<std::uint32_t>(flat % q_rows);
      std::copy_n(prefill_queries.head(h, t, t + 1).f32_row(0), d->head_dim_, train.f32_row(r));
    }
    RA_ASSIGN_OR_RETURN(auto index, GraphIndex::build(kv.k.head(kv_head, sink, d->indexed_end_), train.view(),
                                                      cfg.build, KeyOwnership::kReference));
    d->indexes_.push_back(std::move(index));
  }
  auto impl = std::make_unique<Impl>();
  impl->arena.initialize(cfg.num_threads ? static_cast<int>(cfg.num_threads) : tbb::this_task_arena::max_concurrency());
  const std::size_t hd = static_cast<std::size_t>(d->num_q_heads_) * d->head_dim_;
  impl->dense_o.resize(hd);
  impl->ret_o.resize(hd);
  impl->tail_o.resize(hd);
  impl->dense_lse.resize(d->num_q_heads_);
  impl->ret_lse.resize(d->num_q_heads_);
  impl->tail_lse.resize(d->num_q_heads_);
  impl->ids.assign(d->num_q_heads_, std::vector<Label>(cfg.top_k));
  impl->scores.assign(d->num_q_heads_, std::vector<float>(cfg.top_k));
  impl->tokens.assign(d->num_q_heads_, std::vector<std::uint32_t>(cfg.top_k));
  impl->search_stats.resize(d->num_q_heads_);
  impl->last_keys = kv.k.data;
  d->impl_ = std::move(impl);
  d->build_s_ = std::chrono::duration<double>(Clock::now() - t0).count();
  return d;
}

Status RetrievalDecoder::decode_step(const KvView& kv, const float* q, float scale, float* out,
                                     DecodeStats* stats, DecodeTrace* trace) {
  const auto t_start = Clock::now();
  RA_RETURN_IF_ERROR(validate_kv(kv));
  if (kv.k.num_heads != num_kv_heads_ || kv.k.head_dim != head_dim_) {
    return Status::InvalidArgument("the cache's heads or head_dim changed since the build");
  }
  if (kv.k.dtype != indexes_.front()->dtype()) return Status::InvalidArgument("the cache's dtype changed");
  for (std::size_t i = 0; i < static_cast<std::size_t>(num_q_heads_) * head_dim_; ++i) {
    if (!std::isfinite(q[i])) return Status::InvalidArgument("the query has a non-finite value");
  }
  const std::uint32_t T = kv.k.num_tokens, sink = cfg_.static_set.num_sink;
  if (T < last_tokens_) return Status::InvalidArgument("the cache shrank; tokens can only be appended");
  last_tokens_ = T;
  const std::uint32_t win_begin = std::max(indexed_end_, T > cfg_.static_set.window ? T - cfg_.static_set.window : 0);
  Impl& im = *impl_;
  DecodeStats local;

  // Evicted tokens join the indexes in batches; otherwise the indexes follow the cache if it moved.
  const bool merge = win_begin - indexed_end_ >= cfg_.merge_batch;
  if (merge || kv.k.data != im.last_keys) {
    const auto t = Clock::now();
    const std::uint32_t end = merge ? win_begin : indexed_end_;
    for (std::size_t i = 0; i < indexes_.size(); ++i) {
      RA_RETURN_IF_ERROR(indexes_[i]->extend(kv.k.head(kv_head_of_index(i), sink, end)));
    }
    indexed_end_ = end;
    im.last_keys = kv.k.data;
    local.insert_ms = ms_since(t);
  }
  const TokenRange sinks{0, std::min(sink, T)}, window{win_begin, T}, tail{indexed_end_, win_begin};
  const TokenRange static_ranges[2] = {sinks, window};

  auto t = Clock::now();
  RA_RETURN_IF_ERROR(dense_->launch(kv, q, num_q_heads_, static_ranges, scale, im.dense_o.data(),
                                    im.dense_lse.data()));
  local.dense_ms = ms_since(t);

  t = Clock::now();
  const std::uint32_t group = this->group(), d = head_dim_;
  im.arena.execute([&] {
    tbb::parallel_for(std::uint32_t{0}, num_q_heads_, [&](std::uint32_t h) {
      const GraphIndex& index = *indexes_[index_of_query_head(h)];
      const float* qh = q + static_cast<std::size_t>(h) * d;
      const MatrixView keys = kv.k.head(h / group), values = kv.v.head(h / group);
      const auto k = static_cast<std::uint32_t>(std::min<std::size_t>(cfg_.top_k, index.size()));
      const SearchParams p{k, std::max(cfg_.beam, k), 1};
      SearchContext& ctx = im.contexts.local();
      AttendScratch& scratch = im.scratch.local();
      im.search_stats[h] = {};
      // Cannot fail: p is valid for this index and q was validated by the caller's contract.
      (void)index.search_one(qh, p, ctx, im.ids[h].data(), im.scores[h].data(), &im.search_stats[h]);
      for (std::uint32_t j = 0; j < k; ++j) im.tokens[h][j] = sink + static_cast<std::uint32_t>(im.ids[h][j]);
      float* ro = im.ret_o.data() + static_cast<std::size_t>(h) * d;
      attend_ids(qh, keys, values, {im.tokens[h].data(), k}, scale, scratch, ro, &im.ret_lse[h]);
      if (tail.size() > 0) {
        float* to = im.tail_o.data() + static_cast<std::size_t>(h) * d;
        attend_ranges(qh, keys, values, {&tail, 1}, scale, scratch, to, &im.tail_lse[h]);
        merge_attn_states(ro, &im.ret_lse[h], to, &im.tail_lse[h], ro, &im.ret_lse[h], 1, d, d);
      }
    });
  });
  local.retrieval_ms = ms_since(t);
  RA_RETURN_IF_ERROR(dense_->wait());
  merge_attn_states(im.dense_o.data(), im.dense_lse.data(), im.ret_o.data(), im.ret_lse.data(), out,
                    im.dense_lse.data(), num_q_heads_, d, d);

  for (std::uint32_t h = 0; h < num_q_heads_; ++h) local.index_evals += im.search_stats[h].score_evals;
  local.tail_tokens = static_cast<std::uint64_t>(tail.size()) * num_q_heads_;
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
      const auto k = std::min<std::size_t>(cfg_.top_k, indexes_[index_of_query_head(h)]->size());
      trace->retrieved[h].assign(im.tokens[h].begin(), im.tokens[h].begin() + static_cast<std::ptrdiff_t>(k));
    }
  }
  return Status::OK();
}

}  // namespace ra::attention
