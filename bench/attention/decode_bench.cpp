// Retrieval attention at decode time, against full attention and the exact top-k (a full scan
// of the keys) in the same run.
//   contexts  one layer, 1 KV head x 4 query heads (GQA; --kv-heads for more), dim 128, f16 KV, contexts from 16K to
//             1M tokens: per-token latency of each method, output error, keys scored, memory per
//             token, index build time per head; --estimate adds the estimate of the rest
//   sharing   one index per KV head (pooled queries) vs one per query head: error, recall of the
//             attention mass, memory and build time, on synthetic data and on stories260K
//   absorb    insertion cost per token against the index size (16K to 256K keys)
//   batch     decode throughput of a batch of 1, 4, 16 sequences through RetrievalLayer, every
//             layer of a synthetic 8-KV-head x 4-group model, against the exact top-k
// Usage: bench_decode [--part all|contexts|sharing] [--contexts 16384,...] [--steps 64]
//                     [--query-gain G] [--data DIR]
#include <CLI/CLI.hpp>
#include <oneapi/tbb/parallel_for.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>

#include "attention/dense_attention.h"
#include "attention/retrieval_layer.h"
#include "index/graph_index.h"
#include "index/topk.h"
#include "index/vector_io.h"
#include "simd/inner_product.h"
#include "tools/eval/decode_eval.h"
#include "tools/report/table.h"
#include "tools/synthetic/synthetic.h"

namespace {

using namespace ra;
using tools::format;

std::uint32_t g_beam = attention::RetrievalConfig{}.beam;
double g_beam_recall = attention::RetrievalConfig{}.beam_recall;
double g_train_fraction = 0.5;
std::uint32_t g_kv_heads = 1;  // training queries per index, as a share of the prefill
std::uint32_t g_min_train = 8192;
KnnMode g_knn = KnnMode::kAuto;
bool g_estimate = false;  // --estimate: retrieval adds the estimate of the rest
bool g_attend_scored = false;  // --attend-scored: retrieval attends every key the search scored

int fail(const Status& s) {
  std::fprintf(stderr, "bench_decode: %s\n", s.to_string().c_str());
  return 1;
}

struct Layer {
  tools::SyntheticLayer data;
  attention::HeadsView k, v, q;
};

Result<Layer> make_layer(std::uint32_t tokens, std::uint32_t kv_heads, std::uint32_t group, double query_gain) {
  tools::SyntheticSpec spec;
  spec.n = tokens;
  spec.query_gain = query_gain;
  Layer l;
  RA_ASSIGN_OR_RETURN(l.data, tools::generate_layer(spec, kv_heads, group, DType::kF16));
  l.k = attention::HeadsView::hnd(l.data.keys.data(), DType::kF16, kv_heads, tokens, 128);
  l.v = attention::HeadsView::hnd(l.data.values.data(), DType::kF16, kv_heads, tokens, 128);
  l.q = attention::HeadsView::hnd(l.data.queries.data(), DType::kF32, kv_heads * group, tokens, 128);
  return l;
}

int contexts(const std::vector<std::uint32_t>& sizes, std::uint32_t steps, double query_gain) {
  std::printf("== decode latency by context: one layer, %u KV head(s) x 4 query heads each, dim 128, f16 KV; "
              "sink 4 + window 64, top-100, beam %u%s; %u decode steps each; query gain %.2f; training "
              "queries max(%u, %.3f x prefill), %s kNN\n",
              g_kv_heads, g_beam, g_beam_recall > 0 ? format(" (raised to recall %.2f)", g_beam_recall).c_str() : "",
              steps, query_gain, g_min_train, g_train_fraction,
              std::string(knn_mode_name(g_knn)).c_str());
  tools::Table t({"context", "build s/head", "index B/token", "KV B/token", "full ms", "top-k exact ms",
                  "retrieval ms", "speedup vs top-k", "retrieval err", "top-k err", "mass", "top-k recall",
                  "keys scored"});
  for (std::uint32_t n : sizes) {
    std::fprintf(stderr, "bench_decode: context %u...\n", n);
    auto layer = make_layer(n, g_kv_heads, 4, query_gain);
    if (!layer.ok()) return fail(layer.status());
    tools::DecodeEvalConfig cfg;
    cfg.prefill = n - steps;
    cfg.steps = steps;
    cfg.retrieval.max_train_queries =
        std::max(g_min_train, static_cast<std::uint32_t>(g_train_fraction * static_cast<double>(n)));
    cfg.retrieval.build.knn_mode = g_knn;
    cfg.retrieval.beam = g_beam;
    cfg.retrieval.beam_recall = g_beam_recall;
    cfg.retrieval.estimate_rest = g_estimate;
    cfg.retrieval.attend_scored = g_attend_scored;
    auto r = tools::evaluate_decode(layer->k, layer->v, layer->q, cfg);
    if (!r.ok()) return fail(r.status());
    const auto& full = r->methods[0];
    const auto& topk = r->methods[2];
    const auto& ret = r->methods[3];
    // Memory per token of context for the whole layer: index graphs, and the f16 K and V.
    t.add_row({std::to_string(n), format("%.1f", r->build_s / g_kv_heads),
               format("%.0f", static_cast<double>(r->index_bytes) / n), format("%.0f", 2.0 * 128 * 2 * g_kv_heads),
               format("%.2f", full.latency_ms_mean), format("%.2f", topk.latency_ms_mean),
               format("%.3f", ret.latency_ms_mean), format("%.1fx", topk.latency_ms_mean / ret.latency_ms_mean),
               format("%.2f%%", 100 * ret.rel_error_mean), format("%.2f%%", 100 * topk.rel_error_mean),
               format("%.3f", ret.mass_recall_mean), format("%.3f", ret.topk_recall_mean),
               format("%.0f", ret.scored_mean) + format(" (%.2f%%)", 100 * ret.scored_mean / n)});
  }
  std::printf("%s", t.render().c_str());
  return 0;
}

void add_sharing_rows(tools::Table& t, const std::string& data, const attention::HeadsView& k,
                      const attention::HeadsView& v, const attention::HeadsView& q, std::uint32_t prefill,
                      std::uint32_t steps, Status* status) {
  for (auto sharing : {attention::IndexSharing::kPerKvHead, attention::IndexSharing::kPerQueryHead}) {
    tools::DecodeEvalConfig cfg;
    cfg.prefill = prefill;
    cfg.steps = steps;
    cfg.retrieval.sharing = sharing;
    cfg.retrieval.beam = g_beam;
    cfg.retrieval.max_train_queries = 8192;
    auto r = tools::evaluate_decode(k, v, q, cfg);
    if (!r.ok()) {
      *status = r.status();
      return;
    }
    const auto& ret = r->methods[3];
    t.add_row({data, sharing == attention::IndexSharing::kPerKvHead ? "per KV head" : "per query head",
               std::to_string(r->index_bytes >> 10) + " KiB", format("%.2f", r->build_s),
               format("%.4f%%", 100 * ret.rel_error_mean), format("%.4f", ret.mass_recall_mean),
               format("%.4f%%", 100 * r->methods[2].rel_error_mean), format("%.0f", ret.scored_mean),
               format("%.3f", ret.latency_ms_mean)});
  }
}

int sharing(const std::string& dir, double query_gain) {
  std::printf("\n== one index per KV head (its query heads' prefill queries pooled) vs one per query head\n");
  tools::Table t({"data", "indexes", "graph memory", "build s", "retrieval err", "mass", "top-k err",
                  "keys scored/head", "ms/step"});
  Status status;
  auto layer = make_layer(32768, 2, 4, query_gain);
  if (!layer.ok()) return fail(layer.status());
  add_sharing_rows(t, "synthetic 32K, 2 KV x 4 q heads", layer->k, layer->v, layer->q, 32768 - 256, 256, &status);
  if (!status.ok()) return fail(status);
  for (int l = 0; l < 5; ++l) {
    const std::string sel = "[" + std::to_string(l) + "]";
    auto k = read_tensor(dir + "/keys.npy" + sel), v = read_tensor(dir + "/values.npy" + sel),
         q = read_tensor(dir + "/queries.npy" + sel);
    if (!k.ok()) return fail(k.status());
    if (!v.ok()) return fail(v.status());
    if (!q.ok()) return fail(q.status());
    add_sharing_rows(t, "stories260K layer " + std::to_string(l),
                     attention::HeadsView::hnd(k->data.data(), DType::kF32, 4, 2048, 8),
                     attention::HeadsView::hnd(v->data.data(), DType::kF32, 4, 2048, 8),
                     attention::HeadsView::hnd(q->data.data(), DType::kF32, 8, 2048, 8), 1536, 512, &status);
    if (!status.ok()) return fail(status);
  }
  std::printf("%s", t.render().c_str());
  return 0;
}

// Insertion cost against the index size: an index over n keys of a synthetic head (f16, dim
// 128) takes 256 keys (the first insertion, which also builds insertion's state once), then
// `batches` x 256 more, timed, as RetrievalLayer::absorb does; then one full repair pass is
// timed, the pass insertion runs after every 10% of growth, to give the amortised cost.
int absorb_cost(const std::vector<std::uint32_t>& sizes, std::uint32_t batches) {
  std::printf("== insertion cost by index size: 1 KV head, dim 128, f16 keys, %u batches of 256 tokens\n", batches);
  tools::Table t({"index keys", "build s", "first batch ms", "insert us/token", "repair pass ms",
                  "amortised us/token"});
  for (std::uint32_t n : sizes) {
    const std::uint32_t extra = 256 * (batches + 1);
    auto layer = make_layer(n + extra, 1, 1, 1.5);
    if (!layer.ok()) return fail(layer.status());
    const MatrixView keys = layer->k.head(0), queries = layer->q.head(0, 0, n);
    const std::size_t train = std::min<std::size_t>(n, std::max<std::size_t>(g_min_train, static_cast<std::size_t>(g_train_fraction * n)));
    auto q = Matrix::zeros(train, 128);
    if (!q.ok()) return fail(q.status());
    for (std::size_t i = 0; i < train; ++i) std::copy_n(queries.f32_row(i * n / train), 128, q->f32_row(i));
    BuildConfig cfg;
    cfg.knn_mode = g_knn;
    const auto t0 = std::chrono::steady_clock::now();
    auto index = GraphIndex::build(keys.slice_rows(0, n), q->view(), cfg, KeyOwnership::kReference);
    if (!index.ok()) return fail(index.status());
    const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The first insertion also counts in-degrees and the spanning tree (once per index).
    const auto t1 = std::chrono::steady_clock::now();
    if (Status st = (*index)->extend(keys.slice_rows(0, n + 256)); !st.ok()) return fail(st);
    const double first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
    const auto t3 = std::chrono::steady_clock::now();
    for (std::uint32_t b = 2; b <= batches + 1; ++b) {
      if (Status st = (*index)->extend(keys.slice_rows(0, n + 256 * b)); !st.ok()) return fail(st);
    }
    const double insert_us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t3).count() / (256.0 * batches);
    const auto t2 = std::chrono::steady_clock::now();
    if (Status st = (*index)->repair(); !st.ok()) return fail(st);
    const double repair_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t2).count();
    t.add_row({std::to_string(n), format("%.1f", build_s), format("%.1f", first_ms), format("%.1f", insert_us),
               format("%.1f", repair_ms),
               format("%.1f", insert_us + 1000.0 * repair_ms / (0.1 * n))});
  }
  std::printf("%s", t.render().c_str());
  return 0;
}

// Decode throughput of a batch of sequences through RetrievalLayer (one per transformer layer),
// against the exact top-k of every (sequence, head) in the same run, both on the same TBB
// threads. A synthetic model of `layers` layers x 8 KV heads x 4 query heads, dim 128, f16 KV,
// every sequence `context` tokens (its own indexes; the caches of a layer share one synthetic
// head set, which changes nothing for the timing). Time per step is every layer's attention.
int batch_throughput(std::uint32_t context, std::uint32_t layers, const std::vector<std::uint32_t>& batches,
                     std::uint32_t steps) {
  constexpr std::uint32_t kKv = 8, kGroup = 4, kQ = kKv * kGroup, kD = 128;
  std::printf("== decode throughput: %u layers x %u KV heads x %u query heads, dim 128, f16 KV, %u tokens per "
              "sequence, top-100, beam %u, sink 4 + window 64; %u steps\n",
              layers, kKv, kQ, context, g_beam, steps);
  std::vector<Layer> data;
  for (std::uint32_t l = 0; l < layers; ++l) {
    auto layer = make_layer(context + steps * static_cast<std::uint32_t>(batches.size()), kKv, kGroup, 1.5);
    if (!layer.ok()) return fail(layer.status());
    data.push_back(std::move(*layer));
  }
  const std::uint32_t max_batch = *std::max_element(batches.begin(), batches.end());
  attention::RetrievalConfig cfg;
  cfg.beam = g_beam;
  cfg.max_train_queries = std::max(g_min_train, static_cast<std::uint32_t>(g_train_fraction * context));
  cfg.build.knn_mode = g_knn;
  std::vector<std::unique_ptr<attention::RetrievalLayer>> model;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint32_t l = 0; l < layers; ++l) {
    auto layer = attention::RetrievalLayer::create(kQ, kKv, kD, DType::kF16, cfg);
    if (!layer.ok()) return fail(layer.status());
    attention::KvView kv{data[l].k, data[l].v};
    kv.k.num_tokens = kv.v.num_tokens = context;
    attention::HeadsView q = data[l].q;
    q.num_tokens = context;
    for (std::uint32_t s = 0; s < max_batch; ++s) {
      std::fprintf(stderr, "bench_decode: building layer %u sequence %u\n", l, s);
      if (Status st = (*layer)->add_sequence(s, kv, q); !st.ok()) return fail(st);
    }
    model.push_back(std::move(*layer));
  }
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  tools::Table t({"batch", "retrieval tokens/s", "exact top-k tokens/s", "speedup", "ms/step retrieval",
                  "ms/step top-k", "index MiB"});
  const float scale = 1.0f / std::sqrt(128.0f);
  std::uint32_t done = 0;  // steps taken so far: caches only grow, so each batch size goes on from there
  for (std::uint32_t b : batches) {
    double ret_ms = 0, top_ms = 0;
    std::vector<float> o(static_cast<std::size_t>(b) * kQ * kD), lse(static_cast<std::size_t>(b) * kQ);
    for (std::uint32_t step = 0; step < steps; ++step) {
      const std::uint32_t T = context + done + step + 1;
      for (std::uint32_t l = 0; l < layers; ++l) {
        attention::KvView kv{data[l].k, data[l].v};
        kv.k.num_tokens = kv.v.num_tokens = T;
        const float* q = data[l].q.head(0, T - 1, T).f32_row(0);
        const std::int64_t qs = data[l].q.head_stride;
        std::vector<attention::SequenceQuery> batch;
        for (std::uint32_t s = 0; s < b; ++s) {
          batch.push_back({s, kv, q, qs, o.data() + s * kQ * kD, kD, lse.data() + s * kQ});
        }
        auto t1 = std::chrono::steady_clock::now();
        if (Status st = model[l]->attend(batch, scale, attention::Coverage::kAll); !st.ok()) return fail(st);
        ret_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
        // The exact top-k: for each (sequence, head), score every key, keep the best 100, attend.
        t1 = std::chrono::steady_clock::now();
        tbb::parallel_for(std::uint32_t{0}, b * kQ, [&](std::uint32_t w) {
          thread_local std::vector<float> scores;
          thread_local attention::AttendScratch scratch;
          thread_local TopK heap;
          thread_local std::vector<Label> ids(100);
          thread_local std::vector<float> top_scores(100);
          thread_local std::vector<std::uint32_t> tokens;
          const std::uint32_t h = w % kQ, kvh = h / kGroup;
          const float* qh = q + h * qs;
          const MatrixView keys = kv.k.head(kvh), values = kv.v.head(kvh);
          scores.resize(T);
          simd::dot_rows(qh, keys.data, keys.dtype, keys.stride, T, kD, scores.data());
          heap.reset(100);
          heap.push_all(scores.data() + 4, T - 4 - 64, 4);
          heap.extract(ids.data(), top_scores.data());
          tokens.assign(ids.begin(), ids.end());
          for (std::uint32_t j = T - 64; j < T; ++j) tokens.push_back(j);
          for (std::uint32_t j = 0; j < 4; ++j) tokens.push_back(j);
          float* out = o.data() + static_cast<std::size_t>(w) * kD;
          attention::attend_ids(qh, keys, values, tokens, scale, scratch, out, &lse[w]);
        });
        top_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
      }
    }
    done += steps;
    std::uint64_t bytes = 0;
    for (auto& layer : model) {
      for (std::uint32_t s = 0; s < b; ++s) bytes += layer->index_bytes(s).value();
    }
    const double steps_d = steps;
    t.add_row({std::to_string(b), format("%.0f", 1000.0 * b * steps_d / ret_ms), format("%.0f", 1000.0 * b * steps_d / top_ms),
               format("%.1fx", top_ms / ret_ms), format("%.2f", ret_ms / steps_d), format("%.2f", top_ms / steps_d),
               format("%.0f", static_cast<double>(bytes) / (1 << 20))});
  }
  std::printf("%s(index build for %u layers x %u sequences: %.0f s)\n", t.render().c_str(), layers, max_batch, build_s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Retrieval attention decode benchmark"};
  std::string part = "all", data = "../shared/data/stories260K/ctx2048";
  std::vector<std::uint32_t> sizes = {16384, 32768, 65536, 131072, 262144, 524288, 1048576};
  std::uint32_t steps = 64;
  double query_gain = 1.5;
  app.add_option("--part", part)->check(CLI::IsMember({"all", "contexts", "sharing", "absorb", "batch"}));
  std::uint32_t batch_context = 8192, batch_layers = 2;
  std::vector<std::uint32_t> batch_sizes = {1, 4, 16};
  app.add_option("--batch-context", batch_context, "Tokens per sequence of --part batch")->capture_default_str();
  app.add_option("--batch-layers", batch_layers, "Layers of --part batch")->capture_default_str();
  app.add_option("--batch-sizes", batch_sizes, "Batch sizes of --part batch")->delimiter(',');
  std::vector<std::uint32_t> absorb_sizes = {16384, 65536, 262144};
  app.add_option("--absorb-sizes", absorb_sizes, "Index sizes of --part absorb")->delimiter(',');
  app.add_option("--contexts", sizes)->delimiter(',');
  app.add_option("--steps", steps)->capture_default_str();
  app.add_option("--query-gain", query_gain, "Synthetic query scale (1.5: a sparse head)")->capture_default_str();
  app.add_option("--data", data)->capture_default_str();
  app.add_option("--beam", g_beam, "Search beam")->capture_default_str();
  app.add_option("--beam-recall", g_beam_recall,
                 "contexts: each index's beam measured, from --beam up, to reach this recall@100 on held-out "
                 "prefill queries (0: the fixed beam)")->capture_default_str();
  app.add_option("--kv-heads", g_kv_heads, "KV heads of the layer (4 query heads each)")->capture_default_str();
  app.add_option("--train-fraction", g_train_fraction, "Training queries per index / prefill")->capture_default_str();
  app.add_option("--min-train", g_min_train, "At least this many training queries")->capture_default_str();
  std::string knn = "auto";
  app.add_option("--knn", knn, "Training-query kNN: auto, exact, bootstrap or clustered")
      ->check(CLI::IsMember({"auto", "exact", "bootstrap", "clustered"}))
      ->capture_default_str();
  app.add_flag("--attend-scored", g_attend_scored, "Retrieval attends every key the search scored, not only the top-k");
  app.add_flag("--estimate", g_estimate, "contexts: retrieval adds the estimate of the rest (--query-gain 0.5 heads)");
  CLI11_PARSE(app, argc, argv);
  parse_knn_mode(knn, &g_knn);  // checked above
  int rc = 0;
  if (part == "all" || part == "sharing") rc |= sharing(data, query_gain);
  if (part == "all" || part == "contexts") rc |= contexts(sizes, steps, query_gain);
  if (part == "all" || part == "absorb") rc |= absorb_cost(absorb_sizes, 4);
  if (part == "all" || part == "batch") rc |= batch_throughput(batch_context, batch_layers, batch_sizes, 16);
  return rc;
}
