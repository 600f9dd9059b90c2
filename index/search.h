#pragma once
// Search parameters, results and per-thread scratch shared by every index (FlatIndex and
// GraphIndex take the same SearchParams). MIPS throughout: score(q, x) = <q, x>, larger is
// better; results are sorted by score, descending.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "types.h"

namespace ra {

/// The largest beam (and build beam) accepted: far beyond any useful setting, and small enough
/// that a search context of that size is a few megabytes.
inline constexpr std::uint32_t kMaxBeam = 1u << 16;

struct SearchParams {
  std::uint32_t k = 10;
  std::uint32_t beam = 64;        // graph search: candidates kept ("L"); FlatIndex ignores it
  std::uint32_t num_threads = 0;  // batch search only; 0: all OpenMP threads

  /// k in [1, index_size]; with `uses_beam`, also 1 <= beam <= kMaxBeam and beam + hubs >= k
  /// (hubs: keys the index scores outside the beam, GraphIndex::hubs()).
  Status validate(std::size_t index_size, bool uses_beam = true, std::size_t hubs = 0) const;
};

/// Results of a batch search: num_queries x k, row-major, best first.
struct SearchResults {
  std::size_t num_queries = 0, k = 0;
  std::vector<Label> ids;
  std::vector<float> scores;

  const Label* ids_of(std::size_t q) const noexcept { return ids.data() + q * k; }
  const float* scores_of(std::size_t q) const noexcept { return scores.data() + q * k; }
};

/// Work done by a search: keys scored (inner products computed) and graph hops.
struct SearchStats {
  std::uint64_t score_evals = 0, hops = 0;
};

class SearchScratch;  // internal: visited set and candidate pool

/// One thread's reusable search state (GraphIndex::make_context() sizes it for an index), so
/// that a search allocates nothing once the context has been used. Opaque and movable; not
/// thread-safe: one per thread.
class SearchContext {
 public:
  SearchContext();
  ~SearchContext();
  SearchContext(SearchContext&&) noexcept;
  SearchContext& operator=(SearchContext&&) noexcept;

  /// While set (non-null), searches with this context append to *log the id of every key they
  /// score, each once (the visited set and the hubs): e.g. to attend all of them.
  void set_scored_log(std::vector<NodeId>* log) noexcept;

  /// For the library's search code.
  SearchScratch& scratch() noexcept { return *scratch_; }

 private:
  std::unique_ptr<SearchScratch> scratch_;
};

}  // namespace ra
