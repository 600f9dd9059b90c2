#include "index/search.h"

#include <string>

#include "index/search_scratch.h"

namespace ra {

Status SearchParams::validate(std::size_t index_size, bool uses_beam, std::size_t hubs) const {
  if (k == 0 || k > index_size) {
    return Status::InvalidArgument("k = " + std::to_string(k) + " must be in [1, " +
                                   std::to_string(index_size) + "] (the number of keys)");
  }
  if (uses_beam && (beam == 0 || beam + hubs < k)) {
    return Status::InvalidArgument("beam (" + std::to_string(beam) + ") must be >= k (" +
                                   std::to_string(k) + ")" +
                                   (hubs ? " less the index's " + std::to_string(hubs) + " hubs" : "") +
                                   ", and >= 1");
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
void SearchContext::set_scored_log(std::vector<NodeId>* log) noexcept { scratch_->scored_log = log; }

}  // namespace ra
