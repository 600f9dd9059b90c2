// Memory-bandwidth share of the inner-product kernels. Scores a 131072 x 128 matrix (f32, f16,
// bf16) with the rows kernel and with gather over random ids, at every SIMD level, next to a
// plain streaming read of the same bytes in the same run, and prints each kernel's GB/s as a
// share of that read. Single-threaded: one core's bandwidth is the bound a search thread sees.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "simd/inner_product.h"
#include "simd/simd_level.h"

namespace {

using ra::DType;
using ra::simd::SimdLevel;

constexpr std::size_t kRows = 131072, kDim = 128;

struct Data {
  std::vector<unsigned char> bytes[ra::kNumDTypes];
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

// The bound: read every byte once, summing 64-bit words (integer adds vectorise freely);
// cloned per ISA so the read uses registers as wide as the kernels' loads.
__attribute__((target_clones("avx512f", "avx2", "default"))) std::uint64_t sum_words(
    const std::uint64_t* w, std::size_t words) {
  std::uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (std::size_t i = 0; i + 4 <= words; i += 4) {
    s0 += w[i];
    s1 += w[i + 1];
    s2 += w[i + 2];
    s3 += w[i + 3];
  }
  return s0 + s1 + s2 + s3;
}

void BM_StreamRead(benchmark::State& state, DType t) {
  const auto& b = data().bytes[static_cast<int>(t)];
  const std::size_t words = b.size() / 8;
  std::vector<std::uint64_t> w(words);
  std::memcpy(w.data(), b.data(), words * 8);
  for (auto _ : state) benchmark::DoNotOptimize(sum_words(w.data(), words));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * words * 8));
}

void BM_Rows(benchmark::State& state, SimdLevel level, DType t) {
  ra::simd::ScopedSimdLevel scoped(level);
  if (!scoped.ok()) return state.SkipWithError("level not supported");
  Data& d = data();
  for (auto _ : state) {
    ra::simd::dot_rows(d.query.data(), d.bytes[static_cast<int>(t)].data(), t, kDim, kRows, kDim,
                       d.out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kRows * kDim * ra::dtype_size(t)));
}

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

// Keeps every run so the summary can relate each kernel to the streaming read.
class Collector : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (!r.error_occurred && r.run_type == Run::RT_Iteration) {
        gbps[r.benchmark_name()] = r.counters.at("bytes_per_second") / 1e9;
      }
    }
    ConsoleReporter::ReportRuns(runs);
  }
  std::map<std::string, double> gbps;
};

}  // namespace

int main(int argc, char** argv) {
  const DType types[] = {DType::kF32, DType::kF16, DType::kBF16};
  for (DType t : types) {
    const std::string n(ra::dtype_name(t));
    benchmark::RegisterBenchmark(("stream_read/" + n).c_str(), BM_StreamRead, t);
    for (SimdLevel l : ra::simd::supported_levels()) {
      const std::string suffix = "/" + std::string(ra::simd::level_name(l)) + "/" + n;
      benchmark::RegisterBenchmark(("rows" + suffix).c_str(), BM_Rows, l, t);
      benchmark::RegisterBenchmark(("gather" + suffix).c_str(), BM_Gather, l, t);
    }
  }
  benchmark::Initialize(&argc, argv);
  Collector collector;
  benchmark::RunSpecifiedBenchmarks(&collector);
  std::printf("\n%zu x %zu rows, one thread. Share of the streaming read of the same bytes:\n\n",
              kRows, kDim);
  std::printf("%-8s %-6s %-7s %9s %10s\n", "kernel", "dtype", "level", "GB/s", "% of read");
  for (const char* kernel : {"rows", "gather"}) {
    for (DType t : types) {
      const std::string n(ra::dtype_name(t));
      const double read = collector.gbps["stream_read/" + n];
      for (SimdLevel l : ra::simd::supported_levels()) {
        const std::string key = std::string(kernel) + "/" + std::string(ra::simd::level_name(l)) + "/" + n;
        if (!collector.gbps.count(key) || read == 0) continue;
        std::printf("%-8s %-6s %-7s %9.1f %9.0f%%\n", kernel, n.c_str(),
                    std::string(ra::simd::level_name(l)).c_str(), collector.gbps[key],
                    100.0 * collector.gbps[key] / read);
      }
    }
  }
  std::printf("\nstream read GB/s: f32 %.1f, f16 %.1f, bf16 %.1f\n", collector.gbps["stream_read/f32"],
              collector.gbps["stream_read/f16"], collector.gbps["stream_read/bf16"]);
  benchmark::Shutdown();
  return 0;
}
