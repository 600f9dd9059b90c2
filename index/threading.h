#pragma once
// Internal threading helpers: the thread count of a request, and ParallelGuard, which carries
// exceptions out of OpenMP regions (one escaping a region terminates the program): each
// iteration runs through run(), the first failure is kept and later iterations are skipped;
// status() turns it into a Status after the region.
#include <atomic>
#include <cstdint>
#include <exception>
#include <mutex>
#include <new>
#include <string>

#include "index/api_guard.h"
#include "index/status.h"

namespace ra {

/// 0 means "all the cores OpenMP sees"; never changes any global thread setting.
int resolve_threads(std::uint32_t requested) noexcept;

class ParallelGuard {
 public:
  template <class F>
  void run(F&& body) noexcept {
    if (failed_.load(std::memory_order_relaxed)) return;
    try {
      body();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_.exchange(true)) error_ = std::current_exception();
    }
  }
  /// OK, or the first failure: ResourceExhausted for bad_alloc, Internal otherwise.
  Status status(const std::string& what) const {
    if (!failed_) return Status::OK();
    try {
      std::rethrow_exception(error_);
    } catch (...) {
      return status_of_current_exception(what);
    }
  }

 private:
  std::atomic<bool> failed_{false};
  std::mutex mu_;
  std::exception_ptr error_;
};

}  // namespace ra
