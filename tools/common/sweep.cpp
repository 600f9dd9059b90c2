#include "tools/common/sweep.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "index/flat_index.h"
#include "index/threading.h"

namespace ra::tools {

double percentile(std::vector<double>& values, double p) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto i = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
  return values[std::min(i, values.size() - 1)];
}

Result<IdMatrix> exact_truth(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                             std::uint32_t threads) {
  RA_ASSIGN_OR_RETURN(const FlatIndex flat, FlatIndex::over(keys));
  SearchResults res;
  RA_RETURN_IF_ERROR(flat.search(queries, k, &res, threads));
  return IdMatrix{res.num_queries, res.k, std::move(res.ids)};
}

Result<SweepRow> exact_scan_row(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                                std::uint32_t threads) {
  RA_ASSIGN_OR_RETURN(const FlatIndex flat, FlatIndex::over(keys));
  const int nt = resolve_threads(threads);
  std::vector<double> latency(queries.rows);
  std::vector<SearchResults> results(static_cast<std::size_t>(nt));
  ParallelGuard guard;
  const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
  for (std::int64_t i = 0; i < static_cast<std::int64_t>(queries.rows); ++i) {
    guard.run([&] {
      const auto q = static_cast<std::size_t>(i);
      const auto s = std::chrono::steady_clock::now();
      const Status st = flat.search(queries.slice_rows(q, q + 1), k, &results[omp_get_thread_num()], 1);
      if (!st.ok()) throw std::runtime_error(st.to_string());
      latency[q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count();
    });
  }
  RA_RETURN_IF_ERROR(guard.status("exact scan"));
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  SweepRow row;
  const auto nq = static_cast<double>(queries.rows);
  row.recall = 1.0;
  row.scored_mean = static_cast<double>(keys.rows);
  row.scored_fraction = 1.0;
  row.qps = nq / wall;
  for (double l : latency) row.latency_us_mean += l / nq;
  row.latency_us_p99 = percentile(latency, 99.0);
  return row;
}

Result<std::vector<SweepRow>> sweep_beams(const GraphIndex& index, const MatrixView& queries,
                                          const IdMatrix& truth, std::uint32_t k,
                                          const std::vector<std::uint32_t>& beams,
                                          std::uint32_t threads) {
  RA_RETURN_IF_ERROR(validate_f32_matrix(queries, "queries"));
  if (truth.rows < queries.rows || truth.cols < k) {
    return Status::InvalidArgument("ground truth has " + std::to_string(truth.rows) + " x " +
                                   std::to_string(truth.cols) + " ids; need " +
                                   std::to_string(queries.rows) + " x " + std::to_string(k));
  }
  const int nt = resolve_threads(threads);
  std::vector<SweepRow> rows;
  for (std::uint32_t beam : beams) {
    const SearchParams p{k, beam, threads};
    RA_RETURN_IF_ERROR(p.validate(index.size()));
    SearchResults res{queries.rows, k, std::vector<Label>(queries.rows * k),
                      std::vector<float>(queries.rows * k)};
    std::vector<SearchStats> stats(queries.rows);
    std::vector<double> latency(queries.rows);
    std::vector<SearchContext> contexts;
    for (int t = 0; t < nt; ++t) contexts.push_back(index.make_context());
    const auto t0 = std::chrono::steady_clock::now();
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(queries.rows); ++i) {
      const auto q = static_cast<std::size_t>(i);
      const auto s = std::chrono::steady_clock::now();
      (void)index.search_one(queries.f32_row(q), p, contexts[omp_get_thread_num()],
                             res.ids.data() + q * k, res.scores.data() + q * k, &stats[q]);
      latency[q] = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - s).count();
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    SweepRow row;
    row.beam = beam;
    row.recall = recall_at_k(res, truth, k);
    for (const SearchStats& s : stats) {
      row.scored_mean += static_cast<double>(s.score_evals);
      row.hops_mean += static_cast<double>(s.hops);
    }
    const auto nq = static_cast<double>(queries.rows);
    row.scored_mean /= nq;
    row.hops_mean /= nq;
    row.scored_fraction = row.scored_mean / static_cast<double>(index.size());
    row.qps = nq / wall;
    for (double l : latency) row.latency_us_mean += l / nq;
    row.latency_us_p99 = percentile(latency, 99.0);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace ra::tools
