// The partition index file, version 1. Little-endian throughout.
//
//   header (64 bytes): magic "OODXPRT\0" | u32 version | u32 header_bytes | u64 n | u32 dim |
//     u32 lists | u32 subspace_dims | u32 subspaces | u32 flags (bit 0: keys embedded) |
//     u8 dtype | u8[3] 0 | u32[3] 0 | u32 header_crc (of the 60 bytes before)
//   sections (section_file.h), in this order:
//     1 CENTROIDS  lists * dim f32
//     2 CODEBOOKS  subspaces * subspace_dims * 16 f32 (coordinate-major, as in memory)
//     3 SIZES      lists u32 (keys per list; they sum to n)
//     4 IDS        n u32 (list by list; every key exactly once)
//     5 CODES      (sum over lists of ceil(size / 32)) * subspaces * 16 bytes
//     6 KEYS       n * dim * dtype_size (only with flag bit 0)
// load() checks every size against the file before it allocates, every checksum, the ids,
// finite centroids, codebooks and keys, and rejects trailing bytes.
#include <cmath>
#include <cstring>
#include <ostream>

#include "index/api_guard.h"
#include "index/atomic_file.h"
#include "index/checked_size.h"
#include "index/crc32.h"
#include "index/partition_index.h"
#include "index/index_file.h"
#include "index/section_file.h"
#include "simd/inner_product.h"

namespace ra {
namespace {

constexpr std::uint32_t kVersion = 1, kHeaderBytes = 64, kFlagKeys = 1;
enum Tag : std::uint32_t { kCentroids = 1, kCodebooks = 2, kSizes = 3, kIds = 4, kCodes = 5, kKeys = 6 };

#pragma pack(push, 1)
struct Header {
  char magic[8];
  std::uint32_t version, header_bytes;
  std::uint64_t n;
  std::uint32_t dim, lists, subspace_dims, subspaces, flags;
  std::uint8_t dtype, pad[3];
  std::uint32_t reserved[3];
  std::uint32_t header_crc;
};
#pragma pack(pop)
static_assert(sizeof(Header) == kHeaderBytes);

bool all_finite(const std::vector<float>& v) {
  for (float x : v) {
    if (!std::isfinite(x)) return false;
  }
  return true;
}

}  // namespace

class PartitionIndexSerializer {
 public:
  static Status save(const PartitionIndex& idx, const std::string& path) {
    Header h{};
    std::memcpy(h.magic, kPartitionFileMagic, 8);
    h.version = kVersion;
    h.header_bytes = kHeaderBytes;
    h.n = idx.size();
    h.dim = static_cast<std::uint32_t>(idx.dim());
    h.lists = static_cast<std::uint32_t>(idx.lists());
    h.subspace_dims = static_cast<std::uint32_t>(idx.sub_dims_);
    h.subspaces = static_cast<std::uint32_t>(idx.num_sub_);
    h.flags = idx.owned_ ? kFlagKeys : 0;
    h.dtype = static_cast<std::uint8_t>(idx.keys_.dtype);
    h.header_crc = crc32(&h, offsetof(Header, header_crc));
    std::vector<std::uint32_t> sizes(idx.lists());
    for (std::size_t l = 0; l < sizes.size(); ++l) {
      sizes[l] = static_cast<std::uint32_t>(idx.list_begin_[l + 1] - idx.list_begin_[l]);
    }
    return write_file_atomically(path, [&](std::ostream& out) {
      out.write(reinterpret_cast<const char*>(&h), sizeof(h));
      write_section(out, kCentroids, idx.centroids_.data(), idx.centroids_.size() * sizeof(float));
      write_section(out, kCodebooks, idx.tables_.data(), idx.tables_.size() * sizeof(float));
      write_section(out, kSizes, sizes.data(), sizes.size() * sizeof(std::uint32_t));
      write_section(out, kIds, idx.ids_.data(), idx.ids_.size() * sizeof(NodeId));
      write_section(out, kCodes, idx.codes_.data(), idx.codes_.size());
      if (idx.owned_) write_section(out, kKeys, idx.owned_->data(), idx.owned_->bytes());
    });
  }

  static Result<std::unique_ptr<PartitionIndex>> load(const std::string& path, const MatrixView& external) {
    RA_ASSIGN_OR_RETURN(const std::vector<char> file, read_whole_file(path, kHeaderBytes));
    // Every version keeps magic, version and header_bytes first and the header's CRC in its
    // last 4 bytes, so the checksum is checked before the version is believed.
    RA_RETURN_IF_ERROR(check_index_header(file, path, IndexKind::kPartition, kVersion, kHeaderBytes));
    Header h;
    std::memcpy(&h, file.data(), sizeof(h));
    // Only what build() writes: the same ranges as PartitionConfig, no unknown flags or bytes.
    PartitionConfig cfg;
    cfg.lists = h.lists;
    cfg.subspace_dims = h.subspace_dims;
    const bool shaped = h.dim > 0 && h.n <= 0xffffffffull && h.lists > 0 &&
                        h.dtype <= static_cast<std::uint8_t>(DType::kBF16);
    if (const auto lists = shaped ? cfg.resolve_lists(h.n, h.dim) : Result<std::size_t>(Status::Corruption(""));
        !lists.ok() || h.subspaces != PartitionIndex::subspaces_for(h.dim, h.subspace_dims)) {
      return Status::Corruption(path + ": header values out of range" +
                                (lists.ok() || !shaped ? "" : " (" + lists.status().message() + ")"));
    }
    if ((h.flags & ~kFlagKeys) != 0 || h.pad[0] || h.pad[1] || h.pad[2] || h.reserved[0] || h.reserved[1] ||
        h.reserved[2]) {
      return Status::Corruption(path + ": unknown flags or non-zero reserved bytes in the header");
    }
    const auto dtype = static_cast<DType>(h.dtype);
    const bool embedded = (h.flags & kFlagKeys) != 0;
    // Bound every allocation by the file size before making it (codes: at most n + lists
    // blocks' worth, checked exactly once the sizes are read).
    const std::uint64_t code_row = std::uint64_t{h.subspaces} * 16;
    const auto fixed = checked_product({4, h.lists, std::uint64_t{h.dim} + 1});
    const auto ids = checked_mul(4, h.n);
    const auto keys = embedded ? checked_product({h.n, h.dim, dtype_size(dtype)}) : std::optional<std::uint64_t>(0);
    std::optional<std::uint64_t> total;
    if (fixed && ids && keys) total = checked_add(*fixed, *ids);
    if (total) total = checked_add(*total, *keys);
    if (!total || *total > file.size()) {
      return Status::Corruption(path + ": truncated (the header promises more data than the file holds)");
    }

    std::unique_ptr<PartitionIndex> idx(new PartitionIndex());
    idx->sub_dims_ = h.subspace_dims;
    idx->num_sub_ = h.subspaces;
    SectionReader r(file, path, kHeaderBytes);
    idx->centroids_.resize(std::size_t{h.lists} * h.dim);
    RA_RETURN_IF_ERROR(r.section(kCentroids, idx->centroids_.size() * 4ull, idx->centroids_.data()));
    const std::size_t table_floats = std::size_t{h.subspaces} * h.subspace_dims * 16;  // <= 1 MiB: in range
    if (table_floats * 4 > file.size()) return Status::Corruption(path + ": truncated (codebooks)");
    idx->tables_.resize(table_floats);
    RA_RETURN_IF_ERROR(r.section(kCodebooks, idx->tables_.size() * 4ull, idx->tables_.data()));
    if (!all_finite(idx->centroids_) || !all_finite(idx->tables_)) {
      return Status::Corruption(path + ": non-finite centroids or codebooks");
    }
    std::vector<std::uint32_t> sizes(h.lists);
    RA_RETURN_IF_ERROR(r.section(kSizes, h.lists * 4ull, sizes.data()));
    std::vector<std::size_t> list_sizes(sizes.begin(), sizes.end());
    std::uint64_t sum = 0, blocks = 0;
    for (std::uint32_t s : sizes) sum += s, blocks += (s + simd::kCodeBlockRows - 1) / simd::kCodeBlockRows;
    if (sum != h.n) return Status::Corruption(path + ": the lists hold " + std::to_string(sum) + " keys, not n");
    idx->set_list_sizes(list_sizes);
    idx->ids_.resize(h.n);
    RA_RETURN_IF_ERROR(r.section(kIds, h.n * 4ull, idx->ids_.data()));
    std::vector<std::uint8_t> seen(h.n, 0);
    for (NodeId id : idx->ids_) {
      if (id >= h.n || seen[id]++ != 0) return Status::Corruption(path + ": key ids out of range or repeated");
    }
    const auto code_bytes = checked_mul(blocks, code_row);
    if (!code_bytes || *code_bytes > file.size()) return Status::Corruption(path + ": truncated (codes)");
    idx->codes_.resize(*code_bytes);
    RA_RETURN_IF_ERROR(r.section(kCodes, *code_bytes, idx->codes_.data()));
    if (embedded) {
      if (external.data != nullptr) {
        return Status::InvalidArgument(path + ": the index embeds its keys; pass no external keys");
      }
      RA_ASSIGN_OR_RETURN(Matrix owned, Matrix::zeros(h.n, h.dim, dtype));
      RA_RETURN_IF_ERROR(r.section(kKeys, *keys, owned.data()));
      idx->owned_ = std::make_shared<const Matrix>(std::move(owned));
      idx->keys_ = idx->owned_->view();
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
    if (!r.at_end()) return Status::Corruption(path + ": unexpected bytes after the last section");
    if (const Status v = validate_matrix(idx->keys_, "index keys"); !v.ok()) {
      return embedded ? Status::Corruption(path + ": " + v.message()) : v;
    }
    return idx;
  }
};

Status PartitionIndex::save(const std::string& path) const {
  RA_API_TRY
  return PartitionIndexSerializer::save(*this, path);
  RA_API_CATCH("save")
}

Result<std::unique_ptr<PartitionIndex>> PartitionIndex::load(const std::string& path, const MatrixView& external_keys) {
  RA_API_TRY
  return PartitionIndexSerializer::load(path, external_keys);
  RA_API_CATCH("load")
}

}  // namespace ra
