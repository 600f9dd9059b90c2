#include "index/types.h"

#include <cmath>
#include <string>
#include <vector>

#include "index/api_guard.h"

namespace ra {

Status validate_matrix(const MatrixView& m, std::string_view what, bool check_finite) {
  RA_API_TRY
  const std::string name(what);
  if (m.rows == 0) return Status::InvalidArgument(name + " is empty (0 rows)");
  if (m.dim == 0) return Status::InvalidArgument(name + " has dimension 0");
  if (m.data == nullptr) return Status::InvalidArgument(name + " has no data (null pointer)");
  if (m.stride < m.dim) {
    return Status::InvalidArgument(name + ": row stride " + std::to_string(m.stride) +
                                   " is smaller than the dimension " + std::to_string(m.dim));
  }
  if (!check_finite) return Status::OK();
  std::vector<float> row(m.dim);
  for (std::size_t i = 0; i < m.rows; ++i) {
    convert_to_f32(m.row_bytes(i), m.dtype, m.dim, row.data());
    for (std::size_t j = 0; j < m.dim; ++j) {
      if (!std::isfinite(row[j])) {
        return Status::InvalidArgument(name + " contains a non-finite value (" +
                                       std::to_string(row[j]) + ") at row " + std::to_string(i) +
                                       ", column " + std::to_string(j));
      }
    }
  }
  return Status::OK();
  RA_API_CATCH("validation")
}

Status validate_f32_matrix(const MatrixView& m, std::string_view what, bool check_finite) {
  if (m.dtype != DType::kF32) {
    return Status::InvalidArgument(std::string(what) + " must be f32, got " +
                                   std::string(dtype_name(m.dtype)));
  }
  return validate_matrix(m, what, check_finite);
}

Status validate_keys_and_queries(const MatrixView& keys, const MatrixView& queries) {
  RA_RETURN_IF_ERROR(validate_matrix(keys, "keys"));
  RA_RETURN_IF_ERROR(validate_f32_matrix(queries, "queries"));
  if (keys.dim != queries.dim) {
    return Status::InvalidArgument("keys have dimension " + std::to_string(keys.dim) + ", queries " +
                                   std::to_string(queries.dim));
  }
  return Status::OK();
}

}  // namespace ra
