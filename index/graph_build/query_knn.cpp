#include "index/graph_build/query_knn.h"

#include <algorithm>

#include "index/flat_index.h"

namespace ra {

Status exact_query_knn(const MatrixView& keys, const MatrixView& queries, std::uint32_t k,
                       std::uint32_t num_threads, std::vector<NodeId>* knn) {
  RA_ASSIGN_OR_RETURN(const FlatIndex flat, FlatIndex::over(keys));
  SearchResults res;
  RA_RETURN_IF_ERROR(flat.search(queries, {k, k, num_threads}, &res));
  knn->resize(res.ids.size());
  std::transform(res.ids.begin(), res.ids.end(), knn->begin(),
                 [](Label id) { return static_cast<NodeId>(id); });
  return Status::OK();
}

}  // namespace ra
