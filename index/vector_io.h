#pragma once
// Vector files. Matrices: .fbin (u32 n, u32 d, then n*d f32, row-major, the format the
// DiskANN and RoarGraph tools read) and .npy (f32 or f16, C order, any rank). Ids: .ibin
// (u32 n, u32 k, then n*k i32). All little-endian.
//
// A path may carry a numpy-style selector that picks a 2-D matrix out of a larger array:
// "keys.npy[1,3]" (layer 1, head 3 of a (layer, head, T, d) array), "queries.npy[1,6,1536:]"
// (rows 1536 to the end), "keys.fbin[:1000]". Integer indices drop an axis, `a:b` slices keep
// it (negative bounds count from the end); the axes left must be exactly two: rows and dims.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "matrix.h"
#include "result.h"
#include "types.h"

namespace ra {

/// Reads "PATH" or "PATH[selector]" (.fbin or .npy, by extension) converted to `as`.
/// Every size is checked against the file; errors name the file and the problem.
Result<Matrix> read_matrix(const std::string& spec, DType as = DType::kF32);

/// An array of rank >= 2 whose leading axes are flattened into the rows of `data`:
/// shape (h, t, d) is held as an (h * t) x d matrix, row (i, j) at i * t + j.
struct Tensor {
  std::vector<std::size_t> shape;
  Matrix data;
};
/// Like read_matrix, but keeps any number (>= 2) of selected axes.
Result<Tensor> read_tensor(const std::string& spec, DType as = DType::kF32);

/// Writes an f32 .fbin (other dtypes are converted). Written to a temporary file and renamed,
/// so an existing file is never left half-written.
Status write_fbin(const std::string& path, const MatrixView& m);
/// Writes a 2-D .npy of the view's dtype (f32 or f16; numpy has no bf16).
Status write_npy(const std::string& path, const MatrixView& m);
/// Writes by extension: .fbin or .npy.
Status write_matrix(const std::string& path, const MatrixView& m);

Result<IdMatrix> read_ibin(const std::string& path);
/// Ids must fit in i32 (kNoLabel is written as -1).
Status write_ibin(const std::string& path, const Label* ids, std::size_t rows, std::size_t cols);

/// One item of a selector: an index, or a slice [begin, end) with optional bounds.
struct SelectorItem {
  bool is_index = false;
  std::int64_t index = 0;
  std::optional<std::int64_t> begin, end;
};
/// Splits "PATH[items]" into the path and its items ("PATH" alone gives no items).
Status parse_matrix_spec(const std::string& spec, std::string* path,
                         std::vector<SelectorItem>* items);

}  // namespace ra
