// libFuzzer target: GraphIndex::load, then a search and an append when it loads, or (bit 1 of
// the first input byte) PartitionIndex::load, then a search. Bit 0 of the first byte means
// "recompute every checksum first", so that mutations reach the checks behind the checksums
// (sizes, ranges, ids) instead of stopping at a CRC. Both formats share the header's CRC at
// byte 60 and the section layout.
#include <cstring>
#include <vector>

#include "index/crc32.h"
#include "index/graph_index.h"
#include "index/matrix.h"
#include "index/partition_index.h"
#include "tests/fuzz/fuzz_file_reader.h"

namespace {

// Rewrites the header CRC and each section's CRC in place, following the sections' sizes as
// far as they stay inside the buffer.
void fix_checksums(std::vector<std::uint8_t>& b) {
  if (b.size() < 64) return;
  const std::uint32_t h = ra::crc32(b.data(), 60);
  std::memcpy(b.data() + 60, &h, 4);
  std::size_t pos = 64;
  while (pos + 12 <= b.size()) {
    std::uint64_t bytes;
    std::memcpy(&bytes, b.data() + pos + 4, 8);
    if (bytes > b.size() - pos - 12 || b.size() - pos - 12 - bytes < 4) return;
    const std::uint32_t c = ra::crc32(b.data() + pos + 12, bytes);
    std::memcpy(b.data() + pos + 12 + bytes, &c, 4);
    pos += 12 + bytes + 4;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::vector<std::uint8_t> file(data + 1, data + size);
  if (data[0] & 1) fix_checksums(file);
  if (data[0] & 2) {
    auto index = ra::PartitionIndex::load(ra::fuzz::input_file(file.data(), file.size(), ".rap"));
    if (!index.ok()) return 0;
    const ra::PartitionIndex& idx = **index;
    std::vector<float> q(idx.dim(), 0.5f);
    std::vector<ra::Label> ids(4);
    std::vector<float> scores(4);
    ra::PartitionContext ctx;
    const auto k = static_cast<std::uint32_t>(std::min<std::size_t>(4, idx.size()));
    (void)idx.search_one(q.data(), {k, static_cast<std::uint32_t>(std::min<std::size_t>(4, idx.lists())), 0}, ctx,
                         ids.data(), scores.data());
    return 0;
  }
  auto index = ra::GraphIndex::load(ra::fuzz::input_file(file.data(), file.size(), ".ra"));
  if (!index.ok()) return 0;
  ra::GraphIndex& idx = **index;
  std::vector<float> q(idx.dim(), 0.5f);
  std::vector<ra::Label> ids(4);
  std::vector<float> scores(4);
  ra::SearchContext ctx = idx.make_context();
  (void)idx.search_one(q.data(), {static_cast<std::uint32_t>(std::min<std::size_t>(4, idx.size())), 16, 1}, ctx,
                       ids.data(), scores.data());
  if (idx.owns_keys() && idx.size() < 4096) {
    ra::Matrix rows = ra::Matrix::zeros(2, idx.dim()).value();
    for (std::size_t i = 0; i < 2 * idx.dim(); ++i) rows.f32_row(0)[i] = static_cast<float>(i % 7) - 3.0f;
    (void)idx.append(rows.view());
  }
  return 0;
}
