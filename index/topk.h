#pragma once
// A bounded top-k collector (min-heap on score): the k highest (score, id) pairs seen.
// Ties are broken towards the smaller id, so results do not depend on scan order.
#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "index/types.h"

namespace ra {

class TopK {
 public:
  struct Entry {
    float score;
    Label id;
  };

  explicit TopK(std::size_t k = 0) { reset(k); }
  /// Empties the collector and sets its capacity; allocates only when k grows.
  void reset(std::size_t k) {
    k_ = k;
    heap_.clear();
    heap_.reserve(k);
  }
  std::size_t size() const noexcept { return heap_.size(); }
  /// The score a candidate must beat to enter (-inf until full).
  float threshold() const noexcept {
    return heap_.size() < k_ ? -std::numeric_limits<float>::infinity() : heap_.front().score;
  }
  void push(float score, Label id) noexcept {
    if (heap_.size() < k_) {
      heap_.push_back({score, id});
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    } else if (k_ > 0 && better(Entry{score, id}, heap_.front())) {
      std::pop_heap(heap_.begin(), heap_.end(), worse_first);
      heap_.back() = {score, id};
      std::push_heap(heap_.begin(), heap_.end(), worse_first);
    }
  }
  /// Writes the entries best first into ids/scores (k slots, padded with kNoLabel / -inf)
  /// and leaves the collector empty.
  void extract(Label* ids, float* scores) {
    std::sort_heap(heap_.begin(), heap_.end(), worse_first);  // ascending "worse", i.e. best first
    for (std::size_t i = 0; i < k_; ++i) {
      ids[i] = i < heap_.size() ? heap_[i].id : kNoLabel;
      scores[i] = i < heap_.size() ? heap_[i].score : -std::numeric_limits<float>::infinity();
    }
    heap_.clear();
  }

  static bool better(const Entry& a, const Entry& b) noexcept {
    return a.score > b.score || (a.score == b.score && a.id < b.id);
  }

 private:
  static bool worse_first(const Entry& a, const Entry& b) noexcept { return better(a, b); }
  std::size_t k_ = 0;
  std::vector<Entry> heap_;
};

}  // namespace ra
