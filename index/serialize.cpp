// The .ra index file, version 1 or 2. Little-endian throughout.
//
//   header (64 bytes): magic "OODXIDX\0" | u32 version | u32 header_bytes | u64 n | u32 dim |
//     u32 max_degree | u32 num_entries | u32 flags (bit 0: vectors embedded) | u8 dtype | u8[3] 0 |
//     u32 query_knn | u32 build_beam | u32 num_hubs (0 in version 1) | u32 reserved 0 |
//     u32 header_crc (of the 60 bytes before)
//   sections, in this order: u32 tag | u64 bytes | payload | u32 crc32(payload)
//     1 MEAN      dim f32 (the key mean used for centred pruning)
//     5 ENTRIES   num_entries u32 (search entry points, the main one first)
//     2 DEGREES   n u32
//     3 NEIGHBORS n * max_degree u32
//     4 VECTORS   n * dim * dtype_size (only with flag bit 0)
//     6 HUBS      num_hubs u32, ascending (version 2, only with num_hubs > 0)
// An index without hubs is written as version 1, so files readers of version 1 accept stay so.
// load() checks every size against the file and every checksum, and rejects trailing bytes.
#include <cmath>
#include <cstring>
#include <ostream>

#include "index/api_guard.h"
#include "index/atomic_file.h"
#include "index/checked_size.h"
#include "index/crc32.h"
#include "index/index_file.h"
#include "index/section_file.h"
#include "index/graph_build/prune.h"
#include "index/threading.h"
#include "index/graph_index.h"
#include "index/search.h"

namespace ra {
namespace {

constexpr std::uint32_t kVersion = 2;
constexpr std::uint32_t kHeaderBytes = 64;
constexpr std::uint32_t kFlagVectors = 1;
enum Tag : std::uint32_t { kMean = 1, kDegrees = 2, kNeighbors = 3, kVectors = 4, kEntries = 5, kHubs = 6 };

#pragma pack(push, 1)
struct Header {
  char magic[8];
  std::uint32_t version, header_bytes;
  std::uint64_t n;
  std::uint32_t dim, max_degree, num_entries, flags;
  std::uint8_t dtype, pad[3];
  std::uint32_t query_knn, build_beam, num_hubs, reserved;
  std::uint32_t header_crc;
};
#pragma pack(pop)
static_assert(sizeof(Header) == kHeaderBytes);

std::uint32_t header_crc(const Header& h) { return crc32(&h, offsetof(Header, header_crc)); }

}  // namespace

class GraphIndexSerializer {
 public:
  static Status save(const GraphIndex& idx, const std::string& path) {
    Header h{};
    std::memcpy(h.magic, kGraphFileMagic, 8);
    h.version = idx.hubs_.empty() ? 1 : 2;
    h.header_bytes = kHeaderBytes;
    h.n = idx.size();
    h.dim = static_cast<std::uint32_t>(idx.dim());
    h.max_degree = idx.graph_.max_degree();
    h.num_entries = static_cast<std::uint32_t>(idx.entries_.size());
    h.flags = idx.owns_keys_ ? kFlagVectors : 0;
    h.dtype = static_cast<std::uint8_t>(idx.keys_.dtype);
    h.query_knn = idx.cfg_.query_knn;
    h.build_beam = idx.cfg_.build_beam;
    h.num_hubs = static_cast<std::uint32_t>(idx.hubs_.size());
    h.header_crc = header_crc(h);
    return write_file_atomically(path, [&](std::ostream& out) {
      out.write(reinterpret_cast<const char*>(&h), sizeof(h));
      const auto& mean = idx.pruner_->mean();
      write_section(out, kMean, mean.data(), mean.size() * sizeof(float));
      write_section(out, kEntries, idx.entries_.data(), idx.entries_.size() * sizeof(NodeId));
      write_section(out, kDegrees, idx.graph_.degrees().data(), idx.size() * sizeof(std::uint32_t));
      write_section(out, kNeighbors, idx.graph_.slots().data(), idx.graph_.slots().size() * sizeof(NodeId));
      if (idx.owns_keys_) write_section(out, kVectors, idx.storage_.data(), idx.storage_.size());
      if (!idx.hubs_.empty()) write_section(out, kHubs, idx.hubs_.data(), idx.hubs_.size() * sizeof(NodeId));
    });
  }

  static Result<std::unique_ptr<GraphIndex>> load(const std::string& path, const MatrixView& external) {
    RA_ASSIGN_OR_RETURN(const std::vector<char> file, read_whole_file(path, kHeaderBytes));
    const std::size_t size = file.size();
    // Every version keeps magic, version and header_bytes first and the header's CRC in its
    // last 4 bytes, so the checksum is checked before the version is believed.
    RA_RETURN_IF_ERROR(check_index_header(file, path, IndexKind::kGraph, kVersion, kHeaderBytes));
    Header h;
    std::memcpy(&h, file.data(), sizeof(h));
    // Only what build() writes: the same ranges as BuildConfig, no unknown flags or bytes.
    BuildConfig cfg;
    cfg.max_degree = h.max_degree;
    cfg.query_knn = h.query_knn;
    cfg.build_beam = h.build_beam;
    cfg.num_entries = h.num_entries;
    cfg.storage = static_cast<DType>(h.dtype);
    if (const Status v = cfg.validate(); !v.ok() || h.dim == 0 || h.n == 0 || h.n > 0xffffffffull ||
                                         h.dtype > static_cast<std::uint8_t>(DType::kBF16)) {
      return Status::Corruption(path + ": header values out of range" + (v.ok() ? "" : " (" + v.message() + ")"));
    }
    if ((h.flags & ~kFlagVectors) != 0 || h.pad[0] || h.pad[1] || h.pad[2] || h.reserved || (h.version == 1 && h.num_hubs != 0) ||
        h.num_hubs > h.n / kMaxHubFraction || h.num_hubs > kMaxBeam) {
      return Status::Corruption(path + ": unknown flags or non-zero reserved bytes in the header");
    }
    const auto dtype = static_cast<DType>(h.dtype);
    const bool embedded = (h.flags & kFlagVectors) != 0;
    // Bound every allocation by the file size before making it.
    const auto graph_bytes = checked_mul(h.n, 4ull + 4ull * h.max_degree);
    const auto vector_bytes = embedded ? checked_product({h.n, h.dim, dtype_size(dtype)}) : std::optional<std::uint64_t>(0);
    const auto mean_bytes = checked_mul(4, h.dim + h.num_hubs);
    std::optional<std::uint64_t> total;
    if (graph_bytes && vector_bytes && mean_bytes) total = checked_add(*graph_bytes, *vector_bytes);
    if (total) total = checked_add(*total, *mean_bytes);
    if (!total || *total > size) {
      return Status::Corruption(path + ": truncated (the header promises more data than the file holds)");
    }

    std::unique_ptr<GraphIndex> idx(new GraphIndex());
    idx->cfg_ = cfg;
    SectionReader r(file, path, kHeaderBytes);
    std::vector<float> mean(h.dim);
    RA_RETURN_IF_ERROR(r.section(kMean, h.dim * 4ull, mean.data()));
    idx->entries_.resize(h.num_entries);
    RA_RETURN_IF_ERROR(r.section(kEntries, h.num_entries * 4ull, idx->entries_.data()));
    for (NodeId e : idx->entries_) {
      if (e >= h.n) return Status::Corruption(path + ": entry point out of range");
    }
    std::vector<std::uint32_t> degrees(h.n);
    RA_RETURN_IF_ERROR(r.section(kDegrees, h.n * 4ull, degrees.data()));
    std::vector<NodeId> slots(h.n * h.max_degree);
    RA_RETURN_IF_ERROR(r.section(kNeighbors, slots.size() * 4ull, slots.data()));
    for (std::size_t v = 0; v < h.n; ++v) {
      if (degrees[v] > h.max_degree) return Status::Corruption(path + ": degree above the maximum");
      for (std::uint32_t j = 0; j < degrees[v]; ++j) {
        if (slots[v * h.max_degree + j] >= h.n) return Status::Corruption(path + ": neighbour id out of range");
      }
    }
    if (embedded) {
      if (external.data != nullptr) {
        return Status::InvalidArgument(path + ": the index embeds its keys; pass no external keys");
      }
      idx->storage_.resize(*vector_bytes);
      RA_RETURN_IF_ERROR(r.section(kVectors, *vector_bytes, idx->storage_.data()));
      idx->owns_keys_ = true;
      idx->keys_ = {idx->storage_.data(), dtype, h.n, h.dim, h.dim};
    } else {
      if (external.data == nullptr) {
        return Status::InvalidArgument(path + ": the index was saved without its keys; pass them to load()");
      }
      if (external.rows != h.n || external.dim != h.dim || external.dtype != dtype) {
        return Status::InvalidArgument(path + ": external keys must be " + std::to_string(h.n) + " x " +
                                       std::to_string(h.dim) + " " + std::string(dtype_name(dtype)));
      }
      idx->keys_ = external;
    }
    idx->hubs_.resize(h.num_hubs);
    if (h.num_hubs > 0) RA_RETURN_IF_ERROR(r.section(kHubs, h.num_hubs * 4ull, idx->hubs_.data()));
    for (std::size_t i = 0; i < idx->hubs_.size(); ++i) {
      if (idx->hubs_[i] >= h.n || (i > 0 && idx->hubs_[i] <= idx->hubs_[i - 1])) {
        return Status::Corruption(path + ": hub ids out of range or not ascending");
      }
    }
    if (!idx->hubs_.empty()) {  // hubs are outside the graph: else a search returns one twice
      std::vector<std::uint8_t> is_hub(h.n, 0);
      for (NodeId hub : idx->hubs_) is_hub[hub] = 1;
      bool inside = false;
      for (NodeId e : idx->entries_) inside |= is_hub[e] != 0;
      for (std::size_t v = 0; v < h.n && !inside; ++v) {
        inside |= is_hub[v] != 0 && degrees[v] != 0;
        for (std::uint32_t j = 0; j < degrees[v]; ++j) inside |= is_hub[slots[v * h.max_degree + j]] != 0;
      }
      if (inside) return Status::Corruption(path + ": a hub is linked into the graph");
    }
    if (!r.at_end()) return Status::Corruption(path + ": unexpected bytes after the last section");
    for (float m : mean) {
      if (!std::isfinite(m)) return Status::Corruption(path + ": non-finite key mean");
    }
    if (const Status v = validate_matrix(idx->keys_, "index keys"); !v.ok()) {
      return embedded ? Status::Corruption(path + ": " + v.message()) : v;
    }
    idx->graph_ = Graph::from_arrays(h.max_degree, std::move(degrees), std::move(slots));
    idx->pruner_ = std::make_unique<Pruner>(idx->keys_, h.max_degree, std::move(mean), resolve_threads(0));
    return idx;
  }
};

Status GraphIndex::save(const std::string& path) const {
  RA_API_TRY
  return GraphIndexSerializer::save(*this, path);
  RA_API_CATCH("save")
}

Result<std::unique_ptr<GraphIndex>> GraphIndex::load(const std::string& path,
                                                     const MatrixView& external_keys) {
  RA_API_TRY
  try {
    return GraphIndexSerializer::load(path, external_keys);
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(path + ": out of memory while loading");
  }
  RA_API_CATCH("load")
}

}  // namespace ra
