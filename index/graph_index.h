#pragma once
// GraphIndex: MIPS for out-of-distribution queries. A graph over the keys whose edges come from
// where training queries land (their kNN, projected onto the keys; RoarGraph-style), searched
// best-first from one entry point. score(q, key) = <q, key>, larger is better.
//
// Thread safety: search_one / search are const and may run concurrently (one SearchContext per
// thread). append / extend modify the index and need exclusive access.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "aligned_allocator.h"
#include "build_config.h"
#include "graph.h"
#include "matrix.h"
#include "result.h"
#include "search.h"

namespace ra {

/// Hubs are at most 1/kMaxHubFraction of an index's keys.
inline constexpr std::size_t kMaxHubFraction = 64;

class Pruner;       // internal: diversity pruning on centred keys
struct LinkState;   // internal: in-degrees and spanning tree kept across insertions

class GraphIndex {
 public:
  /// Builds over `keys` (f32, f16 or bf16; n x d) guided by `train_queries` (f32, m x d),
  /// samples of the query distribution, which may differ from the keys' distribution.
  static Result<std::unique_ptr<GraphIndex>> build(const MatrixView& keys,
                                                   const MatrixView& train_queries,
                                                   const BuildConfig& cfg,
                                                   KeyOwnership ownership = KeyOwnership::kCopy,
                                                   BuildReport* report = nullptr);
  /// For callers that already have the training queries' kNN (num_train x knn_k ids, best
  /// first), e.g. from a GPU. `entry_hint` is the main search entry (choose_entry's pick, as
  /// build() uses);
  /// the other entries are the best keys of evenly spaced training queries.
  static Result<std::unique_ptr<GraphIndex>> build_from_knn(
      const MatrixView& keys, std::span<const NodeId> knn, std::size_t knn_k, NodeId entry_hint,
      const BuildConfig& cfg, KeyOwnership ownership = KeyOwnership::kCopy,
      BuildReport* report = nullptr);
  /// Loads a file written by save(). An index saved without its vectors (kReference) needs
  /// them back as `external_keys` (same n and dim).
  static Result<std::unique_ptr<GraphIndex>> load(const std::string& path,
                                                  const MatrixView& external_keys = {});
  /// Writes one self-describing, versioned, checksummed file (temporary + rename).
  Status save(const std::string& path) const;

  std::size_t size() const noexcept { return graph_.size(); }
  std::size_t dim() const noexcept { return keys_.dim; }
  DType dtype() const noexcept { return keys_.dtype; }
  /// Where every search starts: the main entry first, then keys spread over the query
  /// distribution (so a search lands near its answer's region in one step).
  std::span<const NodeId> entry_points() const noexcept { return entries_; }
  /// Keys scored exactly by every search and kept out of the graph (sorted ids; see
  /// BuildConfig::hub_share). Empty when the training queries share no such keys.
  std::span<const NodeId> hubs() const noexcept { return hubs_; }
  const Graph& graph() const noexcept { return graph_; }
  const MatrixView& keys() const noexcept { return keys_; }
  bool owns_keys() const noexcept { return owns_keys_; }
  std::uint64_t memory_bytes() const noexcept;
  ~GraphIndex();

  /// A context sized for this index; reuse it across queries on one thread.
  SearchContext make_context() const;
  /// Top-k of one query (f32, dim floats) into ids/scores (k slots each, best first).
  /// Allocates nothing once ctx has been used with this index.
  Status search_one(const float* query, const SearchParams& p, SearchContext& ctx, Label* ids,
                    float* scores, SearchStats* stats = nullptr) const;
  /// All queries on p.num_threads OpenMP threads; per-query stats when `stats` is given.
  Status search(const MatrixView& queries, const SearchParams& p, SearchResults* out,
                std::vector<SearchStats>* stats = nullptr) const;

  /// Owning index: adds `rows` as new keys, linked by search and pruning, searchable at once;
  /// the amortised cost per key does not grow with the index (see repair()).
  Status append(const MatrixView& rows);
  /// Referencing index: the caller's keys grew to `all_keys` (same dim and dtype, as many or
  /// more rows, possibly moved); rows past the old size become new keys. With as many rows it
  /// only follows the buffer to its new place.
  Status extend(const MatrixView& all_keys);
  /// Relinks keys that no search from the entry points reaches any more (a full-graph pass):
  /// a cycle of edge swaps during insertion can, rarely, cut a key off. Insertion runs it
  /// itself once the index has grown by 10% since the last repair (so its cost per inserted
  /// key stays constant); call it to restore every key now. Needs exclusive access.
  Status repair();

 private:
  GraphIndex();
  static Result<std::unique_ptr<GraphIndex>> assemble(const MatrixView& keys, KeyOwnership own,
                                                      const BuildConfig& cfg);
  /// Build steps 2-4 on an assembled index, from the training queries' kNN; fills *report.
  Status link_from_knn(std::span<const NodeId> knn, std::size_t knn_k, NodeId entry, BuildReport* report);
  Status link_new_keys(std::size_t first);

  friend class GraphIndexSerializer;
  BuildConfig cfg_;
  bool owns_keys_ = false;
  AlignedVector<std::byte> storage_;  // the keys, dense, when the index owns them
  MatrixView keys_;                 // over storage_ or over the caller's memory
  Graph graph_;
  std::vector<NodeId> entries_;
  std::vector<NodeId> hubs_;
  std::unique_ptr<Pruner> pruner_;
  std::unique_ptr<LinkState> link_state_;  // insertion's state: null until the first insertion
  std::size_t inserted_since_repair_ = 0;
};

/// The key that scores highest against the mean training query (f32, same dim as the keys): a
/// main entry point that is good for a typical query of that distribution.
NodeId choose_entry(const MatrixView& keys, const MatrixView& train_queries);

}  // namespace ra
