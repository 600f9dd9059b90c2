#pragma once
// Configuration of retrieval attention for one layer (RetrievalLayer, RetrievalDecoder).
#include <cstdint>

#include "kv_view.h"
#include "../index/build_config.h"
#include "../index/result.h"
#include "../index/search.h"

namespace ra::attention {

enum class IndexSharing : std::uint8_t {
  kPerKvHead,     // one index per KV head, guided by all its query heads' prefill queries
  kPerQueryHead,  // one index per query head (the published design)
};

struct RetrievalConfig {
  SinkWindow static_set;
  std::uint32_t top_k = 100;               // keys retrieved per query head and step
  std::uint32_t beam = 320;                // search beam (raised to top_k if smaller)
  // Attend every key the search scored (its visited set, about beam x a few), not only the top_k:
  // their scores are paid for already; only their values are read in addition.
  bool attend_scored = false;
  // When > 0, each index's beam is measured at build: the smallest from `beam` up (steps of
  // 1.5x) whose recall@top_k on held-out prefill queries (the last 32 positions of each of its
  // query heads) reaches beam_recall. A longer context needs a wider beam for the same recall.
  double beam_recall = 0;
  IndexSharing sharing = IndexSharing::kPerKvHead;
  std::uint32_t max_train_queries = 16384;  // per index: evenly spaced prefill queries (0: all)
  std::uint32_t merge_batch = 256;         // RetrievalDecoder: tail tokens that trigger an absorb
  std::uint32_t num_threads = 0;           // own task arena of this size (0: the shared arena)
  std::uint32_t query_history = 4096;      // per sequence: recent decode queries kept to guide
                                           // the index built by the first absorb (no prefill index)
  // An estimate of the keys neither retrieved nor static (attention/rest_estimate.h), per index
  // where held-out prefill queries show it lowers the error (the rest are left out, as before).
  bool estimate_rest = false;
  std::uint32_t estimate_cluster = 128;    // keys per cluster of the estimate
  std::uint32_t estimate_exact = 8;        // clusters of highest estimated mass attended exactly
  BuildConfig build;

  Status validate() const;
};

}  // namespace ra::attention
