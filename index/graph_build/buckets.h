#pragma once
// Internal: items grouped by bucket with a counting sort (stable, O(items + buckets)): the
// build's edges by node, keys by k-means cluster, (query, cluster) pairs by cluster. A
// comparison sort of the edge pairs was a tenth of a 131072-key build.
#include <cstddef>
#include <numeric>
#include <vector>

namespace ra {

template <class Value>
struct Buckets {
  std::vector<std::size_t> start;  // bucket b holds values[start[b], start[b + 1])
  std::vector<Value> values;

  std::size_t size(std::size_t b) const noexcept { return start[b + 1] - start[b]; }
};

/// Fills *out with value_of(i) for i < count, grouped by bucket_of(i) < num_buckets, in order
/// of i within a bucket. Reuses out's storage (no allocation once it is large enough).
template <class Value, class BucketOf, class ValueOf>
void group_by_bucket(std::size_t count, std::size_t num_buckets, const BucketOf& bucket_of,
                     const ValueOf& value_of, Buckets<Value>* out) {
  // Counts at start[b + 2]; after the prefix sum start[b + 1] is where bucket b begins, and
  // filling moves it to where b ends, which is where b + 1 begins.
  out->start.assign(num_buckets + 2, 0);
  for (std::size_t i = 0; i < count; ++i) ++out->start[bucket_of(i) + 2];
  std::partial_sum(out->start.begin(), out->start.end(), out->start.begin());
  out->values.resize(count);
  for (std::size_t i = 0; i < count; ++i) out->values[out->start[bucket_of(i) + 1]++] = value_of(i);
  out->start.pop_back();
}

}  // namespace ra
