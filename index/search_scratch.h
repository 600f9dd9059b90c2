#pragma once
// Internal: the scratch behind a SearchContext, an epoch-tagged visited set and a bounded
// candidate pool, sized once and reused, so a query allocates nothing. Not thread-safe.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <span>
#include <vector>

#include "index/types.h"

namespace ra {

/// The best `capacity` candidates seen, sorted by score (descending, ties by id), with a
/// cursor on the best one not yet expanded. Scores, ids and flags are separate arrays: an
/// insert finds its place by counting the scores above it, a loop the compiler vectorises,
/// where a binary search was a chain of dependent loads (the pool cost more than the inner
/// products at beam 225; perf).
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
    if (scores_.size() < capacity + 1) {
      scores_.resize(capacity + 1);
      ids_.resize(capacity + 1);
      expanded_.resize(capacity + 1);
    }
  }
  /// The pool's order: higher score first, then the smaller id.
  static bool before(const Candidate& a, const Candidate& b) noexcept {
    return (a.score > b.score) | ((a.score == b.score) & (a.id < b.id));  // no branches
  }
  /// before() as a function object, so that the sorts of the hubs inline it.
  struct Before {
    bool operator()(const Candidate& a, const Candidate& b) const noexcept { return before(a, b); }
  };
  std::size_t size() const noexcept { return size_; }
  Candidate operator[](std::size_t i) const noexcept { return {scores_[i], ids_[i], expanded_[i] != 0}; }
  /// The score a candidate must beat to enter a full pool.
  float worst() const noexcept {
    return size_ < capacity_ ? -std::numeric_limits<float>::infinity() : scores_[size_ - 1];
  }
  /// Inserts unless the pool is full of better candidates; ids must not repeat.
  void insert(float score, NodeId id) noexcept {
    if (size_ == capacity_ && !(score > scores_[size_ - 1])) return;
    std::uint32_t above = 0;  // 32-bit: the loop vectorises on 32-bit lanes
    const float* scores = scores_.data();
    for (std::size_t i = 0; i < size_; ++i) above += scores[i] > score;
    std::size_t at = above;  // the candidates that rank before the new one: scores above it...
    while (at < size_ && scores[at] == score && ids_[at] < id) ++at;  // ...and equal ones with smaller ids
    const std::size_t moved = size_ - at;  // shifted into the spare slot, then truncated
    std::memmove(&scores_[at + 1], &scores_[at], moved * sizeof(float));
    std::memmove(&ids_[at + 1], &ids_[at], moved * sizeof(NodeId));
    std::memmove(&expanded_[at + 1], &expanded_[at], moved);
    scores_[at] = score;
    ids_[at] = id;
    expanded_[at] = 0;
    if (size_ < capacity_) ++size_;
    if (at < cursor_) cursor_ = at;
  }
  /// Index of the best unexpanded candidate after the cursor, unmarked; size() when none.
  std::size_t peek_next_unexpanded() const noexcept {
    std::size_t i = cursor_ + 1;
    while (i < size_ && expanded_[i]) ++i;
    return std::min(i, size_);
  }
  /// Index of the best unexpanded candidate, marked expanded; size() when there is none.
  std::size_t pop_best_unexpanded() noexcept {
    while (cursor_ < size_ && expanded_[cursor_]) ++cursor_;
    if (cursor_ < size_) expanded_[cursor_] = 1;
    return cursor_;
  }

 private:
  // One spare slot each: insert shifts before truncating.
  std::vector<float> scores_;
  std::vector<NodeId> ids_;
  std::vector<std::uint8_t> expanded_;
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
  /// Writes to `out` the ids of `from` not yet seen in this query, marks them seen, and
  /// returns how many; `out` holds from.size(). Branch-free: whether a neighbour is new is
  /// unpredictable, and the mispredicts cost more than the filter's loads (perf, beam 225).
  std::size_t take_unvisited(std::span<const NodeId> from, NodeId* out) noexcept {
    std::uint32_t* const mark = mark_.data();
    const std::uint32_t epoch = epoch_;
    std::size_t n = 0;
    for (const NodeId u : from) {
      out[n] = u;
      n += mark[u] != epoch;
      mark[u] = epoch;
    }
    return n;
  }

  /// When set, beam_search and the hubs' scoring append every id they score (each once).
  std::vector<NodeId>* scored_log = nullptr;
  CandidatePool pool;
  std::vector<NodeId> ids;     // neighbours to score in one hop
  std::vector<float> scores;   // their scores
  std::vector<CandidatePool::Candidate> hub_best;  // the index's hubs, scored, best first

 private:
  std::vector<std::uint32_t> mark_;
  std::uint32_t epoch_ = 0;
};

}  // namespace ra
