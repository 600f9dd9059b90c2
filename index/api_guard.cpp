#include "index/api_guard.h"

#include <exception>
#include <new>
#include <string>

#include "index/api_guard.h"

namespace ra {

Status status_of_current_exception(std::string_view what) noexcept {
  try {
    try {
      throw;
    } catch (const std::bad_alloc&) {
      return Status::ResourceExhausted(std::string(what) + ": out of memory");
    } catch (const std::exception& e) {
      return Status::Internal(std::string(what) + ": " + e.what());
    } catch (...) {
      return Status::Internal(std::string(what) + ": unknown exception");
    }
  } catch (...) {  // building the message itself failed
    return Status::ResourceExhausted("out of memory");
  }
}

}  // namespace ra
