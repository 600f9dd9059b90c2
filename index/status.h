#pragma once
// Errors as values at the library boundary (shaped like LevelDB's Status). An OK status holds
// no allocation, so returning and copying it costs nothing.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace ra {

enum class StatusCode : std::uint8_t {
  kOk,
  kInvalidArgument,
  kNotFound,
  kIoError,
  kCorruption,
  kUnsupported,
  kResourceExhausted,
  kInternal,
  kCancelled,
};

std::string_view status_code_name(StatusCode code) noexcept;

class [[nodiscard]] Status {
 public:
  Status() noexcept = default;
  Status(StatusCode code, std::string message);

  static Status OK() noexcept { return Status(); }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Corruption(std::string m) { return {StatusCode::kCorruption, std::move(m)}; }
  static Status Unsupported(std::string m) { return {StatusCode::kUnsupported, std::move(m)}; }
  static Status ResourceExhausted(std::string m) {
    return {StatusCode::kResourceExhausted, std::move(m)};
  }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }

  bool ok() const noexcept { return rep_ == nullptr; }
  StatusCode code() const noexcept { return rep_ ? rep_->code : StatusCode::kOk; }
  /// The message alone ("" when OK).
  const std::string& message() const noexcept;
  /// "Corruption: keys.ra: section 2 checksum mismatch", or "OK".
  std::string to_string() const;
  /// The same status with "context: " put before its message (OK stays OK).
  Status with_context(std::string_view context) const;

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::shared_ptr<const Rep> rep_;
};

}  // namespace ra

/// Returns the status of `expr` from the enclosing function when it is not OK.
#define RA_RETURN_IF_ERROR(expr)                       \
  do {                                                 \
    ::ra::Status ra_status_ = (expr);                  \
    if (!ra_status_.ok()) return ra_status_;           \
  } while (false)
