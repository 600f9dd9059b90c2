#pragma once
// Internal: the scratch behind a SearchContext, an epoch-tagged visited set and a bounded
// candidate pool, sized once and reused, so a query allocates nothing. Not thread-safe.
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "index/types.h"

namespace ra {

/// The best `capacity` candidates seen, sorted by score (descending, ties by id), with a
/// cursor on the best one not yet expanded.
class CandidatePool {
 public:
  struct Candidate {
    float score;
    NodeId id;
    bool expanded;
  };

  void reset(std::size_t capacity) {
    capacity_ = capacity;
    size_ = 0;
    cursor_ = 0;
    if (items_.size() < capacity + 1) items_.resize(capacity + 1);
  }
  /// The pool's order: higher score first, then the smaller id.
  static bool before(const Candidate& a, const Candidate& b) noexcept {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  }
  std::size_t size() const noexcept { return size_; }
  const Candidate& operator[](std::size_t i) const noexcept { return items_[i]; }
  /// The score a candidate must beat to enter a full pool.
  float worst() const noexcept {
    return size_ < capacity_ ? -std::numeric_limits<float>::infinity() : items_[size_ - 1].score;
  }
  /// Inserts unless the pool is full of better candidates; ids must not repeat.
  /// Binary search for the place, then one memmove: a shift candidate by candidate cost
  /// more than the inner products themselves (measured with callgrind at beam 150).
  void insert(float score, NodeId id) noexcept {
    if (size_ == capacity_ && !(score > items_[size_ - 1].score)) return;
    const Candidate fresh{score, id, false};
    std::size_t lo = 0, hi = size_;  // first position whose candidate ranks after `fresh`
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      if (before(items_[mid], fresh)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    std::memmove(&items_[lo + 1], &items_[lo], (size_ - lo) * sizeof(Candidate));  // into the spare slot
    items_[lo] = fresh;
    if (size_ < capacity_) ++size_;
    if (lo < cursor_) cursor_ = lo;
  }
  /// Index of the best unexpanded candidate, marked expanded; size() when there is none.
  std::size_t pop_best_unexpanded() noexcept {
    while (cursor_ < size_ && items_[cursor_].expanded) ++cursor_;
    if (cursor_ < size_) items_[cursor_].expanded = true;
    return cursor_;
  }

 private:
  std::vector<Candidate> items_;  // one spare slot: insert shifts before truncating
  std::size_t capacity_ = 0, size_ = 0, cursor_ = 0;
};

class SearchScratch {
 public:
  /// Sizes the visited set for `num_nodes` (grows later if the index grows).
  explicit SearchScratch(std::size_t num_nodes = 0) : mark_(num_nodes, 0) {}

  /// Starts a new query: O(1) except every 2^32 queries.
  void next_query(std::size_t num_nodes) {
    if (mark_.size() < num_nodes) mark_.resize(num_nodes, 0);
    if (++epoch_ == 0) {
      std::fill(mark_.begin(), mark_.end(), 0);
      epoch_ = 1;
    }
  }
  /// True the first time `id` is seen in this query.
  bool first_visit(NodeId id) noexcept {
    if (mark_[id] == epoch_) return false;
    mark_[id] = epoch_;
    return true;
  }

  CandidatePool pool;
  std::vector<NodeId> ids;     // neighbours to score in one hop
  std::vector<float> scores;   // their scores
  std::vector<CandidatePool::Candidate> hub_best;  // the index's hubs, scored, best first

 private:
  std::vector<std::uint32_t> mark_;
  std::uint32_t epoch_ = 0;
};

}  // namespace ra
