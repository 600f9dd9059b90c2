#pragma once
// Result<T>: a T or the non-OK Status that explains why there is none.
#include <cassert>
#include <optional>
#include <utility>

#include "status.h"

namespace ra {

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit on purpose, like absl
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::Internal("Result constructed from an OK status");
  }

  bool ok() const noexcept { return value_.has_value(); }
  const Status& status() const noexcept { return status_; }

  T& value() & { assert(ok()); return *value_; }
  const T& value() const& { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

}  // namespace ra

#define RA_CONCAT_INNER_(a, b) a##b
#define RA_CONCAT_(a, b) RA_CONCAT_INNER_(a, b)
/// `RA_ASSIGN_OR_RETURN(auto x, make_x());` declares x from a Result or returns its status.
#define RA_ASSIGN_OR_RETURN(lhs, expr) \
  RA_ASSIGN_OR_RETURN_IMPL_(RA_CONCAT_(ra_result_, __LINE__), lhs, expr)
#define RA_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()
