// Retrieval attention against the oracles: exact attention in double, attend_ranges over the
// static set, and FlatIndex's exact top-k attended with attend_ids. With every key retrieved it
// must equal full attention; GQA, strided and f16/bf16 views must agree with f32 copies; bad
// shapes are errors.
#include "attention/retrieval_decoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <limits>
#include <random>

#include "attention/cpu_dense_backend.h"
#include "attention/dense_attention.h"
#include "index/vector_io.h"
#include "attention/merge_state.h"
#include "index/flat_index.h"

namespace ra::attention {
namespace {

// A (heads, T, d) f32 block of random vectors with a little structure (a per-head offset).
std::vector<float> random_block(std::uint32_t heads, std::uint32_t tokens, std::uint32_t d, std::uint32_t seed,
                                float offset = 0.5f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(heads) * tokens * d);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = normal(rng) + offset * static_cast<float>(i % d == 0);
  return v;
}

// Reference: attention in double over tokens [0, len) of one head.
std::vector<double> reference(const float* q, const HeadsView& k, const HeadsView& v, std::uint32_t h,
                              std::uint32_t len, double scale) {
  const std::uint32_t d = k.head_dim;
  std::vector<double> s(len), o(d, 0.0);
  std::vector<float> kr(d), vr(d);
  double m = -1e300;
  for (std::uint32_t j = 0; j < len; ++j) {
    convert_to_f32(k.head(h).row_bytes(j), k.dtype, d, kr.data());
    double dot = 0;
    for (std::uint32_t c = 0; c < d; ++c) dot += static_cast<double>(q[c]) * kr[c];
    s[j] = scale * dot;
    m = std::max(m, s[j]);
  }
  double z = 0;
  for (std::uint32_t j = 0; j < len; ++j) {
    const double w = std::exp(s[j] - m);
    z += w;
    convert_to_f32(v.head(h).row_bytes(j), v.dtype, d, vr.data());
    for (std::uint32_t c = 0; c < d; ++c) o[c] += w * vr[c];
  }
  for (double& x : o) x /= z;
  return o;
}

double rel_err(const float* o, const std::vector<double>& ref) {
  double num = 0, den = 0;
  for (std::size_t c = 0; c < ref.size(); ++c) {
    num += (o[c] - ref[c]) * (o[c] - ref[c]);
    den += ref[c] * ref[c];
  }
  return std::sqrt(num / den);
}

TEST(DenseAttention, RangesAndIdsMatchTheReferenceForEveryDtype) {
  const std::uint32_t T = 300, d = 24;
  const auto kf = random_block(1, T, d, 1), vf = random_block(1, T, d, 2), qf = random_block(1, 1, d, 3);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    std::vector<std::byte> kb(kf.size() * dtype_size(t)), vb(vf.size() * dtype_size(t));
    convert_from_f32(kf.data(), kf.size(), t, kb.data());
    convert_from_f32(vf.data(), vf.size(), t, vb.data());
    const HeadsView k = HeadsView::hnd(kb.data(), t, 1, T, d), v = HeadsView::hnd(vb.data(), t, 1, T, d);
    const float scale = 0.2f;
    AttendScratch scratch;
    std::vector<float> o(d), o_ids(d);
    float lse, lse_ids;
    const TokenRange ranges[2] = {{0, 100}, {100, T}};
    attend_ranges(qf.data(), k.head(0), v.head(0), ranges, scale, scratch, o.data(), &lse);
    EXPECT_LT(rel_err(o.data(), reference(qf.data(), k, v, 0, T, scale)), 1e-5) << dtype_name(t);
    std::vector<std::uint32_t> ids(T);
    for (std::uint32_t j = 0; j < T; ++j) ids[j] = (j * 7) % T;  // a permutation
    attend_ids(qf.data(), k.head(0), v.head(0), ids, scale, scratch, o_ids.data(), &lse_ids);
    for (std::uint32_t c = 0; c < d; ++c) EXPECT_NEAR(o_ids[c], o[c], 1e-5);
    EXPECT_NEAR(lse_ids, lse, 1e-4);
  }
  // An empty set is o = 0, lse = -inf.
  const HeadsView k = HeadsView::hnd(kf.data(), DType::kF32, 1, T, d);
  AttendScratch scratch;
  std::vector<float> o(d, 5.0f);
  float lse = 0;
  attend_ids(qf.data(), k.head(0), k.head(0), {}, 1.0f, scratch, o.data(), &lse);
  EXPECT_EQ(lse, -std::numeric_limits<float>::infinity());
  for (float x : o) EXPECT_EQ(x, 0.0f);
}

struct Sequence {
  std::uint32_t kv_heads, q_heads, T, d;
  std::vector<float> k, v, q;
  Sequence(std::uint32_t kvh, std::uint32_t qh, std::uint32_t tokens, std::uint32_t dim)
      : kv_heads(kvh), q_heads(qh), T(tokens), d(dim), k(random_block(kvh, tokens, dim, 11)),
        v(random_block(kvh, tokens, dim, 12)), q(random_block(qh, tokens, dim, 13)) {}
  HeadsView keys() const { return HeadsView::hnd(k.data(), DType::kF32, kv_heads, T, d); }
  HeadsView values() const { return HeadsView::hnd(v.data(), DType::kF32, kv_heads, T, d); }
  HeadsView queries() const { return HeadsView::hnd(q.data(), DType::kF32, q_heads, T, d); }
};

RetrievalConfig small_config(std::uint32_t top_k) {
  RetrievalConfig c;
  c.static_set = {4, 16};
  c.top_k = top_k;
  c.beam = top_k;
  c.merge_batch = 8;
  c.build.max_degree = 16;
  c.build.query_knn = 16;
  c.build.build_beam = 32;
  c.build.num_entries = 8;
  return c;
}

// What one replayed decode step gave, per query head, against the oracles.
struct HeadStep {
  double retrieval_error = 0;  // decoder output vs exact attention over every token (double)
  double static_error = 0;     // the static set alone (attend_ranges over sinks + window)
  double topk_error = 0;       // static set + the exact top-k of the rest (FlatIndex, attend_ids)
  std::vector<float> output;   // the decoder's output
};

// Replays decoding: builds a decoder from the first `prefill` tokens, then decodes tokens
// prefill .. prefill + steps - 1 one by one, the cache growing by one token per step.
// `dense` makes the decoder's dense backend (the CPU one when null).
std::vector<HeadStep> replay(const HeadsView& k, const HeadsView& v, const HeadsView& q, std::uint32_t prefill,
                             std::uint32_t steps, const RetrievalConfig& cfg, std::uint64_t* keys_scored = nullptr,
                             const std::function<std::unique_ptr<DenseAttentionBackend>()>& dense = nullptr) {
  auto cache = [&](std::uint32_t tokens) {
    KvView kv{k, v};
    kv.k.num_tokens = kv.v.num_tokens = tokens;
    return kv;
  };
  HeadsView prefill_q = q;
  prefill_q.num_tokens = prefill;
  auto decoder = RetrievalDecoder::build(cache(prefill), prefill_q, cfg, dense ? dense() : nullptr);
  EXPECT_TRUE(decoder.ok()) << decoder.status().to_string();
  if (!decoder.ok()) return {};
  const std::uint32_t d = k.head_dim, H = q.num_heads, group = H / k.num_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<HeadStep> out;
  std::vector<float> qs(static_cast<std::size_t>(H) * d), o(qs.size()), o_static(d), o_top(d), o_topk(d);
  AttendScratch scratch;
  for (std::uint32_t t = prefill; t < prefill + steps; ++t) {
    const KvView kv = cache(t + 1);
    for (std::uint32_t h = 0; h < H; ++h) std::copy_n(q.head(h, t, t + 1).f32_row(0), d, qs.data() + h * d);
    DecodeStats stats;
    DecodeTrace trace;
    EXPECT_TRUE((*decoder)->decode_step(kv, qs.data(), scale, o.data(), &stats, &trace).ok());
    if ((*decoder)->pending(t + 1) >= cfg.merge_batch) {
      EXPECT_TRUE((*decoder)->absorb(kv).ok());
    }
    if (keys_scored != nullptr) *keys_scored += stats.keys_scored;
    for (std::uint32_t h = 0; h < H; ++h) {
      const float* qh = qs.data() + h * d;
      const std::uint32_t kvh = h / group;
      HeadStep r;
      r.output.assign(o.begin() + h * d, o.begin() + (h + 1) * d);
      const std::vector<double> exact = reference(qh, kv.k, kv.v, kvh, t + 1, scale);
      r.retrieval_error = rel_err(r.output.data(), exact);
      const TokenRange statics[2] = {trace.sinks, trace.window};
      float lse_static, lse_top, lse;
      attend_ranges(qh, kv.k.head(kvh), kv.v.head(kvh), statics, scale, scratch, o_static.data(), &lse_static);
      r.static_error = rel_err(o_static.data(), exact);
      const std::uint32_t rest_begin = trace.sinks.end, rest_end = trace.window.begin;
      o_topk = o_static;
      if (rest_end > rest_begin) {
        auto flat = FlatIndex::over(kv.k.head(kvh, rest_begin, rest_end));
        EXPECT_TRUE(flat.ok());
        SearchResults top;
        EXPECT_TRUE(flat->search(MatrixView::f32(qh, 1, d), {std::min(cfg.top_k, rest_end - rest_begin)}, &top).ok());
        std::vector<std::uint32_t> ids;
        for (Label id : top.ids) ids.push_back(rest_begin + static_cast<std::uint32_t>(id));
        attend_ids(qh, kv.k.head(kvh), kv.v.head(kvh), ids, scale, scratch, o_top.data(), &lse_top);
        merge_attn_states(o_static.data(), &lse_static, o_top.data(), &lse_top, o_topk.data(), &lse, 1, d, d);
      }
      r.topk_error = rel_err(o_topk.data(), exact);
      out.push_back(std::move(r));
    }
  }
  return out;
}

double mean_of(const std::vector<HeadStep>& r, double HeadStep::*field) {
  double sum = 0;
  for (const HeadStep& s : r) sum += s.*field;
  return r.empty() ? 0.0 : sum / static_cast<double>(r.size());
}
double max_of(const std::vector<HeadStep>& r, double HeadStep::*field) {
  double m = 0;
  for (const HeadStep& s : r) m = std::max(m, s.*field);
  return m;
}

TEST(RetrievalDecoder, RetrievingEveryKeyEqualsFullAttentionWhileDecoding) {
  // 2 kv heads x 3 query heads each (GQA); 60 decode steps, so tokens evicted from the window
  // are scanned as a tail and merged into the indexes several times (merge_batch 8).
  const Sequence s(2, 6, 360, 16);
  for (IndexSharing sharing : {IndexSharing::kPerKvHead, IndexSharing::kPerQueryHead}) {
    RetrievalConfig cfg = small_config(400);  // more than any index holds: every key
    cfg.sharing = sharing;
    const auto r = replay(s.keys(), s.values(), s.queries(), 300, 60, cfg);
    ASSERT_EQ(r.size(), 60u * 6);
    EXPECT_LT(max_of(r, &HeadStep::retrieval_error), 1e-5);
    EXPECT_LT(max_of(r, &HeadStep::topk_error), 1e-5);  // the oracle agrees with itself
  }
}

// A backend that finishes only in wait(), as a GPU one does, and leaves NaN in the outputs
// until then: a decoder that merged before waiting, or lost the step's arguments, would differ.
class DeferredBackend final : public DenseAttentionBackend {
 public:
  Status launch(const DenseStep& step, float* o, float* lse) override {
    step_ = step;
    o_ = o;
    lse_ = lse;
    const std::size_t n = static_cast<std::size_t>(step.num_q_heads) * step.host.k.head_dim;
    std::fill_n(o, n, std::numeric_limits<float>::quiet_NaN());
    std::fill_n(lse, step.num_q_heads, std::numeric_limits<float>::quiet_NaN());
    ++launches_;
    return Status::OK();
  }
  Status wait() override { return cpu_.launch(step_, o_, lse_); }

  static inline int launches_ = 0;

 private:
  CpuDenseBackend cpu_;
  DenseStep step_;
  float* o_ = nullptr;
  float* lse_ = nullptr;
};

TEST(RetrievalDecoder, AnAsynchronousBackendGivesTheSameSteps) {
  const Sequence s(2, 4, 300, 16);
  const RetrievalConfig cfg = small_config(32);
  const auto cpu = replay(s.keys(), s.values(), s.queries(), 240, 40, cfg);
  DeferredBackend::launches_ = 0;
  const auto deferred = replay(s.keys(), s.values(), s.queries(), 240, 40, cfg, nullptr,
                               [] { return std::make_unique<DeferredBackend>(); });
  EXPECT_EQ(DeferredBackend::launches_, 40);
  ASSERT_EQ(cpu.size(), deferred.size());
  ASSERT_EQ(cpu.size(), 40u * 4);
  for (std::size_t i = 0; i < cpu.size(); ++i) EXPECT_EQ(cpu[i].output, deferred[i].output) << "step x head " << i;
}

TEST(RetrievalDecoder, PartialRetrievalIsCloseAndNeverWorseThanStaticAlone) {
  const Sequence s(1, 2, 1200, 16);
  RetrievalConfig cfg = small_config(64);
  cfg.beam = 96;
  std::uint64_t scored = 0;
  const auto r = replay(s.keys(), s.values(), s.queries(), 1100, 100, cfg, &scored);
  ASSERT_EQ(r.size(), 200u);
  const double ret = mean_of(r, &HeadStep::retrieval_error), stat = mean_of(r, &HeadStep::static_error),
               topk = mean_of(r, &HeadStep::topk_error);
  EXPECT_LT(ret, stat);
  EXPECT_LT(ret, 2 * topk + 1e-3);
  EXPECT_LT(static_cast<double>(scored) / 200.0, 1200.0);  // keys scored per head and step
}

TEST(RetrievalDecoder, AttendingEveryScoredKeyErrsLessAtTheSameCost) {
  const Sequence s(1, 2, 1200, 16);
  RetrievalConfig cfg = small_config(16);
  cfg.beam = 48;
  std::uint64_t scored_top = 0, scored_all = 0;
  const auto top = replay(s.keys(), s.values(), s.queries(), 1100, 100, cfg, &scored_top);
  cfg.attend_scored = true;
  const auto all = replay(s.keys(), s.values(), s.queries(), 1100, 100, cfg, &scored_all);
  ASSERT_EQ(top.size(), all.size());
  EXPECT_EQ(scored_top, scored_all);  // the same searches
  EXPECT_LT(mean_of(all, &HeadStep::retrieval_error), 0.8 * mean_of(top, &HeadStep::retrieval_error));
}

TEST(RetrievalDecoder, StridedAndHalfPrecisionViewsAgreeWithF32Copies) {
  const Sequence s(2, 4, 200, 8);
  // The same cache laid out token-major (NHD) with padding: element (t, h, c) at t*24 + h*12 + c.
  std::vector<float> k_nhd(200 * 24, 99.0f), v_nhd(200 * 24, 99.0f);
  for (std::uint32_t t = 0; t < 200; ++t)
    for (std::uint32_t h = 0; h < 2; ++h)
      for (std::uint32_t c = 0; c < 8; ++c) {
        k_nhd[t * 24 + h * 12 + c] = s.k[(h * 200 + t) * 8 + c];
        v_nhd[t * 24 + h * 12 + c] = s.v[(h * 200 + t) * 8 + c];
      }
  const HeadsView kn{k_nhd.data(), DType::kF32, 200, 2, 8, 24, 12}, vn{v_nhd.data(), DType::kF32, 200, 2, 8, 24, 12};
  const RetrievalConfig cfg = small_config(32);
  const auto a = replay(s.keys(), s.values(), s.queries(), 160, 40, cfg);
  const auto b = replay(kn, vn, s.queries(), 160, 40, cfg);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t c = 0; c < 8; ++c) EXPECT_NEAR(a[i].output[c], b[i].output[c], 1e-6) << i;
  }
  // An f16 cache against the f32 cache it was rounded from, every key retrieved: both equal
  // their own exact attention, and differ from each other only by the f16 rounding of K and V
  // (relative 2^-11 per element), which stays below 1e-2 relative on the outputs.
  std::vector<Float16> kh(s.k.size()), vh(s.v.size());
  convert_from_f32(s.k.data(), s.k.size(), DType::kF16, kh.data());
  convert_from_f32(s.v.data(), s.v.size(), DType::kF16, vh.data());
  const RetrievalConfig all = small_config(400);
  const auto h16 = replay(HeadsView::hnd(kh.data(), DType::kF16, 2, 200, 8),
                          HeadsView::hnd(vh.data(), DType::kF16, 2, 200, 8), s.queries(), 160, 40, all);
  const auto h32 = replay(s.keys(), s.values(), s.queries(), 160, 40, all);
  ASSERT_EQ(h16.size(), h32.size());
  EXPECT_LT(max_of(h16, &HeadStep::retrieval_error), 1e-5);
  EXPECT_LT(max_of(h32, &HeadStep::retrieval_error), 1e-5);
  double worst = 0;
  for (std::size_t i = 0; i < h16.size(); ++i) {
    const std::vector<double> ref(h32[i].output.begin(), h32[i].output.end());
    worst = std::max(worst, rel_err(h16[i].output.data(), ref));
  }
  EXPECT_GT(worst, 0.0);  // the rounding is visible, so the comparison is not vacuous
  EXPECT_LT(worst, 1e-2);
}

TEST(RetrievalDecoder, RealAttentionStaysUnderTheStatedBound) {
  const std::string root = std::string(RA_DATA_DIR) + "/stories260K/ctx2048";
  if (!std::filesystem::exists(root + "/keys.npy")) GTEST_SKIP() << "no " << root << " here";
  auto k = read_tensor(root + "/keys.npy[1]"), v = read_tensor(root + "/values.npy[1]"),
       q = read_tensor(root + "/queries.npy[1]");
  ASSERT_TRUE(k.ok() && v.ok() && q.ok());
  const RetrievalConfig cfg;  // the defaults of ra decode: sink 4, window 64, top-100
  const auto r = replay(HeadsView::hnd(k->data.data(), DType::kF32, 4, 2048, 8),
                        HeadsView::hnd(v->data.data(), DType::kF32, 4, 2048, 8),
                        HeadsView::hnd(q->data.data(), DType::kF32, 8, 2048, 8), 1536, 128, cfg);
  ASSERT_EQ(r.size(), 128u * 8);
  // Stated in the README: mean relative error under 1%, and far below the static set's.
  EXPECT_LT(mean_of(r, &HeadStep::retrieval_error), 0.01);
  EXPECT_LT(mean_of(r, &HeadStep::retrieval_error), 0.1 * mean_of(r, &HeadStep::static_error));
}

TEST(RetrievalDecoder, ShortPromptStartsWithoutIndexesThatAbsorbBuilds) {
  // 12 prompt tokens, fewer than 4 sinks + 16 window: every step attends exactly until the
  // first absorb builds the indexes from the tokens that left the window.
  const Sequence s(2, 4, 200, 16);
  RetrievalConfig cfg = small_config(400);
  const auto r = replay(s.keys(), s.values(), s.queries(), 12, 188, cfg);
  ASSERT_EQ(r.size(), 188u * 4);
  EXPECT_LT(max_of(r, &HeadStep::retrieval_error), 1e-5);
  KvView kv{s.keys(), s.values()};
  kv.k.num_tokens = kv.v.num_tokens = 12;
  HeadsView q = s.queries();
  q.num_tokens = 12;
  auto dec = RetrievalDecoder::build(kv, q, cfg);
  ASSERT_TRUE(dec.ok());
  EXPECT_EQ((*dec)->index_bytes(), 0u);
  kv.k.num_tokens = kv.v.num_tokens = 200;
  EXPECT_EQ((*dec)->pending(200), 200u - 16u - 4u);
  ASSERT_TRUE((*dec)->absorb(kv).ok());
  EXPECT_GT((*dec)->index_bytes(), 0u);
  EXPECT_EQ((*dec)->indexed_end(), 200u - 16u);
}

TEST(RetrievalDecoder, BadShapesAreErrors) {
  const Sequence s(2, 6, 100, 8);
  const KvView kv{s.keys(), s.values()};
  // 5 query heads do not group over 2 kv heads.
  HeadsView q5 = s.queries();
  q5.num_heads = 5;
  EXPECT_EQ(RetrievalDecoder::build(kv, q5, small_config(8)).status().code(), StatusCode::kInvalidArgument);
  HeadsView short_prefill = s.queries();
  KvView tiny = kv;
  tiny.k.num_tokens = tiny.v.num_tokens = 20;  // 4 sinks + 16 window leave nothing
  // A prefill no longer than the static set is no error: the indexes start empty.
  EXPECT_TRUE(RetrievalDecoder::build(tiny, short_prefill, small_config(8)).ok());
  KvView mismatched = kv;
  mismatched.v.head_dim = 4;
  EXPECT_EQ(RetrievalDecoder::build(mismatched, s.queries(), small_config(8)).status().code(), StatusCode::kInvalidArgument);
  auto dec = RetrievalDecoder::build(kv, s.queries(), small_config(8));
  ASSERT_TRUE(dec.ok());
  std::vector<float> q(6 * 8, 0.1f), out(6 * 8);
  KvView shrunk = kv;
  shrunk.k.num_tokens = shrunk.v.num_tokens = 90;
  EXPECT_EQ((*dec)->decode_step(shrunk, q.data(), 0.3f, out.data()).code(), StatusCode::kInvalidArgument);
  KvView other_dtype = kv;
  other_dtype.k.dtype = DType::kF16;
  EXPECT_EQ((*dec)->decode_step(other_dtype, q.data(), 0.3f, out.data()).code(), StatusCode::kInvalidArgument);
  q[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ((*dec)->decode_step(kv, q.data(), 0.3f, out.data()).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ra::attention
