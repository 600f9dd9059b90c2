#pragma once
// Internal: the exact top-k collector of this project (FlatIndex, the exact top-k baselines):
// the k highest (score, id) pairs seen. Ties are broken towards the smaller id, so results do
// not depend on scan order.
//
// A reservoir rather than a heap: candidates at or above the bar are appended, and when the
// reservoir is full, nth_element keeps the best k and raises the bar to the k-th score. That
// is O(1) amortised per candidate (a heap pays two O(log k) sifts per accepted one).
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
    capacity_ = std::max<std::size_t>(4 * k, 64);
    bar_ = -std::numeric_limits<float>::infinity();
    items_.clear();
    items_.reserve(capacity_);
  }
  /// A candidate scoring below this cannot enter (-inf until the first compaction).
  float threshold() const noexcept { return bar_; }
  void push(float score, Label id) noexcept {
    if (k_ == 0 || !(score >= bar_)) return;  // NaN never enters
    if (items_.size() == capacity_) {
      compact();
      if (score < bar_) return;
    }
    items_.push_back({score, id});  // within the reserved capacity: never reallocates
  }
  /// Pushes scores[i] with id first_id + i for every i < n. Once the bar is up nearly every
  /// score is below it, so blocks of 16 are first tested by their maximum (a vector max the
  /// compiler makes branch-free) and only a block that reaches the bar is looked at score by
  /// score: the exact scans then cost the dot products, not a compare and branch per key.
  void push_all(const float* scores, std::size_t n, Label first_id) noexcept {
    constexpr std::size_t kBlock = 16;
    std::size_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
      // Four independent chains: a float max reduction is not vectorised without fast-math,
      // and one chain of 16 dependent maxima cost more than the scores' dot products (perf).
      float m[4] = {scores[i], scores[i + 1], scores[i + 2], scores[i + 3]};
      for (std::size_t j = 4; j < kBlock; j += 4) {
        for (std::size_t l = 0; l < 4; ++l) m[l] = scores[i + j + l] > m[l] ? scores[i + j + l] : m[l];
      }
      const float top = std::max(std::max(m[0], m[1]), std::max(m[2], m[3]));
      if (top < bar_) continue;  // (a NaN maximum falls through to the exact test below)
      push_each(scores + i, kBlock, first_id + static_cast<Label>(i));
    }
    push_each(scores + i, n - i, first_id + static_cast<Label>(i));
  }
  /// Keeps only the best k now and raises the bar to the k-th score (when it holds more).
  void tighten() noexcept {
    if (items_.size() > k_ && k_ > 0) compact();
  }
  /// Writes the entries best first into ids/scores (k slots, padded with kNoLabel / -inf)
  /// and leaves the collector empty.
  void extract(Label* ids, float* scores) {
    if (items_.size() > k_) compact();
    std::sort(items_.begin(), items_.end(), Better{});
    for (std::size_t i = 0; i < k_; ++i) {
      ids[i] = i < items_.size() ? items_[i].id : kNoLabel;
      scores[i] = i < items_.size() ? items_[i].score : -std::numeric_limits<float>::infinity();
    }
    reset(k_);
  }

  /// Best first: higher score, then the smaller id. A type (not a function) so that sort and
  /// nth_element inline it: as a function pointer the calls alone were 3% of a clustered kNN.
  struct Better {
    bool operator()(const Entry& a, const Entry& b) const noexcept {
      return a.score > b.score || (a.score == b.score && a.id < b.id);
    }
  };

 private:
  void push_each(const float* scores, std::size_t n, Label first_id) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
      if (scores[i] >= bar_) push(scores[i], first_id + static_cast<Label>(i));
    }
  }
  void compact() noexcept {
    std::nth_element(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(k_ - 1), items_.end(), Better{});
    items_.resize(k_);
    bar_ = items_[k_ - 1].score;  // the k-th best; equal scores may still enter (smaller ids)
  }
  std::size_t k_ = 0, capacity_ = 0;
  float bar_ = -std::numeric_limits<float>::infinity();
  std::vector<Entry> items_;
};

}  // namespace ra
