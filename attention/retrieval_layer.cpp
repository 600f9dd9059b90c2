#include "attention/retrieval_layer.h"

#include <oneapi/tbb/enumerable_thread_specific.h>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "attention/dense_attention.h"
#include "attention/merge_state.h"
#include "attention/rest_estimate.h"
#include "index/api_guard.h"
#include "index/flat_index.h"
#include "index/recall.h"
#include "index/graph_index.h"

namespace ra::attention {
namespace {

// The arena every layer shares unless given one: one pool of workers for the whole process,
// however many layers and sequences there are.
tbb::task_arena& shared_arena() {
  static tbb::task_arena arena;
  return arena;
}

// One thread's buffers for one (query, head) work item; they grow, then stay.
struct Scratch {
  SearchContext search;
  AttendScratch attend;
  EstimateScratch estimate;
  std::vector<std::uint32_t> rows;
  std::vector<Label> ids;
  std::vector<float> scores, partial;  // partial: one partial (estimate, tail, static) at a time
  std::vector<std::uint32_t> tokens;
};

}  // namespace

struct RetrievalLayer::Impl {
  struct Sequence {
    std::mutex mu;  // attend and absorb of this sequence exclude each other
    std::vector<std::unique_ptr<GraphIndex>> indexes;  // empty until built
    std::vector<RestEstimate> estimates;               // per index, with estimate_rest
    std::vector<std::uint8_t> estimate_on;             // per index: the estimate lowers the error
    std::vector<std::uint32_t> beams;                  // per index: its search beam
    std::uint32_t indexed_end = 0;  // tokens [num_sink, indexed_end) are in the indexes
    std::uint32_t last_tokens = 0;
    const void* last_keys = nullptr;
    std::vector<float> history;     // recent decode queries, rows of num_q_heads * head_dim
    std::size_t history_next = 0, history_rows = 0;
  };

  std::uint32_t q_heads = 0, kv_heads = 0, d = 0;
  DType dtype = DType::kF32;
  RetrievalConfig cfg;
  tbb::task_arena* arena = nullptr;
  std::unique_ptr<tbb::task_arena> own_arena;
  mutable std::shared_mutex map_mu;
  std::map<std::uint64_t, std::unique_ptr<Sequence>> sequences;
  tbb::enumerable_thread_specific<Scratch> scratch;
  std::vector<std::vector<std::uint32_t>> last_retrieved;  // per query head, first entry

  std::uint32_t group() const noexcept { return q_heads / kv_heads; }
  bool per_kv_head() const noexcept { return cfg.sharing == IndexSharing::kPerKvHead; }
  std::size_t num_indexes() const noexcept { return per_kv_head() ? kv_heads : q_heads; }
  std::size_t index_of_query_head(std::uint32_t h) const noexcept { return per_kv_head() ? h / group() : h; }
  std::uint32_t kv_head_of_index(std::size_t i) const noexcept {
    return static_cast<std::uint32_t>(per_kv_head() ? i : i / group());
  }
  // The query heads index i serves: [first, first + count).
  struct HeadRange {
    std::uint32_t first, count;
  };
  HeadRange query_heads_of_index(std::size_t i) const noexcept {
    const auto x = static_cast<std::uint32_t>(i);
    return per_kv_head() ? HeadRange{x * group(), group()} : HeadRange{x, 1};
  }
  std::uint32_t sink() const noexcept { return cfg.static_set.num_sink; }
  std::uint32_t window_begin(const Sequence& s, std::uint32_t tokens) const noexcept {
    const std::uint32_t w = cfg.static_set.window;
    return std::max(s.indexed_end, tokens > w ? tokens - w : 0u);
  }

  Status check_cache(const KvView& kv, const Sequence* s) const {
    RA_RETURN_IF_ERROR(validate_kv(kv));
    if (kv.k.num_heads != kv_heads || kv.k.head_dim != d) {
      return Status::InvalidArgument("the cache has " + std::to_string(kv.k.num_heads) + " kv heads of dim " +
                                     std::to_string(kv.k.head_dim) + "; the layer " + std::to_string(kv_heads) +
                                     " of dim " + std::to_string(d));
    }
    if (kv.k.dtype != dtype || kv.v.dtype != dtype) return Status::InvalidArgument("the cache's dtype is not the layer's");
    if (s != nullptr && kv.k.num_tokens < s->last_tokens) {
      return Status::InvalidArgument("the cache shrank from " + std::to_string(s->last_tokens) + " to " +
                                     std::to_string(kv.k.num_tokens) + " tokens; tokens can only be appended");
    }
    return Status::OK();
  }

  // Training queries of index i: its query heads' rows of `queries` ((q_heads, rows, d) view),
  // evenly spaced, at most cfg.max_train_queries.
  Result<Matrix> training_queries(std::size_t i, const HeadsView& queries) const {
    const auto [first_q, heads] = query_heads_of_index(i);
    const std::uint32_t rows = queries.num_tokens;
    const std::size_t available = static_cast<std::size_t>(heads) * rows;
    const std::size_t take = cfg.max_train_queries ? std::min<std::size_t>(available, cfg.max_train_queries) : available;
    RA_ASSIGN_OR_RETURN(Matrix train, Matrix::zeros(take, d));
    for (std::size_t r = 0; r < take; ++r) {
      const std::size_t flat = r * available / take;
      const auto h = static_cast<std::uint32_t>(first_q + flat / rows);
      const auto t = static_cast<std::uint32_t>(flat % rows);
      std::copy_n(queries.head(h, t, t + 1).f32_row(0), d, train.f32_row(r));
    }
    return train;
  }

  // Indexes over tokens [sink, end) of kv, guided by `queries`; progress after each.
  Result<std::vector<std::unique_ptr<GraphIndex>>> build_indexes(const KvView& kv, std::uint32_t end,
                                                                 const HeadsView& queries, BuildCallback progress,
                                                                 void* user) const {
    std::vector<std::unique_ptr<GraphIndex>> out;
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t bytes = 0;
    for (std::size_t i = 0; i < num_indexes(); ++i) {
      RA_ASSIGN_OR_RETURN(Matrix train, training_queries(i, queries));
      // OpenMP inside the build, one index after another: never OpenMP inside a TBB task.
      RA_ASSIGN_OR_RETURN(auto index, GraphIndex::build(kv.k.head(kv_head_of_index(i), sink(), end), train.view(),
                                                        cfg.build, KeyOwnership::kReference));
      bytes += index->memory_bytes();
      out.push_back(std::move(index));
      const BuildProgress p{static_cast<std::uint32_t>(i + 1), static_cast<std::uint32_t>(num_indexes()),
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), bytes};
      if (progress != nullptr && !progress(p, user)) {
        return Status::Cancelled("index build cancelled after " + std::to_string(i + 1) + " of " +
                                 std::to_string(num_indexes()) + " indexes");
      }
    }
    return out;
  }

  // Each index's beam: cfg.beam, or with beam_recall the smallest from there (1.5x steps) that
  // reaches it on held-out queries (the last kHeldOutBeam rows of each query head of `queries`)
  // against their exact top-k over the index's keys.
  Status calibrate_beams(Sequence& s, const KvView& kv, const HeadsView& queries) const {
    constexpr std::uint32_t kHeldOutBeam = 32;
    s.beams.assign(s.indexes.size(), cfg.beam);
    const std::uint32_t T0 = queries.num_tokens, rows = std::min(T0, kHeldOutBeam);
    if (cfg.beam_recall <= 0 || rows == 0) return Status::OK();
    for (std::size_t x = 0; x < s.indexes.size(); ++x) {
      const GraphIndex& index = *s.indexes[x];
      const auto [first_q, heads] = query_heads_of_index(x);
      RA_ASSIGN_OR_RETURN(Matrix held, Matrix::zeros(static_cast<std::size_t>(heads) * rows, d));
      for (std::uint32_t h = 0; h < heads; ++h) {
        for (std::uint32_t r = 0; r < rows; ++r) {
          std::copy_n(queries.head(first_q + h, T0 - rows + r, T0 - rows + r + 1).f32_row(0), d,
                      held.f32_row(static_cast<std::size_t>(h) * rows + r));
        }
      }
      const auto k = static_cast<std::uint32_t>(std::min<std::size_t>(cfg.top_k, index.size()));
      SearchResults truth, found;
      RA_ASSIGN_OR_RETURN(const FlatIndex flat, FlatIndex::over(kv.k.head(kv_head_of_index(x), sink(), s.indexed_end)));
      RA_RETURN_IF_ERROR(flat.search(held.view(), {k, k, cfg.build.num_threads}, &truth));
      std::uint32_t beam = std::max(cfg.beam, k);
      while (true) {
        RA_RETURN_IF_ERROR(index.search(held.view(), {k, beam, cfg.build.num_threads}, &found));
        if (recall_at_k(found, IdMatrix{truth.num_queries, truth.k, truth.ids}, k) >= cfg.beam_recall ||
            beam >= kMaxBeam) {
          break;
        }
        beam = std::min<std::uint32_t>(kMaxBeam, beam + beam / 2);
      }
      s.beams[x] = beam;
    }
    return Status::OK();
  }
  SearchParams search_params(const Sequence& s, std::size_t x, std::size_t k) const noexcept {
    const std::uint32_t beam = s.beams.empty() ? cfg.beam : s.beams[x];
    return {static_cast<std::uint32_t>(k), std::max<std::uint32_t>(beam, static_cast<std::uint32_t>(k)), 1};
  }

  // With estimate_rest: an estimate per index, switched on where it lowers the error of the
  // indexed range's attention on held-out prefill queries (the last 16 of each query head).
  static constexpr double kEstimateFloor = 0.01;
  Status build_estimates(Sequence& s, const KvView& kv, const HeadsView& prefill_queries) {
    if (!cfg.estimate_rest || s.indexes.empty()) return Status::OK();
    s.estimates.clear();
    s.estimate_on.assign(s.indexes.size(), 0);
    const std::uint32_t end = s.indexed_end;
    Scratch& sc = scratch.local();
    const float scale = 1.0f / std::sqrt(static_cast<float>(d));
    std::vector<float> exact(d), ret(d), est(d), merged(d);
    for (std::size_t x = 0; x < s.indexes.size(); ++x) {
      const std::uint32_t kvh = kv_head_of_index(x);
      const MatrixView keys = kv.k.head(kvh, sink(), end), values = kv.v.head(kvh, sink(), end);
      RA_ASSIGN_OR_RETURN(RestEstimate e, RestEstimate::build(keys, values, cfg.estimate_cluster));
      const GraphIndex& index = *s.indexes[x];
      const auto [first_q, heads] = query_heads_of_index(x);
      const std::uint32_t T0 = prefill_queries.num_tokens;
      double err_without = 0, err_with = 0, held = 0;
      const std::size_t k = std::min<std::size_t>(cfg.top_k, index.size());
      const TokenRange all{0, static_cast<std::uint32_t>(keys.rows)};
      for (std::uint32_t h = first_q; h < first_q + heads; ++h) {
        for (std::uint32_t t = T0 > 16 ? T0 - 16 : 0; t < T0; ++t) {
          const float* qh = prefill_queries.head(h, t, t + 1).f32_row(0);
          float lse_exact, lse_ret, lse_est;
          attend_ranges(qh, keys, values, {&all, 1}, scale, sc.attend, exact.data(), &lse_exact);
          sc.ids.resize(k);
          sc.scores.resize(k);
          RA_RETURN_IF_ERROR(index.search_one(qh, search_params(s, x, k), sc.search, sc.ids.data(), sc.scores.data()));
          sc.rows.assign(sc.ids.begin(), sc.ids.end());
          attend_ids(qh, keys, values, sc.rows, scale, sc.attend, ret.data(), &lse_ret);
          e.estimate(qh, scale, sc.rows, keys, values, cfg.estimate_exact, sc.estimate, est.data(), &lse_est);
          double a = 0, b = 0, norm = 0;
          float lse_m;
          merge_attn_states(ret.data(), &lse_ret, est.data(), &lse_est, merged.data(), &lse_m, 1, d, d);
          for (std::uint32_t c = 0; c < d; ++c) {
            a += (ret[c] - exact[c]) * (ret[c] - exact[c]);
            b += (merged[c] - exact[c]) * (merged[c] - exact[c]);
            norm += exact[c] * exact[c];
          }
          err_without += std::sqrt(a / (norm + 1e-30));
          err_with += std::sqrt(b / (norm + 1e-30));
          ++held;
        }
      }
      // On where retrieval alone errs (held out) at least kEstimateFloor and the estimate cuts
      // that by a fifth: below, it can only cost time (a stories260K head at 0.16% went 0.012%
      // -> 0.027% on decode steps, where held out it looked better).
      s.estimate_on[x] = err_without >= kEstimateFloor * held && err_with < 0.8 * err_without;
      s.estimates.push_back(std::move(e));
    }
    return Status::OK();
  }

  // Indexes s over tokens [sink, end) guided by `queries`, then their beams and estimates.
  Status index_sequence(Sequence& s, const KvView& kv, std::uint32_t end, const HeadsView& queries,
                        BuildCallback progress, void* user) {
    RA_ASSIGN_OR_RETURN(s.indexes, build_indexes(kv, end, queries, progress, user));
    s.indexed_end = end;
    RA_RETURN_IF_ERROR(calibrate_beams(s, kv, queries));
    return build_estimates(s, kv, queries);
  }

  void remember(Sequence& s, const float* q, std::int64_t q_head_stride) const {
    if (cfg.query_history == 0) return;
    const std::size_t row = static_cast<std::size_t>(q_heads) * d;
    if (s.history.empty()) s.history.resize(static_cast<std::size_t>(cfg.query_history) * row);
    float* dst = s.history.data() + s.history_next * row;
    for (std::uint32_t h = 0; h < q_heads; ++h) std::copy_n(q + h * q_head_stride, d, dst + static_cast<std::size_t>(h) * d);
    s.history_next = (s.history_next + 1) % cfg.query_history;
    s.history_rows = std::min<std::size_t>(s.history_rows + 1, cfg.query_history);
  }

  // One (query, head) of attend(): retrieved + tail (+ static) partial into o, lse.
  void attend_head(const SequenceQuery& e, const Sequence& s, std::uint32_t h, float scale, Coverage coverage,
                   Scratch& sc, AttendStats& st, std::vector<std::uint32_t>* retrieved) const {
    const std::uint32_t T = e.kv.k.num_tokens, kvh = h / group();
    const float* qh = e.q + h * e.q_head_stride;
    float* o = e.o + h * e.o_head_stride;
    float* lse = e.lse + h;
    const MatrixView keys = e.kv.k.head(kvh), values = e.kv.v.head(kvh);
    const std::uint32_t win = window_begin(s, T);
    const TokenRange tail{std::min(s.indexed_end, T), std::min(win, T)};
    *lse = -std::numeric_limits<float>::infinity();
    std::fill(o, o + d, 0.0f);
    sc.partial.resize(d);
    std::size_t k = 0;
    if (!s.indexes.empty()) {
      const GraphIndex& index = *s.indexes[index_of_query_head(h)];
      k = std::min<std::size_t>(cfg.top_k, index.size());
      const SearchParams p = search_params(s, index_of_query_head(h), k);
      sc.ids.resize(k);
      sc.scores.resize(k);
      sc.tokens.resize(k);
      SearchStats ss;
      // The rows attended: the top k, or every key the search scored (logged by the search
      // itself, each once: the visited set and the hubs).
      sc.rows.clear();
      sc.search.set_scored_log(cfg.attend_scored ? &sc.rows : nullptr);
      // Cannot fail: p fits the index and the query was checked finite by attend().
      (void)index.search_one(qh, p, sc.search, sc.ids.data(), sc.scores.data(), &ss);
      sc.search.set_scored_log(nullptr);
      st.index_evals += ss.score_evals;
      if (!cfg.attend_scored) {
        sc.rows.resize(k);
        for (std::size_t j = 0; j < k; ++j) sc.rows[j] = static_cast<std::uint32_t>(sc.ids[j]);
      }
      sc.tokens.resize(sc.rows.size());
      for (std::size_t j = 0; j < sc.rows.size(); ++j) sc.tokens[j] = sink() + sc.rows[j];
      attend_ids(qh, keys, values, sc.tokens, scale, sc.attend, o, lse);
      if (retrieved != nullptr) retrieved->assign(sc.tokens.begin(), sc.tokens.end());
      const std::size_t x = index_of_query_head(h);
      if (!s.estimate_on.empty() && s.estimate_on[x]) {
        float lse_est;
        std::uint64_t exact_keys = 0;
        s.estimates[x].estimate(qh, scale, sc.rows, keys.slice_rows(sink(), s.indexed_end),
                                values.slice_rows(sink(), s.indexed_end), cfg.estimate_exact, sc.estimate,
                                sc.partial.data(), &lse_est, &exact_keys);
        merge_attn_states(o, lse, sc.partial.data(), &lse_est, o, lse, 1, d, d);
        st.estimate_bytes += s.estimates[x].bytes_read();
        st.index_evals += exact_keys;
      }
    } else if (retrieved != nullptr) {
      retrieved->clear();
    }
    if (tail.size() > 0) {
      float lse_tail;
      attend_ranges(qh, keys, values, {&tail, 1}, scale, sc.attend, sc.partial.data(), &lse_tail);
      merge_attn_states(o, lse, sc.partial.data(), &lse_tail, o, lse, 1, d, d);
      st.tail_tokens += tail.size();
    }
    if (coverage == Coverage::kAll) {
      const TokenRange statics[2] = {{0, std::min(sink(), T)}, {std::max(win, std::min(sink(), T)), T}};
      float lse_static;
      attend_ranges(qh, keys, values, statics, scale, sc.attend, sc.partial.data(), &lse_static);
      merge_attn_states(o, lse, sc.partial.data(), &lse_static, o, lse, 1, d, d);
      st.static_tokens += statics[0].size() + statics[1].size();
    }
  }
};

Result<std::unique_ptr<RetrievalLayer>> RetrievalLayer::create(std::uint32_t num_q_heads, std::uint32_t num_kv_heads,
                                                               std::uint32_t head_dim, DType kv_dtype,
                                                               const RetrievalConfig& cfg, tbb::task_arena* arena) {
  RA_API_TRY
  RA_RETURN_IF_ERROR(cfg.validate());
  if (num_q_heads == 0 || num_kv_heads == 0 || head_dim == 0 || num_q_heads % num_kv_heads != 0) {
    return Status::InvalidArgument("query heads (" + std::to_string(num_q_heads) + ") must be a positive multiple of kv heads (" +
                                   std::to_string(num_kv_heads) + "), head_dim positive");
  }
  std::unique_ptr<RetrievalLayer> layer(new RetrievalLayer());
  layer->impl_ = std::make_unique<Impl>();
  Impl& im = *layer->impl_;
  im.q_heads = num_q_heads;
  im.kv_heads = num_kv_heads;
  im.d = head_dim;
  im.dtype = kv_dtype;
  im.cfg = cfg;
  if (arena != nullptr) {
    im.arena = arena;
  } else if (cfg.num_threads != 0) {
    im.own_arena = std::make_unique<tbb::task_arena>(static_cast<int>(cfg.num_threads));
    im.arena = im.own_arena.get();
  } else {
    im.arena = &shared_arena();
  }
  im.last_retrieved.resize(num_q_heads);
  return layer;
  RA_API_CATCH("retrieval layer")
}

RetrievalLayer::~RetrievalLayer() = default;

Status RetrievalLayer::add_sequence(std::uint64_t id, const KvView& kv, const HeadsView& prefill_queries,
                                    BuildCallback progress, void* user) {
  RA_API_TRY
  Impl& im = *impl_;
  RA_RETURN_IF_ERROR(im.check_cache(kv, nullptr));
  const std::uint32_t t0 = kv.k.num_tokens;
  auto s = std::make_unique<Impl::Sequence>();
  s->indexed_end = std::max(im.sink(), t0 > im.cfg.static_set.window ? t0 - im.cfg.static_set.window : 0u);
  s->last_tokens = t0;
  s->last_keys = kv.k.data;
  if (s->indexed_end > im.sink() && s->indexed_end <= t0) {
    RA_RETURN_IF_ERROR(validate_heads(prefill_queries, "prefill queries"));
    if (prefill_queries.dtype != DType::kF32 || prefill_queries.num_heads != im.q_heads ||
        prefill_queries.head_dim != im.d) {
      return Status::InvalidArgument("prefill queries must be f32 (num_q_heads = " + std::to_string(im.q_heads) +
                                     ", tokens, head_dim = " + std::to_string(im.d) + ")");
    }
    RA_RETURN_IF_ERROR(im.index_sequence(*s, kv, s->indexed_end, prefill_queries, progress, user));
  } else {
    s->indexed_end = im.sink();  // nothing between the sinks and the window yet
  }
  std::unique_lock lock(im.map_mu);
  if (!im.sequences.emplace(id, std::move(s)).second) {
    return Status::InvalidArgument("sequence " + std::to_string(id) + " is already in the layer");
  }
  return Status::OK();
  RA_API_CATCH("add sequence")
}

Status RetrievalLayer::remove_sequence(std::uint64_t id) {
  RA_API_TRY
  std::unique_lock lock(impl_->map_mu);
  if (impl_->sequences.erase(id) == 0) return Status::NotFound("sequence " + std::to_string(id) + " is not in the layer");
  return Status::OK();
  RA_API_CATCH("remove sequence")
}

Status RetrievalLayer::attend(std::span<const SequenceQuery> batch, float scale, Coverage coverage,
                              AttendStats* stats) {
  RA_API_TRY
  Impl& im = *impl_;
  if (!(scale > 0.0f) || !std::isfinite(scale)) return Status::InvalidArgument("scale must be positive and finite");
  std::shared_lock map_lock(im.map_mu);
  // Lock the batch's sequences in id order (no deadlock with other batches), each once.
  std::vector<std::pair<std::uint64_t, Impl::Sequence*>> order;
  for (const SequenceQuery& e : batch) {
    auto it = im.sequences.find(e.sequence);
    if (it == im.sequences.end()) return Status::NotFound("sequence " + std::to_string(e.sequence) + " is not in the layer");
    order.emplace_back(e.sequence, it->second.get());
  }
  std::vector<Impl::Sequence*> seq_of(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) seq_of[i] = order[i].second;
  std::sort(order.begin(), order.end());
  if (std::adjacent_find(order.begin(), order.end(), [](auto& a, auto& b) { return a.first == b.first; }) != order.end()) {
    return Status::InvalidArgument("a sequence appears twice in one batch");
  }
  std::vector<std::unique_lock<std::mutex>> locks;
  for (auto& [id, s] : order) locks.emplace_back(s->mu);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const SequenceQuery& e = batch[i];
    RA_RETURN_IF_ERROR(im.check_cache(e.kv, seq_of[i]));
    if (e.q == nullptr || e.o == nullptr || e.lse == nullptr) return Status::InvalidArgument("null query or output");
    for (std::uint32_t h = 0; h < im.q_heads; ++h) {
      for (std::uint32_t c = 0; c < im.d; ++c) {
        if (!std::isfinite(e.q[h * e.q_head_stride + c])) {
          return Status::InvalidArgument("sequence " + std::to_string(e.sequence) + ": the query of head " +
                                         std::to_string(h) + " has a non-finite value");
        }
      }
    }
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    Impl::Sequence& s = *seq_of[i];
    const SequenceQuery& e = batch[i];
    if (e.kv.k.data != s.last_keys && !s.indexes.empty()) {  // the cache moved: follow it
      for (std::size_t x = 0; x < s.indexes.size(); ++x) {
        RA_RETURN_IF_ERROR(s.indexes[x]->extend(e.kv.k.head(im.kv_head_of_index(x), im.sink(), s.indexed_end)));
      }
    }
    s.last_keys = e.kv.k.data;
    s.last_tokens = e.kv.k.num_tokens;
    im.remember(s, e.q, e.q_head_stride);
  }
  const std::size_t items = batch.size() * im.q_heads;
  std::vector<AttendStats> item_stats(items);
  im.arena->execute([&] {
    tbb::parallel_for(std::size_t{0}, items, [&](std::size_t w) {
      const std::size_t i = w / im.q_heads;
      const auto h = static_cast<std::uint32_t>(w % im.q_heads);
      im.attend_head(batch[i], *seq_of[i], h, scale, coverage, im.scratch.local(), item_stats[w],
                     i == 0 ? &im.last_retrieved[h] : nullptr);
    });
  });
  if (stats != nullptr) {
    *stats = {};
    for (const AttendStats& st : item_stats) {
      stats->index_evals += st.index_evals;
      stats->tail_tokens += st.tail_tokens;
      stats->static_tokens += st.static_tokens;
      stats->estimate_bytes += st.estimate_bytes;
    }
  }
  return Status::OK();
  RA_API_CATCH("attend")
}

Status RetrievalLayer::absorb(std::uint64_t id, const KvView& kv) {
  RA_API_TRY
  Impl& im = *impl_;
  std::shared_lock map_lock(im.map_mu);
  auto it = im.sequences.find(id);
  if (it == im.sequences.end()) return Status::NotFound("sequence " + std::to_string(id) + " is not in the layer");
  Impl::Sequence& s = *it->second;
  std::lock_guard lock(s.mu);
  RA_RETURN_IF_ERROR(im.check_cache(kv, &s));
  const std::uint32_t end = im.window_begin(s, kv.k.num_tokens);
  if (end <= s.indexed_end && kv.k.data == s.last_keys) return Status::OK();
  if (s.indexes.empty()) {
    if (end <= im.sink()) return Status::OK();
    // The first index of a sequence that had no prefill to build from: guided by the decode
    // queries seen so far (the keys themselves when there are none).
    Matrix queries;
    if (s.history_rows > 0) {
      RA_ASSIGN_OR_RETURN(queries, Matrix::zeros(static_cast<std::size_t>(im.q_heads) * s.history_rows, im.d));
      const std::size_t row = static_cast<std::size_t>(im.q_heads) * im.d;
      for (std::size_t r = 0; r < s.history_rows; ++r) {
        for (std::uint32_t h = 0; h < im.q_heads; ++h) {
          std::copy_n(s.history.data() + r * row + static_cast<std::size_t>(h) * im.d, im.d,
                      queries.f32_row(static_cast<std::size_t>(h) * s.history_rows + r));
        }
      }
      const HeadsView qv = HeadsView::hnd(queries.data(), DType::kF32, im.q_heads,
                                          static_cast<std::uint32_t>(s.history_rows), im.d);
      RA_RETURN_IF_ERROR(im.index_sequence(s, kv, end, qv, nullptr, nullptr));
    } else {
      RA_ASSIGN_OR_RETURN(queries, Matrix::zeros(static_cast<std::size_t>(im.q_heads) * (end - im.sink()), im.d));
      for (std::uint32_t h = 0; h < im.q_heads; ++h) {
        const MatrixView k = kv.k.head(h / im.group(), im.sink(), end);
        for (std::size_t r = 0; r < k.rows; ++r) {
          convert_to_f32(k.row_bytes(r), k.dtype, im.d, queries.f32_row(static_cast<std::size_t>(h) * k.rows + r));
        }
      }
      const HeadsView qv = HeadsView::hnd(queries.data(), DType::kF32, im.q_heads, end - im.sink(), im.d);
      RA_RETURN_IF_ERROR(im.index_sequence(s, kv, end, qv, nullptr, nullptr));
    }
  } else {
    for (std::size_t x = 0; x < s.indexes.size(); ++x) {
      const std::uint32_t kvh = im.kv_head_of_index(x);
      RA_RETURN_IF_ERROR(s.indexes[x]->extend(kv.k.head(kvh, im.sink(), end)));
      if (!s.estimates.empty()) {
        RA_RETURN_IF_ERROR(s.estimates[x].add(kv.k.head(kvh, im.sink(), end), kv.v.head(kvh, im.sink(), end)));
      }
    }
  }
  s.indexed_end = end;
  s.last_keys = kv.k.data;
  s.last_tokens = kv.k.num_tokens;
  return Status::OK();
  RA_API_CATCH("absorb")
}

Result<std::uint32_t> RetrievalLayer::pending(std::uint64_t id, std::uint32_t num_tokens) const {
  std::shared_lock map_lock(impl_->map_mu);
  auto it = impl_->sequences.find(id);
  if (it == impl_->sequences.end()) return Status::NotFound("sequence " + std::to_string(id) + " is not in the layer");
  const Impl::Sequence& s = *it->second;
  return impl_->window_begin(s, num_tokens) - s.indexed_end;
}

std::size_t RetrievalLayer::num_sequences() const {
  std::shared_lock lock(impl_->map_mu);
  return impl_->sequences.size();
}

Result<std::uint64_t> RetrievalLayer::index_bytes(std::uint64_t id) const {
  std::shared_lock lock(impl_->map_mu);
  auto it = impl_->sequences.find(id);
  if (it == impl_->sequences.end()) return Status::NotFound("sequence " + std::to_string(id) + " is not in the layer");
  std::uint64_t total = 0;
  for (const auto& idx : it->second->indexes) total += idx->memory_bytes();
  for (const auto& e : it->second->estimates) total += e.memory_bytes();
  return total;
}

Result<std::uint32_t> RetrievalLayer::estimates_on(std::uint64_t id) const {
  std::shared_lock lock(impl_->map_mu);
  auto it = impl_->sequences.find(id);
  if (it == impl_->sequences.end()) return Status::NotFound("sequence " + std::to_string(id) + " is not in the layer");
  std::uint32_t on = 0;
  for (std::uint8_t e : it->second->estimate_on) on += e;
  return on;
}

Result<std::uint32_t> RetrievalLayer::indexed_end(std::uint64_t id) const {
  std::shared_lock lock(impl_->map_mu);
  auto it = impl_->sequences.find(id);
  if (it == impl_->sequences.end()) return Status::NotFound("sequence " + std::to_string(id) + " is not in the layer");
  return it->second->indexed_end;
}

std::span<const std::uint32_t> RetrievalLayer::last_retrieved(std::uint32_t h) const {
  if (h >= impl_->last_retrieved.size()) return {};
  return impl_->last_retrieved[h];
}

}  // namespace ra::attention
