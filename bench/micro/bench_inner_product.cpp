// The inner-product kernels against their bounds, measured in the same run. Scores a 131072 x
// 128 matrix (f32, f16, bf16) with the rows kernel and with gather over random ids, at every
// SIMD level, next to a streaming read of the same bytes (with the same software prefetch), and
// prints each kernel's GB/s as a share of that read; the rows kernel also over its first 8192
// rows (4 MiB of f32, cache-resident: the size the dispatch calibrates on; rates only); the
// block kernel (64 queries x all rows, FlatIndex's tile) in GFLOP/s against OpenBLAS sgemm on
// the same shapes when the build found it. Prints the CPU, the level dispatch chose for each kernel, and whether it was the fastest
// measured here. Single-threaded: one core's bandwidth is the bound a search thread sees.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "index/aligned_allocator.h"
#include "simd/inner_product.h"
#include "simd/simd_level.h"
#if RA_WITH_OPENBLAS
#include <cblas.h>
#endif

namespace {

using ra::AlignedVector;
using ra::DType;
using ra::simd::SimdLevel;

constexpr std::size_t kRows = 131072, kDim = 128;

struct Data {
  AlignedVector<unsigned char> bytes[ra::kNumDTypes];
  std::vector<float> query = std::vector<float>(kDim);
  std::vector<std::uint32_t> ids = std::vector<std::uint32_t>(kRows);
  std::vector<float> out = std::vector<float>(kRows);
  Data() {
    std::mt19937 rng(1);
    std::normal_distribution<float> normal;
    std::vector<float> f32(kRows * kDim);
    for (float& x : f32) x = normal(rng);
    for (float& x : query) x = normal(rng);
    for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
      auto& b = bytes[static_cast<int>(t)];
      b.resize(f32.size() * ra::dtype_size(t));
      ra::convert_from_f32(f32.data(), f32.size(), t, b.data());
    }
    std::iota(ids.begin(), ids.end(), 0u);
    std::shuffle(ids.begin(), ids.end(), rng);
  }
};
Data& data() {
  static Data d;
  return d;
}

// The bound: read every byte once, summing 64-bit words (integer adds vectorise freely) with
// the same software prefetch distance as the rows kernel; cloned per ISA so the read uses
// registers as wide as the kernels' loads.
__attribute__((target_clones("avx512f", "avx2", "default"))) std::uint64_t sum_words(
    const std::uint64_t* w, std::size_t words) {
  constexpr std::size_t kAhead = 12288 / 8, kLine = 8;
  std::uint64_t s[8] = {};
  for (std::size_t i = 0; i + kLine <= words; i += kLine) {
    __builtin_prefetch(w + i + kAhead, 0, 3);
    for (std::size_t j = 0; j < kLine; ++j) s[j] += w[i + j];
  }
  return s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

constexpr std::size_t kWarmRows = 8192;

void BM_StreamRead(benchmark::State& state, DType t) {
  const auto& b = data().bytes[static_cast<int>(t)];
  const std::size_t words = b.size() / 8;
  AlignedVector<std::uint64_t> w(words);
  std::memcpy(w.data(), b.data(), words * 8);
  for (auto _ : state) benchmark::DoNotOptimize(sum_words(w.data(), words));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * words * 8));
}

void BM_Rows(benchmark::State& state, SimdLevel level, DType t, std::size_t rows) {
  ra::simd::ScopedSimdLevel scoped(level);
  if (!scoped.ok()) return state.SkipWithError("level not supported");
  Data& d = data();
  for (auto _ : state) {
    ra::simd::dot_rows(d.query.data(), d.bytes[static_cast<int>(t)].data(), t, kDim, rows, kDim,
                       d.out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * rows * kDim * ra::dtype_size(t)));
}

constexpr std::size_t kBlockQueries = 64, kBlockRows = 1024;
constexpr double kBlockFlops = 2.0 * kBlockQueries * kRows * kDim;

// The exact scan's inner loop: 64 queries against every row, in tiles of 1024 rows.
void BM_Block(benchmark::State& state, SimdLevel level, DType t) {
  ra::simd::ScopedSimdLevel scoped(level);
  if (!scoped.ok()) return state.SkipWithError("level not supported");
  Data& d = data();
  std::vector<float> queries(kBlockQueries * kDim), out(kBlockQueries * kBlockRows);
  for (std::size_t i = 0; i < queries.size(); ++i) queries[i] = d.query[i % kDim] * (1.0f + 1e-3f * static_cast<float>(i / kDim));
  const auto* rows = d.bytes[static_cast<int>(t)].data();
  const std::size_t row_bytes = kDim * ra::dtype_size(t);
  for (auto _ : state) {
    for (std::size_t r = 0; r < kRows; r += kBlockRows) {
      ra::simd::dot_block(queries.data(), kDim, kBlockQueries, rows + r * row_bytes, t, kDim, kBlockRows, kDim,
                          out.data(), kBlockRows);
      benchmark::ClobberMemory();
    }
  }
  state.counters["GFLOPs"] = benchmark::Counter(kBlockFlops * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}

#if RA_WITH_OPENBLAS
// The same products as one sgemm per tile (f32), OpenBLAS on one thread.
void BM_Sgemm(benchmark::State& state) {
  openblas_set_num_threads(1);
  Data& d = data();
  std::vector<float> queries(kBlockQueries * kDim), out(kBlockQueries * kBlockRows);
  for (std::size_t i = 0; i < queries.size(); ++i) queries[i] = d.query[i % kDim] * (1.0f + 1e-3f * static_cast<float>(i / kDim));
  const auto* rows = reinterpret_cast<const float*>(d.bytes[0].data());
  for (auto _ : state) {
    for (std::size_t r = 0; r < kRows; r += kBlockRows) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, kBlockQueries, kBlockRows, kDim, 1.0f, queries.data(),
                  kDim, rows + r * kDim, kDim, 0.0f, out.data(), kBlockRows);
      benchmark::ClobberMemory();
    }
  }
  state.counters["GFLOPs"] = benchmark::Counter(kBlockFlops * static_cast<double>(state.iterations()) / 1e9,
                                                benchmark::Counter::kIsRate);
}
#endif

void BM_Gather(benchmark::State& state, SimdLevel level, DType t) {
  ra::simd::ScopedSimdLevel scoped(level);
  if (!scoped.ok()) return state.SkipWithError("level not supported");
  Data& d = data();
  for (auto _ : state) {
    ra::simd::dot_gather(d.query.data(), d.bytes[static_cast<int>(t)].data(), t, kDim,
                         d.ids.data(), kRows, kDim, d.out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kRows * kDim * ra::dtype_size(t)));
}

// Keeps every run so the summary can relate each kernel to its bound; with
// --benchmark_repetitions the summary uses each benchmark's median.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (!r.error_occurred && r.run_type == Run::RT_Iteration) {
        const auto& c = r.counters;
        reps[r.run_name.str()].push_back(c.count("GFLOPs") ? c.at("GFLOPs").value
                                                           : c.at("bytes_per_second").value / 1e9);
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  double median(const std::string& name) const {
    const auto it = reps.find(name);
    if (it == reps.end()) return 0.0;
    std::vector<double> v = it->second;
    std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
    return v[v.size() / 2];
  }
  std::map<std::string, std::vector<double>> reps;
};

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

}  // namespace

int main(int argc, char** argv) {
  const DType types[] = {DType::kF32, DType::kF16, DType::kBF16};
  for (DType t : types) {
    const std::string n(ra::dtype_name(t));
    benchmark::RegisterBenchmark(("stream_read/" + n).c_str(), BM_StreamRead, t);
    for (SimdLevel l : ra::simd::supported_levels()) {
      const std::string suffix = "/" + std::string(ra::simd::level_name(l)) + "/" + n;
      benchmark::RegisterBenchmark(("rows" + suffix).c_str(), BM_Rows, l, t, kRows);
      benchmark::RegisterBenchmark(("rows_l3" + suffix).c_str(), BM_Rows, l, t, kWarmRows);
      benchmark::RegisterBenchmark(("gather" + suffix).c_str(), BM_Gather, l, t);
      benchmark::RegisterBenchmark(("block" + suffix).c_str(), BM_Block, l, t);
    }
  }
#if RA_WITH_OPENBLAS
  benchmark::RegisterBenchmark("sgemm/openblas/f32", BM_Sgemm);
#endif
  benchmark::Initialize(&argc, argv);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  std::printf("\nCPU: %s; %zu x %zu rows, one thread; dispatch: %s\n", cpu_model().c_str(), kRows, kDim,
              std::string(ra::simd::dispatch_mode()).c_str());
  std::printf("rows and gather: GB/s and share of the streaming read of the same bytes; rows_l3: the first %zu\n"
              "rows (cache-resident, the size dispatch calibrates on), GB/s only; block: GFLOP/s and\n"
              "share of OpenBLAS sgemm (f32, one thread) on the same shapes. '*' marks the level dispatch\n"
              "chose; 'chosen/best' compares it with the fastest level measured here. Medians over\n"
              "--benchmark_repetitions.\n\n", kWarmRows);
  std::printf("%-7s %-5s %-7s %8s %10s %12s\n", "kernel", "dtype", "level", "rate", "of bound", "chosen/best");
  const double sgemm = collector.median("sgemm/openblas/f32");
  const auto share = [](double v, double bound) {
    return bound > 0 ? std::to_string(static_cast<int>(100.0 * v / bound + 0.5)) + "%" : std::string("-");
  };
  // A cache-resident scan has no bound here: it is limited by instructions, not by a simpler read.
  enum class Bound { kStreamRead, kSgemm, kNone };
  struct Family {
    const char* kernel;
    ra::simd::Kernel family;
    Bound bound;
  };
  for (auto [kernel, family, bound_kind] :
       {Family{"rows", ra::simd::Kernel::kRows, Bound::kStreamRead}, Family{"rows_l3", ra::simd::Kernel::kRows, Bound::kNone},
        Family{"gather", ra::simd::Kernel::kGather, Bound::kStreamRead}, Family{"block", ra::simd::Kernel::kBlock, Bound::kSgemm}}) {
    for (DType t : types) {
      const std::string n(ra::dtype_name(t));
      const double bound = bound_kind == Bound::kSgemm        ? sgemm
                           : bound_kind == Bound::kStreamRead ? collector.median("stream_read/" + n)
                                                              : 0.0;
      const SimdLevel chosen = ra::simd::kernel_level(family, t);
      double best = 0, at_chosen = 0;
      for (SimdLevel l : ra::simd::supported_levels()) {
        const std::string key = std::string(kernel) + "/" + std::string(ra::simd::level_name(l)) + "/" + n;
        const double v = collector.median(key);
        if (v == 0.0) continue;
        best = std::max(best, v);
        if (l == chosen) at_chosen = v;
        std::printf("%-7s %-5s %-6s%s %8.1f %9s\n", kernel, n.c_str(), std::string(ra::simd::level_name(l)).c_str(),
                    l == chosen ? "*" : " ", v, share(v, bound).c_str());
      }
      if (best > 0) std::printf("%-7s %-5s %-7s %8s %10s %11.0f%%\n", kernel, n.c_str(), "chosen", "", "", 100.0 * at_chosen / best);
    }
  }
  std::printf("\nstream read GB/s: f32 %.1f, f16 %.1f, bf16 %.1f; sgemm %s\n", collector.median("stream_read/f32"),
              collector.median("stream_read/f16"), collector.median("stream_read/bf16"),
              sgemm > 0 ? (std::to_string(sgemm).substr(0, 5) + " GFLOP/s").c_str() : "not measured (filtered out, or no libopenblas-dev)");
  benchmark::Shutdown();
  return 0;
}
