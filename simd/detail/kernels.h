#pragma once
// Kernel bodies written once on xsimd, templated on the architecture. Included only by the
// per-ISA translation units, each compiled with its own flags and instantiating one Arch, so
// no code compiled for a wider ISA can leak into another level (everything here is a
// template on Arch; there are no non-template inline helpers).
#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "simd/detail/kernel_table.h"

namespace ra::simd::detail {

template <class Arch>
using FloatBatch = xsimd::batch<float, Arch>;

/// Loads zero-padded partial batches through a stack copy; the fallback for tails.
template <class Arch, class T, class Full>
FloatBatch<Arch> load_padded(const T* p, std::size_t n, Full full) noexcept {
  T buf[FloatBatch<Arch>::size] = {};
  std::memcpy(buf, p, n * sizeof(T));
  return full(buf);
}

/// Load<Arch, T>: full(p) reads one batch of T and widens it to f32; partial(p, n) reads n
/// elements and zero-fills the rest. Each ISA TU specialises it for Float16 and BFloat16.
template <class Arch, class T>
struct Load;

template <class Arch>
struct Load<Arch, float> {
  static FloatBatch<Arch> full(const float* p) noexcept {
    return FloatBatch<Arch>::load_unaligned(p);
  }
  static FloatBatch<Arch> partial(const float* p, std::size_t n) noexcept {
    return load_padded<Arch>(p, n, &full);
  }
};

/// A QT x RT tile: out[a*out_stride + b] = <q_a, rows[b]>, one accumulator per pair. Rows come
/// as pointers so that contiguous blocks and gathered ids share this code.
template <class Arch, class T, int QT, int RT>
void tile(const float* q, std::size_t q_stride, const T* const* rows, std::size_t dim, float* out,
          std::size_t out_stride) noexcept {
  using B = FloatBatch<Arch>;
  constexpr std::size_t W = B::size;
  B acc[QT][RT];
  for (int a = 0; a < QT; ++a)
    for (int b = 0; b < RT; ++b) acc[a][b] = B(0.0f);
  std::size_t i = 0;
  for (; i + W <= dim; i += W) {
    B r[RT];
    for (int b = 0; b < RT; ++b) r[b] = Load<Arch, T>::full(rows[b] + i);
    for (int a = 0; a < QT; ++a) {
      const B qa = B::load_unaligned(q + a * q_stride + i);
      for (int b = 0; b < RT; ++b) acc[a][b] = xsimd::fma(qa, r[b], acc[a][b]);
    }
  }
  if (i < dim) {
    const std::size_t rest = dim - i;
    B r[RT];
    for (int b = 0; b < RT; ++b) r[b] = Load<Arch, T>::partial(rows[b] + i, rest);
    for (int a = 0; a < QT; ++a) {
      const B qa = Load<Arch, float>::partial(q + a * q_stride + i, rest);
      for (int b = 0; b < RT; ++b) acc[a][b] = xsimd::fma(qa, r[b], acc[a][b]);
    }
  }
  for (int a = 0; a < QT; ++a)
    for (int b = 0; b < RT; ++b) out[a * out_stride + b] = xsimd::hadd(acc[a][b]);
}

/// A single dot product with two accumulators (latency hiding without a second row).
template <class Arch>
float dot(const float* a, const float* b, std::size_t dim) noexcept {
  using B = FloatBatch<Arch>;
  constexpr std::size_t W = B::size;
  B acc0(0.0f), acc1(0.0f);
  std::size_t i = 0;
  for (; i + 2 * W <= dim; i += 2 * W) {
    acc0 = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), acc0);
    acc1 = xsimd::fma(B::load_unaligned(a + i + W), B::load_unaligned(b + i + W), acc1);
  }
  for (; i + W <= dim; i += W) {
    acc0 = xsimd::fma(B::load_unaligned(a + i), B::load_unaligned(b + i), acc0);
  }
  if (i < dim) {
    acc1 = xsimd::fma(Load<Arch, float>::partial(a + i, dim - i),
                      Load<Arch, float>::partial(b + i, dim - i), acc1);
  }
  return xsimd::hadd(acc0 + acc1);
}

/// Stores the W horizontal sums of W accumulators: out[i] = sum of acc[i]'s lanes. One shuffle
/// tree for all W instead of one per row. Specialised where xsimd's haddp is wrong (its AVX-512
/// version in xsimd 8.1 permutes the lanes).
template <class Arch>
struct ReduceLanes {
  static void run(const FloatBatch<Arch>* acc, float* out) noexcept {
    xsimd::haddp(acc).store_unaligned(out);
  }
};

template <class Arch, class T>
void prefetch_row(const T* p, std::size_t dim) noexcept {
  // Every cache line the row touches, also when it does not start on a line.
  const auto first = reinterpret_cast<std::uintptr_t>(p) & ~std::uintptr_t{63};
  const auto end = reinterpret_cast<std::uintptr_t>(p + dim);
  for (std::uintptr_t line = first; line < end; line += 64) {
    __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 3);
  }
}

/// Prefetches the cache line at byte offset `offset` of each of W rows. The tiles call it once
/// per 64 bytes of their rows, so the misses of the rows ahead are spread over the tile's loads
/// instead of issued in one burst before it (a burst of 64-128 prefetches held 16-bit rows
/// near 80% of a streaming read on this project's AMD EPYC machines; spread, they reach it).
template <std::size_t W>
inline void prefetch_lines(const void* const* ahead, std::size_t offset) noexcept {
  for (std::size_t b = 0; b < W; ++b) __builtin_prefetch(static_cast<const char*>(ahead[b]) + offset, 0, 3);
}

/// One query against W rows (W = batch width), the W sums reduced together, while the W rows
/// of `ahead` are prefetched. The rows are read interleaved: a batch of each row in turn. A
/// struct so that an ISA can replace it for one row type (AVX-512 bf16 widens two elements per
/// lane).
template <class Arch, class T>
struct WideTile {
  static void run(const float* q, const T* const* rows, const void* const* ahead, std::size_t dim,
                  float* out) noexcept {
    using B = FloatBatch<Arch>;
    constexpr std::size_t W = B::size;
    B acc[W];
    for (std::size_t b = 0; b < W; ++b) acc[b] = B(0.0f);
    std::size_t i = 0;
    for (; i + W <= dim; i += W) {
      if ((i * sizeof(T)) % 64 == 0) prefetch_lines<W>(ahead, i * sizeof(T));
      const B qv = B::load_unaligned(q + i);
      for (std::size_t b = 0; b < W; ++b) acc[b] = xsimd::fma(qv, Load<Arch, T>::full(rows[b] + i), acc[b]);
    }
    if (i < dim) {
      const B qv = Load<Arch, float>::partial(q + i, dim - i);
      for (std::size_t b = 0; b < W; ++b) {
        acc[b] = xsimd::fma(qv, Load<Arch, T>::partial(rows[b] + i, dim - i), acc[b]);
      }
    }
    if (dim * sizeof(T) % 64 != 0) prefetch_lines<W>(ahead, dim * sizeof(T) - 1);
    ReduceLanes<Arch>::run(acc, out);
  }
};

/// WideTile's contiguous f32 form: W consecutive rows read one after another, each over four
/// accumulators, with a prefetch `ahead` bytes past each line read. On contiguous f32 rows this
/// address order (one line per load, in sequence) kept the rows kernel at the streaming read on
/// this project's AMD EPYC machines, where the interleaved order (each load a line of another
/// row) stayed 15-25% below it; on 16-bit rows, half a line per load, interleaved was faster.
template <class Arch>
void row_by_row_tile(const float* q, const float* rows, std::size_t stride, std::size_t ahead, std::size_t dim,
                     float* out) noexcept {
  using B = FloatBatch<Arch>;
  constexpr std::size_t W = B::size;
  B acc[W];
  for (std::size_t b = 0; b < W; ++b) {
    const float* row = rows + b * stride;
    B part[4] = {B(0.0f), B(0.0f), B(0.0f), B(0.0f)};
    std::size_t i = 0;
    for (; i + 4 * W <= dim; i += 4 * W) {
      for (std::size_t c = 0; c < 4; ++c) {
        const std::size_t at = i + c * W;
        if ((at * sizeof(float)) % 64 == 0) __builtin_prefetch(reinterpret_cast<const char*>(row + at) + ahead, 0, 3);
        part[c] = xsimd::fma(B::load_unaligned(q + at), B::load_unaligned(row + at), part[c]);
      }
    }
    for (; i + W <= dim; i += W) {
      if ((i * sizeof(float)) % 64 == 0) __builtin_prefetch(reinterpret_cast<const char*>(row + i) + ahead, 0, 3);
      part[0] = xsimd::fma(B::load_unaligned(q + i), B::load_unaligned(row + i), part[0]);
    }
    if (i < dim) {
      part[1] = xsimd::fma(Load<Arch, float>::partial(q + i, dim - i), Load<Arch, float>::partial(row + i, dim - i), part[1]);
      __builtin_prefetch(reinterpret_cast<const char*>(row + dim - 1) + ahead, 0, 3);
    }
    acc[b] = (part[0] + part[1]) + (part[2] + part[3]);
  }
  ReduceLanes<Arch>::run(acc, out);
}

/// How far ahead of the rows being scored the rows and gather kernels prefetch, in rows: 12 KiB
/// of rows, rounded up. On this project's AMD EPYC machines that keeps the rows kernel near the
/// streaming read and enough misses in flight for gathers of 256- and 512-byte rows (a fixed 16
/// rows ahead, 4 KiB of f16 rows, left f16/bf16 gathers at ~40% of that read; 16-32 KiB made
/// f32 rows slower).
template <class T>
constexpr std::size_t rows_ahead(std::size_t dim) noexcept {
  const std::size_t row = dim * sizeof(T);
  return (12288 + row - 1) / std::max<std::size_t>(row, 1);
}

/// f32 rows, tile by tile with row_by_row_tile, the n % W last rows alone.
template <class Arch>
void rows_row_by_row(const float* q, const float* r, std::size_t stride, std::size_t n, std::size_t dim,
                     float* out) noexcept {
  constexpr std::size_t W = FloatBatch<Arch>::size;
  const std::size_t ahead = rows_ahead<float>(dim);
  std::size_t j = 0;
  for (; j + W <= n; j += W) {
    row_by_row_tile<Arch>(q, r + j * stride, stride, std::min(ahead, n - W - j) * stride * sizeof(float), dim, out + j);
  }
  for (; j < n; ++j) {
    const float* p = r + j * stride;
    tile<Arch, float, 1, 1>(q, 0, &p, dim, out + j, 1);
  }
}

/// The f32 rows kernel of a level; a struct so that an ISA can replace it (AVX-512 reads long
/// scans with 256-bit loads).
template <class Arch>
struct F32Rows {
  static void run(const float* q, const float* r, std::size_t stride, std::size_t n, std::size_t dim,
                  float* out) noexcept {
    rows_row_by_row<Arch>(q, r, stride, n, dim, out);
  }
};

template <class Arch, class T>
void rows(const float* q, const void* base, std::size_t stride, std::size_t n, std::size_t dim,
          float* out) noexcept {
  if constexpr (std::is_same_v<T, float>) {
    F32Rows<Arch>::run(q, static_cast<const float*>(base), stride, n, dim, out);
  } else {
    constexpr std::size_t W = FloatBatch<Arch>::size;
    const T* r = static_cast<const T*>(base);
    const T* p[W];
    const void* ahead_rows[W];
    const std::size_t ahead = rows_ahead<T>(dim);
    std::size_t j = 0;
    for (; j + W <= n; j += W) {
      for (std::size_t b = 0; b < W; ++b) {
        p[b] = r + (j + b) * stride;
        ahead_rows[b] = r + std::min(j + ahead + b, n - 1) * stride;
      }
      WideTile<Arch, T>::run(q, p, ahead_rows, dim, out + j);
    }
    for (; j < n; ++j) {
      p[0] = r + j * stride;
      tile<Arch, T, 1, 1>(q, 0, p, dim, out + j, 1);
    }
  }
}

template <class Arch, class T>
void gather(const float* q, const void* base, std::size_t stride, const std::uint32_t* ids,
            std::size_t n, std::size_t dim, float* out) noexcept {
  constexpr std::size_t W = FloatBatch<Arch>::size;
  const T* r = static_cast<const T*>(base);
  // Scattered rows are DRAM misses, each a full latency: keep 12 KiB of rows ahead in flight
  // while scoring these (at least one tile).
  const std::size_t ahead = std::max(rows_ahead<T>(dim), W);
  for (std::size_t k = 0; k < n && k < ahead; ++k) prefetch_row<Arch>(r + ids[k] * stride, dim);
  const T* p[W];
  const void* ahead_rows[W];
  std::size_t j = 0;
  for (; j + W <= n; j += W) {
    for (std::size_t b = 0; b < W; ++b) {
      p[b] = r + ids[j + b] * stride;
      ahead_rows[b] = r + ids[std::min(j + ahead + b, n - 1)] * stride;
    }
    WideTile<Arch, T>::run(q, p, ahead_rows, dim, out + j);
  }
  for (; j < n; ++j) {
    p[0] = r + ids[j] * stride;
    tile<Arch, T, 1, 1>(q, 0, p, dim, out + j, 1);
  }
}

/// Rows outer, queries inner: a tile of rows stays in L1 while every query passes over it.
/// Fewer queries than a tile take the rows kernel each: the tile's one-query remainder reads
/// RT rows interleaved and reduces every row alone (a single-query exact scan of 131072 x 128
/// f32 keys ran at ~14 GB/s through it, a third of the rows kernel's rate).
template <class Arch, class T, int QT, int RT>
void block(const float* q, std::size_t q_stride, std::size_t nq, const void* base,
           std::size_t row_stride, std::size_t nr, std::size_t dim, float* out,
           std::size_t out_stride) noexcept {
  if (nq < static_cast<std::size_t>(QT)) {
    for (std::size_t i = 0; i < nq; ++i) rows<Arch, T>(q + i * q_stride, base, row_stride, nr, dim, out + i * out_stride);
    return;
  }
  const T* r = static_cast<const T*>(base);
  std::size_t j = 0;
  for (; j + RT <= nr; j += RT) {
    const T* p[RT];
    for (int b = 0; b < RT; ++b) p[b] = r + (j + b) * row_stride;
    std::size_t i = 0;
    for (; i + QT <= nq; i += QT) {
      tile<Arch, T, QT, RT>(q + i * q_stride, q_stride, p, dim, out + i * out_stride + j,
                            out_stride);
    }
    for (; i < nq; ++i) tile<Arch, T, 1, RT>(q + i * q_stride, 0, p, dim, out + i * out_stride + j, 1);
  }
  for (; j < nr; ++j) {
    const T* p = r + j * row_stride;
    for (std::size_t i = 0; i < nq; ++i) {
      tile<Arch, T, 1, 1>(q + i * q_stride, 0, &p, dim, out + i * out_stride + j, 1);
    }
  }
}

template <class Arch, class T>
void axpy(float w, const void* x, float* y, std::size_t dim) noexcept {
  using B = FloatBatch<Arch>;
  constexpr std::size_t W = B::size;
  const T* xs = static_cast<const T*>(x);
  const B wb(w);
  std::size_t i = 0;
  for (; i + W <= dim; i += W) {
    xsimd::fma(wb, Load<Arch, T>::full(xs + i), B::load_unaligned(y + i)).store_unaligned(y + i);
  }
  if (i < dim) {
    const std::size_t rest = dim - i;
    float buf[W];
    xsimd::fma(wb, Load<Arch, T>::partial(xs + i, rest), Load<Arch, float>::partial(y + i, rest))
        .store_unaligned(buf);
    std::memcpy(y + i, buf, rest * sizeof(float));
  }
}

/// dst[i] = src[i] as f32, n elements (convert_to_f32: the build converts every candidate key
/// it prunes with, and a scalar call per element was 16% of ra demo's samples, perf).
template <class Arch, class T>
void widen(const void* src, std::size_t n, float* dst) noexcept {
  constexpr std::size_t W = FloatBatch<Arch>::size;
  const T* s = static_cast<const T*>(src);
  std::size_t i = 0;
  for (; i + W <= n; i += W) Load<Arch, T>::full(s + i).store_unaligned(dst + i);
  if (i < n) {
    float buf[W];
    Load<Arch, T>::partial(s + i, n - i).store_unaligned(buf);
    std::memcpy(dst + i, buf, (n - i) * sizeof(float));
  }
}

template <class Arch, int QT, int RT>
constexpr KernelTable make_table(KernelTable::Scan4 scan4 = &scan4_scalar) noexcept {
  return KernelTable{
      &dot<Arch>,
      {&rows<Arch, float>, &rows<Arch, Float16>, &rows<Arch, BFloat16>},
      {&gather<Arch, float>, &gather<Arch, Float16>, &gather<Arch, BFloat16>},
      {&block<Arch, float, QT, RT>, &block<Arch, Float16, QT, RT>, &block<Arch, BFloat16, QT, RT>},
      {&axpy<Arch, float>, &axpy<Arch, Float16>, &axpy<Arch, BFloat16>},
      {&widen<Arch, float>, &widen<Arch, Float16>, &widen<Arch, BFloat16>},
      scan4,
  };
}

}  // namespace ra::simd::detail
