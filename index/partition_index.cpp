#include "index/partition_index.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "index/kmeans.h"
#include "index/threading.h"
#include "index/topk.h"
#include "simd/inner_product.h"

namespace ra {

struct PartitionContext::Buffers {
  std::vector<float> centroid_scores, table, exact;
  std::vector<std::uint32_t> order, estimate, estimate_ids, candidates, histogram;
  std::vector<std::uint8_t> lut;
  std::vector<std::uint16_t> sums;
  TopK best;
};

PartitionContext::PartitionContext() : buffers_(std::make_unique<Buffers>()) {}
PartitionContext::~PartitionContext() = default;
PartitionContext::PartitionContext(PartitionContext&&) noexcept = default;
PartitionContext& PartitionContext::operator=(PartitionContext&&) noexcept = default;

namespace {

constexpr std::size_t kCodewords = 16, kBlock = simd::kCodeBlockRows;
// 8-bit table entries summed in 16 bits (simd::scan_codes4): at most 256 subspaces.
constexpr std::size_t kMaxSubspaces = 256;

std::size_t padded_subspaces(std::size_t dim, std::size_t sub_dims) {
  const std::size_t g = simd::kCodeSubspaceGroup, s = (dim + sub_dims - 1) / sub_dims;
  return (s + g - 1) / g * g;
}

// The subspace's nearest codeword (L2) to x (w floats); columns: coordinate i of the 16
// codewords at columns + i*16.
std::uint8_t nearest_codeword(const float* x, const float* columns, std::size_t w) {
  float dist[kCodewords] = {};
  for (std::size_t i = 0; i < w; ++i) {
    for (std::size_t j = 0; j < kCodewords; ++j) {
      const float e = x[i] - columns[i * kCodewords + j];
      dist[j] += e * e;
    }
  }
  return static_cast<std::uint8_t>(std::min_element(dist, dist + kCodewords) - dist);
}

// out = row r of keys minus centroid c (dim floats).
void residual_of(const MatrixView& keys, std::size_t r, const float* c, float* out) {
  convert_to_f32(keys.row_bytes(r), keys.dtype, keys.dim, out);
  for (std::size_t i = 0; i < keys.dim; ++i) out[i] -= c[i];
}

}  // namespace

Result<std::size_t> PartitionConfig::resolve_lists(std::size_t n, std::size_t dim) const {
  if (subspace_dims == 0 || subspace_dims > 64) {
    return Status::InvalidArgument("subspace_dims must be in [1, 64], got " + std::to_string(subspace_dims));
  }
  if (padded_subspaces(dim, subspace_dims) > kMaxSubspaces) {
    return Status::InvalidArgument("dim " + std::to_string(dim) + " in subspaces of " + std::to_string(subspace_dims) +
                                   " needs more than " + std::to_string(kMaxSubspaces) +
                                   " 4-bit codes: raise subspace_dims");
  }
  if (iterations < 0 || iterations > 1000) return Status::InvalidArgument("iterations must be in [0, 1000]");
  if (max_train_rows < kCodewords) return Status::InvalidArgument("max_train_rows must be at least 16");
  if (n < kCodewords) return Status::InvalidArgument("a partition index needs at least 16 keys, got " + std::to_string(n));
  const std::size_t l = lists != 0 ? lists : static_cast<std::size_t>(std::lround(2.0 * std::sqrt(static_cast<double>(n))));
  if (l == 0 || l > n) {
    return Status::InvalidArgument("lists must be in [1, " + std::to_string(n) + "], got " + std::to_string(l));
  }
  return l;
}

Result<std::unique_ptr<PartitionIndex>> PartitionIndex::build(const MatrixView& keys, const PartitionConfig& cfg,
                                                              KeyOwnership ownership) {
  RA_RETURN_IF_ERROR(validate_matrix(keys, "keys"));
  if (keys.rows > std::numeric_limits<NodeId>::max()) return Status::InvalidArgument("too many keys for 32-bit ids");
  RA_ASSIGN_OR_RETURN(const std::size_t num_lists, cfg.resolve_lists(keys.rows, keys.dim));
  std::unique_ptr<PartitionIndex> idx(new PartitionIndex());
  if (ownership == KeyOwnership::kCopy) {
    RA_ASSIGN_OR_RETURN(Matrix copy, Matrix::copy_of(keys, keys.dtype));
    idx->owned_ = std::make_shared<const Matrix>(std::move(copy));
    idx->keys_ = idx->owned_->view();
  } else {
    idx->keys_ = keys;
  }
  const MatrixView& k = idx->keys_;
  const std::size_t n = k.rows, d = k.dim, sd = cfg.subspace_dims;
  const std::size_t stride = std::max<std::size_t>(1, n / cfg.max_train_rows);
  const int threads = resolve_threads(cfg.num_threads);

  // 1. The lists.
  RA_ASSIGN_OR_RETURN(KMeans lists, fit_kmeans(k, num_lists, cfg.iterations, stride, cfg.num_threads));
  idx->centroids_ = std::move(lists.centroids);

  // 2. The codebooks, one k-means per subspace on the residuals of a sample of the keys.
  idx->sub_dims_ = sd;
  idx->num_sub_ = padded_subspaces(d, sd);
  const std::size_t sample_rows = (n + stride - 1) / stride;
  std::vector<float> residual(sample_rows * d);
  for (std::size_t r = 0; r < sample_rows; ++r) {
    residual_of(k, r * stride, &idx->centroids_[lists.assignment[r * stride] * d], &residual[r * d]);
  }
  idx->tables_.assign(idx->num_sub_ * sd * kCodewords, 0.0f);
  std::vector<float> columns(sample_rows * sd);
  for (std::size_t m = 0; m * sd < d; ++m) {
    const std::size_t w = std::min(sd, d - m * sd);
    for (std::size_t r = 0; r < sample_rows; ++r) std::copy_n(&residual[r * d + m * sd], w, &columns[r * w]);
    RA_ASSIGN_OR_RETURN(KMeans book, fit_kmeans(MatrixView::f32(columns.data(), sample_rows, w), kCodewords,
                                                cfg.iterations, 1, 1));
    for (std::size_t j = 0; j < kCodewords; ++j) {
      for (std::size_t i = 0; i < w; ++i) idx->tables_[(m * sd + i) * kCodewords + j] = book.centroids[j * w + i];
    }
  }

  // 3. The lists' ids, and every key's codes in its list's blocks.
  std::vector<std::size_t> sizes(num_lists, 0);
  for (std::uint32_t a : lists.assignment) ++sizes[a];
  idx->set_list_sizes(sizes);
  idx->ids_.resize(n);
  std::vector<std::size_t> fill(idx->list_begin_.begin(), idx->list_begin_.end() - 1);
  for (std::size_t r = 0; r < n; ++r) idx->ids_[fill[lists.assignment[r]]++] = static_cast<NodeId>(r);
  const std::size_t block_bytes = idx->num_sub_ * 16;
  idx->codes_.assign(idx->block_begin_.back() * block_bytes, 0);
  std::vector<std::vector<float>> rows(threads, std::vector<float>(d));  // before the region: nothing inside throws
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
  for (std::size_t l = 0; l < num_lists; ++l) {
    float* x = rows[static_cast<std::size_t>(omp_get_thread_num())].data();
    const float* c = &idx->centroids_[l * d];
    for (std::size_t p = idx->list_begin_[l]; p < idx->list_begin_[l + 1]; ++p) {
      residual_of(k, idx->ids_[p], c, x);
      const std::size_t slot = p - idx->list_begin_[l];
      std::uint8_t* block = &idx->codes_[(idx->block_begin_[l] + slot / kBlock) * block_bytes];
      const std::size_t j = slot % kBlock;
      for (std::size_t m = 0; m * sd < d; ++m) {
        const std::uint8_t code =
            nearest_codeword(x + m * sd, &idx->tables_[m * sd * kCodewords], std::min(sd, d - m * sd));
        block[m * 16 + j % 16] |= static_cast<std::uint8_t>(j < 16 ? code : code << 4);
      }
    }
  }
  return idx;
}

void PartitionIndex::set_list_sizes(const std::vector<std::size_t>& sizes) {
  list_begin_.assign(sizes.size() + 1, 0);
  block_begin_.assign(sizes.size() + 1, 0);
  for (std::size_t l = 0; l < sizes.size(); ++l) {
    list_begin_[l + 1] = list_begin_[l] + sizes[l];
    block_begin_[l + 1] = block_begin_[l] + (sizes[l] + kBlock - 1) / kBlock;
  }
}

std::size_t PartitionIndex::subspaces_for(std::size_t dim, std::size_t subspace_dims) noexcept {
  return padded_subspaces(dim, subspace_dims);
}

std::uint64_t PartitionIndex::memory_bytes() const noexcept {
  std::uint64_t bytes = codes_.size() + ids_.size() * sizeof(NodeId) + (centroids_.size() + tables_.size()) * sizeof(float) +
                        (list_begin_.size() + block_begin_.size()) * sizeof(std::size_t);
  if (owned_) bytes += owned_->bytes();
  return bytes;
}

Status PartitionIndex::search_one(const float* query, const PartitionSearchParams& p, PartitionContext& ctx,
                                  Label* ids, float* scores, SearchStats* stats) const {
  const std::size_t n = size(), d = dim(), num_lists = lists(), sd = sub_dims_;
  if (query == nullptr || ids == nullptr || scores == nullptr) return Status::InvalidArgument("null query or output");
  if (p.k == 0 || p.k > n) return Status::InvalidArgument("k must be in [1, " + std::to_string(n) + "], got " + std::to_string(p.k));
  if (p.probes == 0 || p.probes > num_lists) {
    return Status::InvalidArgument("probes must be in [1, " + std::to_string(num_lists) + "], got " + std::to_string(p.probes));
  }
  const std::size_t reorder = std::min<std::size_t>(n, p.reorder != 0 ? p.reorder : 4 * std::size_t{p.k});
  if (reorder < p.k) {
    return Status::InvalidArgument("reorder (" + std::to_string(p.reorder) + ") must be at least k (" + std::to_string(p.k) + ")");
  }
  PartitionContext::Buffers& b = ctx.buffers();
  b.centroid_scores.resize(num_lists);
  b.order.resize(num_lists);
  b.table.resize(num_sub_ * kCodewords);
  b.lut.resize(num_sub_ * kCodewords);

  // The lists whose centroids score highest.
  simd::dot_rows(query, centroids_.data(), DType::kF32, d, num_lists, d, b.centroid_scores.data());
  std::iota(b.order.begin(), b.order.end(), 0u);
  const float* cs = b.centroid_scores.data();
  auto higher = [cs](std::uint32_t a, std::uint32_t c) { return cs[a] > cs[c] || (cs[a] == cs[c] && a < c); };
  // Best first: the estimates' bar then rises early, and few later keys pass it.
  std::nth_element(b.order.begin(), b.order.begin() + (p.probes - 1), b.order.end(), higher);
  std::sort(b.order.begin(), b.order.begin() + p.probes, higher);

  // The query's tables: <q_m, codeword>, shifted to start at 0 in each subspace and scaled so
  // that the widest subspace spans 0..255.
  float widest = 0;
  std::fill(b.table.begin(), b.table.end(), 0.0f);
  for (std::size_t m = 0; m < num_sub_; ++m) {
    float* t = &b.table[m * kCodewords];
    for (std::size_t i = 0; i < sd && m * sd + i < d; ++i) {
      const float qi = query[m * sd + i];
      const float* column = &tables_[(m * sd + i) * kCodewords];  // coordinate i of the 16 codewords
      for (std::size_t j = 0; j < kCodewords; ++j) t[j] += qi * column[j];
    }
    float low = t[0], high = t[0];
    for (std::size_t j = 1; j < kCodewords; ++j) low = std::min(low, t[j]), high = std::max(high, t[j]);
    widest = std::max(widest, high - low);
    for (std::size_t j = 0; j < kCodewords; ++j) t[j] -= low;
  }
  const float scale = widest > 0 ? 255.0f / widest : 0.0f, unit = widest / 255.0f;  // 8-bit steps
  for (std::size_t i = 0; i < b.table.size(); ++i) b.lut[i] = static_cast<std::uint8_t>(b.table[i] * scale + 0.5f);

  // Scan: every probed key's estimate <q, centroid> + sum * unit (+ the subspaces' lows, the
  // same for every key), in integer steps of `unit` above the lowest probed centroid score,
  // binned by a histogram as it is made. The best `reorder` are those in bins from `edge` up
  // (taking any of the edge bin's: a bin is a few steps wide, far below the codes' error).
  // Lists go best first, so the edge rises early, and a later key below it is dropped at once.
  std::uint32_t max_sum = 0;  // the largest sum a code can reach
  for (std::size_t m = 0; m < num_sub_; ++m) {
    max_sum += *std::max_element(&b.lut[m * kCodewords], &b.lut[(m + 1) * kCodewords]);
  }
  const float step = unit > 0 ? unit : 1.0f, lowest = cs[b.order[p.probes - 1]];
  auto offset_of = [&](std::uint32_t l) {
    return static_cast<std::uint32_t>(std::min(std::lround((cs[l] - lowest) / step), 1L << 30));
  };
  constexpr std::size_t kBins = 2048;
  int shift = 0;
  while (((offset_of(b.order[0]) + max_sum) >> shift) >= kBins) ++shift;
  b.histogram.assign(kBins, 0);
  std::size_t scanned = 0;
  for (std::size_t i = 0; i < p.probes; ++i) scanned += list_begin_[b.order[i] + 1] - list_begin_[b.order[i]];
  b.estimate.resize(scanned);
  b.estimate_ids.resize(scanned);
  const std::size_t block_bytes = num_sub_ * 16;
  std::uint32_t edge = 0;
  std::size_t kept = 0, at_or_above_edge = 0;
  for (std::size_t i = 0; i < p.probes; ++i) {
    const std::uint32_t l = b.order[i];
    const std::size_t first = list_begin_[l], count = list_begin_[l + 1] - first;
    if (count == 0) continue;
    const std::size_t blocks = block_begin_[l + 1] - block_begin_[l];
    if (b.sums.size() < blocks * kBlock) b.sums.resize(blocks * kBlock);
    simd::scan_codes4(&codes_[block_begin_[l] * block_bytes], blocks, num_sub_, b.lut.data(), b.sums.data());
    const std::uint32_t offset = offset_of(l);
    const NodeId* list_ids = &ids_[first];
    for (std::size_t j = 0; j < count; ++j) {  // branch-free: early lists keep most keys
      const std::uint32_t e = offset + b.sums[j], bin = e >> shift;
      ++b.histogram[bin];
      b.estimate[kept] = bin;
      b.estimate_ids[kept] = list_ids[j];
      const bool keep = bin >= edge;
      kept += static_cast<std::size_t>(keep);
      at_or_above_edge += static_cast<std::size_t>(keep);
    }
    while (edge + 1 < kBins && at_or_above_edge - b.histogram[edge] >= reorder) at_or_above_edge -= b.histogram[edge++];
  }
  // Every key of a bin above the edge, and the edge bin's first ones up to `reorder`.
  const std::size_t above = at_or_above_edge - b.histogram[edge];
  const std::size_t take = above < reorder ? reorder - above : 0;
  b.candidates.resize(kept);
  std::size_t chosen = 0, from_edge = 0;
  for (std::size_t j = 0; j < kept; ++j) {
    const std::uint32_t bin = b.estimate[j];
    const bool on_edge = bin == edge;
    b.candidates[chosen] = b.estimate_ids[j];
    chosen += static_cast<std::size_t>(bin > edge || (on_edge && from_edge < take));
    from_edge += static_cast<std::size_t>(on_edge);
  }
  b.candidates.resize(chosen);

  // The reorder: the best estimates scored exactly.
  b.exact.resize(b.candidates.size());
  simd::dot_gather(query, keys_.data, keys_.dtype, keys_.stride, b.candidates.data(), b.candidates.size(), d,
                   b.exact.data());
  b.best.reset(p.k);
  for (std::size_t i = 0; i < b.candidates.size(); ++i) b.best.push(b.exact[i], b.candidates[i]);
  b.best.extract(ids, scores);
  if (stats != nullptr) {
    stats->score_evals += num_lists + scanned + b.candidates.size();
    stats->hops += p.probes;
  }
  return Status::OK();
}

}  // namespace ra
