#include "tools/eval/measure.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "index/flat_index.h"
#include "index/recall.h"
#include "index/threading.h"
#include "simd/inner_product.h"

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
  RA_RETURN_IF_ERROR(flat.search(queries, {k, 0, threads}, &res));
  return IdMatrix{res.num_queries, res.k, std::move(res.ids)};
}

Status check_truth(const MatrixView& keys, const MatrixView& queries, const IdMatrix& truth, std::uint32_t k) {
  RA_RETURN_IF_ERROR(validate_f32_matrix(queries, "queries"));
  if (queries.dim != keys.dim) {
    return Status::InvalidArgument("queries have dimension " + std::to_string(queries.dim) + ", the keys " +
                                   std::to_string(keys.dim));
  }
  if (k == 0 || k > keys.rows) {
    return Status::InvalidArgument("k = " + std::to_string(k) + " must be in [1, " + std::to_string(keys.rows) + "]");
  }
  if (truth.rows < queries.rows || truth.cols < k) {
    return Status::InvalidArgument("ground truth has " + std::to_string(truth.rows) + " x " +
                                   std::to_string(truth.cols) + " ids; need " +
                                   std::to_string(queries.rows) + " x " + std::to_string(k));
  }
  for (std::size_t q = 0; q < queries.rows; ++q) {
    for (std::size_t j = 0; j < k; ++j) {
      const Label id = truth.row(q)[j];
      if (id < 0 || static_cast<std::size_t>(id) >= keys.rows) {
        return Status::InvalidArgument("ground truth row " + std::to_string(q) + " holds id " + std::to_string(id) +
                                       ", not a key of these " + std::to_string(keys.rows));
      }
    }
  }
  std::vector<float> scores(keys.rows);
  const std::size_t samples = std::min<std::size_t>(8, queries.rows);
  for (std::size_t i = 0; i < samples; ++i) {
    const std::size_t q = i * queries.rows / samples;
    simd::dot_rows(queries.f32_row(q), keys.data, keys.dtype, keys.stride, keys.rows, keys.dim, scores.data());
    const float best = *std::max_element(scores.begin(), scores.end());
    const float first = scores[static_cast<std::size_t>(truth.row(q)[0])];
    if (first < best - 1e-3f * (std::fabs(best) + 1.0f)) {
      return Status::InvalidArgument("ground truth does not match these keys and queries: query " +
                                     std::to_string(q) + "'s first true id scores " + std::to_string(first) +
                                     ", the best key " + std::to_string(best));
    }
  }
  return Status::OK();
}

SweepRow measure_queries(const QuerySearch& search, const MatrixView& queries, const IdMatrix& truth,
                         std::uint32_t k, std::uint32_t threads, std::size_t n, std::size_t count_queries) {
  using Clock = std::chrono::steady_clock;
  const std::size_t nq = queries.rows;
  SearchResults res{nq, k, std::vector<Label>(nq * k, kNoLabel), std::vector<float>(nq * k, 0.0f)};
  std::vector<SearchStats> stats(nq);
  std::vector<double> latency(nq);
  auto one = [&](std::size_t q) {
    const auto s = Clock::now();
    stats[q] = search(queries.f32_row(q), res.ids.data() + q * k);
    latency[q] = std::chrono::duration<double, std::micro>(Clock::now() - s).count();
  };
  const auto t0 = Clock::now();
  if (threads <= 1) {
    for (std::size_t q = 0; q < nq; ++q) one(q);
  } else {
#pragma omp parallel for schedule(dynamic, 4) num_threads(static_cast<int>(threads))
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(nq); ++i) one(static_cast<std::size_t>(i));
  }
  const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
  SweepRow row;
  row.recall = recall_at_k(res, truth, k);
  row.qps = static_cast<double>(nq) / wall;
  for (double l : latency) row.latency_us_mean += l / static_cast<double>(nq);
  row.latency_us_p99 = percentile(latency, 99.0);
  const std::size_t counted = count_queries ? std::min(nq, count_queries) : nq;
  if (count_queries) {
    std::vector<Label> scratch(k);
    for (std::size_t q = 0; q < counted; ++q) stats[q] = search(queries.f32_row(q), scratch.data());
  }
  for (std::size_t q = 0; q < counted; ++q) {
    row.scored_mean += static_cast<double>(stats[q].score_evals) / static_cast<double>(counted);
    row.hops_mean += static_cast<double>(stats[q].hops) / static_cast<double>(counted);
  }
  row.scored_fraction = row.scored_mean / static_cast<double>(n);
  return row;
}

Result<SweepRow> exact_scan_row(const MatrixView& keys, const MatrixView& queries,
                                const IdMatrix& truth, std::uint32_t k, std::uint32_t threads) {
  RA_ASSIGN_OR_RETURN(const FlatIndex flat, FlatIndex::over(keys));
  RA_RETURN_IF_ERROR(check_truth(keys, queries, truth, k));
  // One query at a time, so that latencies compare with an index's.
  return measure_queries(
      [&](const float* q, Label* ids) {
        thread_local SearchResults r;
        (void)flat.search(MatrixView::f32(q, 1, keys.dim), {k, 0, 1}, &r);  // shapes checked above
        std::copy(r.ids.begin(), r.ids.end(), ids);
        return SearchStats{keys.rows, 0};
      },
      queries, truth, k, static_cast<std::uint32_t>(resolve_threads(threads)), keys.rows);
}

Result<std::vector<SweepRow>> sweep_beams(const GraphIndex& index, const MatrixView& queries,
                                          const IdMatrix& truth, std::uint32_t k,
                                          const std::vector<std::uint32_t>& beams,
                                          std::uint32_t threads) {
  RA_RETURN_IF_ERROR(check_truth(index.keys(), queries, truth, k));
  const int nt = resolve_threads(threads);
  std::vector<SearchContext> contexts;
  for (int t = 0; t < nt; ++t) contexts.push_back(index.make_context());
  std::vector<SweepRow> rows;
  for (std::uint32_t beam : beams) {
    const SearchParams p{k, beam, threads};
    RA_RETURN_IF_ERROR(p.validate(index.size(), true, index.hubs().size()));
    SweepRow row = measure_queries(
        [&](const float* q, Label* ids) {
          thread_local std::vector<float> scores;
          scores.resize(k);
          SearchStats st;
          (void)index.search_one(q, p, contexts[static_cast<std::size_t>(omp_get_thread_num())], ids,
                                 scores.data(), &st);  // p and queries were validated above
          return st;
        },
        queries, truth, k, static_cast<std::uint32_t>(nt), index.size());
    row.beam = beam;
    rows.push_back(row);
  }
  return rows;
}

Result<std::vector<SweepRow>> sweep_probes(const PartitionIndex& index, const MatrixView& queries,
                                           const IdMatrix& truth, std::uint32_t k,
                                           const std::vector<std::uint32_t>& probes, std::uint32_t reorder,
                                           std::uint32_t threads) {
  RA_RETURN_IF_ERROR(check_truth(index.keys(), queries, truth, k));
  const int nt = resolve_threads(threads);
  std::vector<PartitionContext> contexts(static_cast<std::size_t>(nt));
  std::vector<SweepRow> rows;
  for (std::uint32_t probe : probes) {
    const PartitionSearchParams p{k, probe, reorder};
    {  // the parameters checked once, outside the timed loop (search_one checks them again)
      std::vector<Label> ids(k);
      std::vector<float> scores(k);
      RA_RETURN_IF_ERROR(index.search_one(queries.f32_row(0), p, contexts[0], ids.data(), scores.data()));
    }
    SweepRow row = measure_queries(
        [&](const float* q, Label* ids) {
          thread_local std::vector<float> scores;
          scores.resize(k);
          SearchStats st;
          (void)index.search_one(q, p, contexts[static_cast<std::size_t>(omp_get_thread_num())], ids, scores.data(), &st);
          return st;
        },
        queries, truth, k, static_cast<std::uint32_t>(nt), index.size());
    row.beam = probe;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace ra::tools
