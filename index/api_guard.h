#pragma once
// Internal: the exception barrier of the public API. No exception crosses it; every public
// function of index/ and attention/ that can throw (allocation, the standard library) runs its
// body as RA_API_TRY ... RA_API_CATCH("what"), which returns the exception as a Status:
// ResourceExhausted for std::bad_alloc, Internal (with the exception's text) for anything else.
#include <string_view>

#include "index/status.h"

namespace ra {

/// The Status of the exception being handled; call only inside a catch block.
Status status_of_current_exception(std::string_view what) noexcept;

}  // namespace ra

#define RA_API_TRY try {
#define RA_API_CATCH(what)                               \
  }                                                      \
  catch (...) {                                          \
    return ::ra::status_of_current_exception(what);      \
  }
