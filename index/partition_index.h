#pragma once
// PartitionIndex: MIPS by partitions and 4-bit codes, beside the query-guided graph, for heads
// whose answers gather in a few regions of key space. Keys are split into k-means lists; each
// key's residual to its list's centroid is coded in subspaces of `subspace_dims` dimensions, 16
// codewords each (4 bits). A query scores every centroid, scans the codes of its best `probes`
// lists with 8-bit lookup tables (simd::scan_codes4, about a nanosecond a key), and rescores
// the `reorder` best of those estimates exactly. score(q, key) = <q, key>, larger is better.
//
// Thread safety: search_one is const and may run concurrently (one context per thread).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "matrix.h"
#include "result.h"
#include "search.h"

namespace ra {

struct PartitionConfig {
  std::size_t lists = 0;             // k-means lists; 0: 2 sqrt(n)
  std::size_t subspace_dims = 2;     // dimensions per 4-bit code
  int iterations = 10;               // Lloyd steps of the lists' and of each codebook's k-means
  std::size_t max_train_rows = 65536;  // k-means fitted on an evenly spaced sample of the keys
  std::uint32_t num_threads = 0;     // build threads (0: all)
  /// Every field in range for n keys of `dim` dimensions; the lists resolved (0 -> 2 sqrt(n)).
  Result<std::size_t> resolve_lists(std::size_t n, std::size_t dim) const;
};

struct PartitionSearchParams {
  std::uint32_t k = 10;
  std::uint32_t probes = 8;   // lists scanned, in [1, lists()]
  std::uint32_t reorder = 0;  // best estimates rescored exactly, >= k (0: 4k); at most n
};

/// One thread's reusable buffers for PartitionIndex::search_one: a search allocates nothing
/// once a context has served one as large. Opaque and movable; not thread-safe: one per thread.
class PartitionContext {
 public:
  PartitionContext();
  ~PartitionContext();
  PartitionContext(PartitionContext&&) noexcept;
  PartitionContext& operator=(PartitionContext&&) noexcept;
  struct Buffers;  // internal
  Buffers& buffers() noexcept { return *buffers_; }

 private:
  std::unique_ptr<Buffers> buffers_;
};

class PartitionIndex {
 public:
  /// Builds over `keys` (f32, f16 or bf16; n x d, finite), copied in their dtype or
  /// referenced (the caller's memory must then outlive the index).
  static Result<std::unique_ptr<PartitionIndex>> build(const MatrixView& keys, const PartitionConfig& cfg,
                                                       KeyOwnership ownership = KeyOwnership::kCopy);

  std::size_t size() const noexcept { return keys_.rows; }
  std::size_t dim() const noexcept { return keys_.dim; }
  std::size_t lists() const noexcept { return list_begin_.size() - 1; }
  /// Subspaces per code, padded to a multiple of simd::kCodeSubspaceGroup.
  std::size_t subspaces() const noexcept { return num_sub_; }
  const MatrixView& keys() const noexcept { return keys_; }
  /// Everything the index holds beyond referenced keys: codes, ids, centroids, codebooks, and
  /// the keys when it owns them.
  std::uint64_t memory_bytes() const noexcept;

  /// Subspaces of a key's code at `dim` dimensions in subspaces of `subspace_dims`: padded to a
  /// multiple of simd::kCodeSubspaceGroup (16 bytes of codes per 32 keys each).
  static std::size_t subspaces_for(std::size_t dim, std::size_t subspace_dims) noexcept;

  /// Writes the index to one file, replaced atomically (an existing file stays whole until the
  /// new one is complete). The keys are embedded when the index owns them (kCopy).
  Status save(const std::string& path) const;
  /// Loads a file written by save(), every size, id and checksum checked. An index saved
  /// without its keys (built with kReference) needs them again as external_keys, of the same
  /// shape and dtype, which must then outlive it.
  static Result<std::unique_ptr<PartitionIndex>> load(const std::string& path, const MatrixView& external_keys = {});

  /// Top-k of one query (f32, dim floats) into ids / scores (k slots each, best first).
  /// stats->score_evals counts every score: the centroids, the codes scanned, the reorder;
  /// stats->hops the lists scanned.
  Status search_one(const float* query, const PartitionSearchParams& p, PartitionContext& ctx, Label* ids,
                    float* scores, SearchStats* stats = nullptr) const;

 private:
  friend class PartitionIndexSerializer;
  PartitionIndex() = default;
  /// list_begin_ and block_begin_ from the lists' sizes.
  void set_list_sizes(const std::vector<std::size_t>& sizes);
  std::shared_ptr<const Matrix> owned_;
  MatrixView keys_;
  std::size_t sub_dims_ = 2, num_sub_ = 0;
  std::vector<float> centroids_;   // lists x dim
  // The codebooks, num_sub x sub_dims x 16 (coordinate-major: the 16 codewords' coordinate i
  // side by side, so that a query's tables and the encoding are 16-wide loops); zero past dim.
  std::vector<float> tables_;
  std::vector<std::size_t> list_begin_;   // lists + 1 offsets into ids_
  std::vector<std::size_t> block_begin_;  // lists + 1 offsets, in code blocks, into codes_
  std::vector<NodeId> ids_;        // the keys of list l at [list_begin_[l], list_begin_[l + 1])
  std::vector<std::uint8_t> codes_;  // per list, its keys' codes in blocks of 32 (simd::scan_codes4)
};

}  // namespace ra
