#include "index/search.h"

#include <string>

#include "index/search_scratch.h"

namespace ra {

Status SearchParams::validate(std::size_t index_size, bool uses_beam) const {
  if (k == 0 || k > index_size) {
    return Status::InvalidArgument("k = " + std::to_string(k) + " must be in [1, " +
                                   std::to_string(index_size) + "] (the number of keys)");
  }
  if (uses_beam && beam < k) {
    return Status::InvalidArgument("beam (" + std::to_string(beam) + ") must be >= k (" +
                                   std::to_string(k) + ")");
  }
  if (uses_beam && beam > kMaxBeam) {
    return Status::InvalidArgument("beam (" + std::to_string(beam) + ") must be <= " + std::to_string(kMaxBeam));
  }
  return Status::OK();
}

SearchContext::SearchContext() : scratch_(std::make_unique<SearchScratch>()) {}
SearchContext::~SearchContext() = default;
SearchContext::SearchContext(SearchContext&&) noexcept = default;
SearchContext& SearchContext::operator=(SearchContext&&) noexcept = default;

}  // namespace ra
