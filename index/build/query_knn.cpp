#include "index/build/query_knn.h"

#include <algorithm>

#include "index/flat_index.h"

namespace ra {

Status exact_query_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                       std::uint32_t num_threads, std::vector<NodeId>* knn) {
  RA_ASSIGN_OR_RETURN(const FlatIndex flat, FlatIndex::over(keys));
  SearchResults res;
  RA_RETURN_IF_ERROR(flat.search(queries, k, &res, num_threads));
  knn->resize(res.ids.size());
  std::transform(res.ids.begin(), res.ids.end(), knn->begin(),
                 [](Label id) { return static_cast<NodeId>(id); });
  return Status::OK();
}

double knn_recall(const std::vector<NodeId>& approx, const std::vector<NodeId>& exact,
                  std::size_t k) {
  if (k == 0 || exact.empty()) return 1.0;
  const std::size_t rows = exact.size() / k;
  std::size_t hits = 0;
  std::vector<NodeId> a, e;
  for (std::size_t i = 0; i < rows; ++i) {
    a.assign(approx.begin() + static_cast<std::ptrdiff_t>(i * k), approx.begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
    e.assign(exact.begin() + static_cast<std::ptrdiff_t>(i * k), exact.begin() + static_cast<std::ptrdiff_t>((i + 1) * k));
    std::sort(a.begin(), a.end());
    std::sort(e.begin(), e.end());
    std::vector<NodeId> common;
    std::set_intersection(a.begin(), a.end(), e.begin(), e.end(), std::back_inserter(common));
    hits += common.size();
  }
  return static_cast<double>(hits) / static_cast<double>(rows * k);
}

}  // namespace ra
