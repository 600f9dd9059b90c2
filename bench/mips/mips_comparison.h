#pragma once
// The standalone MIPS benchmark (`ra bench mips`, also built as bench/bench_mips): on the same
// keys, training queries, test queries and ground truth, with the same thread count, each
// method runs over its parameter sweep and reports recall@k, keys scored per query (over every
// test query, as recall), QPS, p99 latency, build time and index memory. Searches and builds
// run on the stated thread counts, faiss's internal OpenMP included.
// Methods: exact flat scan, the query-guided graph and partitions + 4-bit codes (ours); hnswlib HNSW and faiss
// IndexHNSWFlat / IndexIVFFlat with inner product, when the build found those libraries.
#include <cstdint>
#include <string>
#include <vector>

#include "index/matrix.h"
#include "index/result.h"

namespace ra::tools {

struct MipsRow {
  std::string param;  // "beam=64", "ef=128", "nprobe=8"
  double recall = 0, scored_mean = 0, scored_fraction = 0, qps = 0, latency_us_p99 = 0;
};

struct MipsMethod {
  std::string name;
  std::string settings;  // every parameter of the build, e.g. "M=32 efConstruction=200"
  double build_s = 0;
  std::uint64_t memory_bytes = 0;
  std::vector<MipsRow> rows;
};

struct MipsBenchOptions {
  std::uint32_t k = 100;
  std::uint32_t threads = 1;        // search threads, every method (faiss's own OpenMP included)
  std::uint32_t build_threads = 0;  // build threads, every method (0: all cores)
  std::uint32_t degree = 32;        // M of every graph method
  /// Each sweep widens (beam, ef, nprobe) until recall reaches target_recall, stops gaining
  /// (under 0.001 while the width grew 4x), or the width passes max_width_factor x k.
  double target_recall = 0.995;
  std::uint32_t max_width_factor = 256;
  std::uint64_t seed = 1;           // IVF's training sample
  std::vector<std::string> skip;    // method names not to run
};

struct MipsBenchReport {
  std::size_t n = 0, dim = 0, num_queries = 0;
  std::uint32_t k = 0, threads = 0, build_threads = 0;
  std::vector<MipsMethod> methods;
  std::vector<std::string> skipped;  // with the reason, e.g. "faiss (not built)"
};

/// Runs every method. truth: at least k exact neighbours per test query.
Result<MipsBenchReport> run_mips_bench(const Matrix& keys, const Matrix& train_queries,
                                       const Matrix& queries, const IdMatrix& truth,
                                       const MipsBenchOptions& opt);

/// The table, one row per (method, parameter).
std::string mips_table(const MipsBenchReport& r);
/// {"n", "dim", "k", "threads", "build_threads", "keys_scored_over", "methods": [{"name",
/// "settings", "build_s", "memory_bytes", "rows": [...]}]}
std::string mips_json(const MipsBenchReport& r);
/// Recall vs keys scored and recall vs QPS, one line per method.
std::string mips_svg(const MipsBenchReport& r, const std::string& title);

}  // namespace ra::tools
