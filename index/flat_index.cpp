#include "index/flat_index.h"

#include <omp.h>

#include <algorithm>
#include <new>
#include <string>

#include "index/api_guard.h"
#include "index/threading.h"
#include "index/topk.h"
#include "simd/inner_product.h"

namespace ra {
namespace {

// A tile of 64 queries x 1024 keys: the query block (32 KiB at d=128) and the score tile
// (256 KiB) stay in L2 while the keys stream through once per query block.
constexpr std::size_t kQueryBlock = 64;
constexpr std::size_t kKeyBlock = 1024;

}  // namespace

Result<FlatIndex> FlatIndex::over(const MatrixView& keys) {
  RA_API_TRY
  RA_RETURN_IF_ERROR(validate_matrix(keys, "keys"));
  FlatIndex index;
  index.keys_ = keys;
  return index;
  RA_API_CATCH("flat index")
}

Result<FlatIndex> FlatIndex::owning(Matrix keys) {
  RA_API_TRY
  auto owned = std::make_shared<const Matrix>(std::move(keys));
  RA_ASSIGN_OR_RETURN(FlatIndex index, over(owned->view()));
  index.owned_ = std::move(owned);
  return index;
  RA_API_CATCH("flat index")
}

Status FlatIndex::search(const MatrixView& queries, const SearchParams& p,
                         SearchResults* out) const {
  RA_API_TRY
  RA_RETURN_IF_ERROR(validate_f32_matrix(queries, "queries"));
  if (queries.dim != dim()) {
    return Status::InvalidArgument("queries have dimension " + std::to_string(queries.dim) +
                                   ", the keys " + std::to_string(dim()));
  }
  RA_RETURN_IF_ERROR(p.validate(size(), /*uses_beam=*/false));
  const std::size_t k = p.k;
  const int threads = resolve_threads(p.num_threads);
  const std::size_t nq = queries.rows, n = size();
  const std::size_t query_blocks = (nq + kQueryBlock - 1) / kQueryBlock;
  // With fewer query blocks than threads, the keys are split into parts as well; each
  // (query block, key part) task keeps its own top-k, merged at the end.
  const std::size_t key_blocks = (n + kKeyBlock - 1) / kKeyBlock;
  const std::size_t parts = std::min<std::size_t>(
      key_blocks, std::max<std::size_t>(1, static_cast<std::size_t>(threads) / query_blocks));
  const std::size_t tasks = query_blocks * parts;
  try {
    std::vector<Label> part_ids(parts * nq * k);
    std::vector<float> part_scores(parts * nq * k);
    // Scratch is allocated before the parallel region: nothing inside it may throw.
    // Sized for the queries there are: one query needs one heap and a 4 KiB score tile, not 64
    // heaps and 256 KiB (freshly mapped pages at every call).
    const std::size_t block_queries = std::min(nq, kQueryBlock);
    std::vector<std::vector<float>> tiles(threads, std::vector<float>(block_queries * kKeyBlock));
    std::vector<std::vector<TopK>> thread_heaps(threads);
    for (auto& heaps : thread_heaps) {
      for (std::size_t i = 0; i < block_queries; ++i) heaps.emplace_back(k);  // sized here, not copied
    }
#pragma omp parallel num_threads(threads)
    {
      std::vector<float>& tile = tiles[omp_get_thread_num()];
      std::vector<TopK>& heaps = thread_heaps[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
      for (std::size_t t = 0; t < tasks; ++t) {
        const std::size_t qb = t / parts, part = t % parts;
        const std::size_t q0 = qb * kQueryBlock, q1 = std::min(nq, q0 + kQueryBlock);
        const std::size_t kb0 = key_blocks * part / parts, kb1 = key_blocks * (part + 1) / parts;
        for (std::size_t i = q0; i < q1; ++i) heaps[i - q0].reset(k);
        for (std::size_t kb = kb0; kb < kb1; ++kb) {
          const std::size_t r0 = kb * kKeyBlock, r1 = std::min(n, r0 + kKeyBlock);
          simd::dot_block(queries.f32_row(q0), queries.stride, q1 - q0, keys_.row_bytes(r0),
                          keys_.dtype, keys_.stride, r1 - r0, keys_.dim, tile.data(), kKeyBlock);
          for (std::size_t i = q0; i < q1; ++i) {
            heaps[i - q0].push_all(tile.data() + (i - q0) * kKeyBlock, r1 - r0, static_cast<Label>(r0));
          }
        }
        for (std::size_t i = q0; i < q1; ++i) {
          const std::size_t off = (part * nq + i) * k;
          heaps[i - q0].extract(part_ids.data() + off, part_scores.data() + off);
        }
      }
    }
    out->num_queries = nq;
    out->k = k;
    out->ids.resize(nq * k);
    out->scores.resize(nq * k);
    if (parts == 1) {
      out->ids.swap(part_ids);
      out->scores.swap(part_scores);
      return Status::OK();
    }
    TopK merged(k);
    for (std::size_t i = 0; i < nq; ++i) {
      for (std::size_t part = 0; part < parts; ++part) {
        const std::size_t off = (part * nq + i) * k;
        for (std::size_t j = 0; j < k && part_ids[off + j] != kNoLabel; ++j) {
          merged.push(part_scores[off + j], part_ids[off + j]);
        }
      }
      merged.extract(out->ids.data() + i * k, out->scores.data() + i * k);
    }
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("flat search: out of memory for " + std::to_string(nq) +
                                     " queries x k = " + std::to_string(k));
  }
  return Status::OK();
  RA_API_CATCH("flat search")
}

}  // namespace ra
