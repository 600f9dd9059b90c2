#include "index/vector_io.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "index/api_guard.h"
#include "index/atomic_file.h"
#include "index/checked_size.h"

namespace ra {
namespace {

// An array as stored in a file: its shape, element type and where its data starts.
struct StoredArray {
  std::vector<std::size_t> shape;
  DType dtype = DType::kF32;
  std::uint64_t data_offset = 0;
};

std::string shape_string(const std::vector<std::size_t>& shape) {
  std::string s = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    s += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return s + (shape.size() == 1 ? ",)" : ")");
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Result<std::uint64_t> file_size(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) return Status::IoError(path + ": cannot open (" + ec.message() + ")");
  return static_cast<std::uint64_t>(size);
}

Status read_exact(std::ifstream& in, std::uint64_t offset, void* dst, std::size_t bytes,
                  const std::string& path) {
  in.seekg(static_cast<std::streamoff>(offset));
  in.read(static_cast<char*>(dst), static_cast<std::streamsize>(bytes));
  if (!in) return Status::IoError(path + ": read failed at byte " + std::to_string(offset));
  return Status::OK();
}

// Every size below comes from the file: the payload's byte count is computed with overflow
// checks and must equal what the file holds, so no axis can exceed the file's length and no
// allocation is made for data that is not there.
Status check_payload(const std::string& path, std::uint64_t size, const StoredArray& a) {
  const auto elems = checked_product(a.shape);
  const auto bytes = elems ? checked_mul(*elems, dtype_size(a.dtype)) : std::nullopt;
  const auto expected = bytes ? checked_add(a.data_offset, *bytes) : std::nullopt;
  if (!expected) {
    return Status::Corruption(path + ": shape " + shape_string(a.shape) + " overflows 64-bit sizes (corrupted header?)");
  }
  if (size < *expected) {
    return Status::Corruption(path + ": truncated: shape " + shape_string(a.shape) + " needs " +
                              std::to_string(*expected) + " bytes, the file has " +
                              std::to_string(size));
  }
  if (size > *expected) {
    return Status::Corruption(path + ": " + std::to_string(size - *expected) +
                              " unexpected bytes after the data of shape " + shape_string(a.shape));
  }
  return Status::OK();
}

Result<StoredArray> read_fbin_header(std::ifstream& in, const std::string& path, std::uint64_t size) {
  if (size < 8) return Status::Corruption(path + ": too short for an .fbin header (8 bytes)");
  std::uint32_t nd[2];
  RA_RETURN_IF_ERROR(read_exact(in, 0, nd, sizeof(nd), path));
  StoredArray a{{nd[0], nd[1]}, DType::kF32, 8};
  RA_RETURN_IF_ERROR(check_payload(path, size, a));
  return a;
}

// Finds `'key': value` in a numpy header dict and returns the value text.
std::string_view dict_value(std::string_view header, std::string_view key) {
  const std::string quoted = "'" + std::string(key) + "'";
  auto pos = header.find(quoted);
  if (pos == std::string_view::npos) return {};
  pos = header.find(':', pos + quoted.size());
  if (pos == std::string_view::npos) return {};
  std::string_view rest = header.substr(pos + 1);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  return rest;
}

Result<StoredArray> read_npy_header(std::ifstream& in, const std::string& path, std::uint64_t size) {
  char pre[10];
  if (size < sizeof(pre)) return Status::Corruption(path + ": too short for an .npy header");
  RA_RETURN_IF_ERROR(read_exact(in, 0, pre, sizeof(pre), path));
  if (std::memcmp(pre, "\x93NUMPY", 6) != 0) {
    return Status::Corruption(path + ": not an .npy file (bad magic)");
  }
  const int major = static_cast<unsigned char>(pre[6]);
  std::uint64_t header_len = 0, header_start = 0;
  if (major == 1) {
    header_len = static_cast<unsigned char>(pre[8]) | (static_cast<unsigned char>(pre[9]) << 8);
    header_start = 10;
  } else if (major == 2 || major == 3) {
    std::uint32_t len;
    if (size < 12) return Status::Corruption(path + ": truncated .npy header");
    RA_RETURN_IF_ERROR(read_exact(in, 8, &len, 4, path));
    header_len = len;
    header_start = 12;
  } else {
    return Status::Unsupported(path + ": .npy format version " + std::to_string(major));
  }
  if (header_start + header_len > size) return Status::Corruption(path + ": truncated .npy header");
  std::string header(header_len, '\0');
  RA_RETURN_IF_ERROR(read_exact(in, header_start, header.data(), header_len, path));

  StoredArray a;
  a.data_offset = header_start + header_len;
  const std::string_view descr = dict_value(header, "descr");
  if (descr.rfind("'<f4'", 0) == 0 || descr.rfind("'=f4'", 0) == 0) {
    a.dtype = DType::kF32;
  } else if (descr.rfind("'<f2'", 0) == 0 || descr.rfind("'=f2'", 0) == 0) {
    a.dtype = DType::kF16;
  } else {
    return Status::Unsupported(path + ": dtype " + std::string(descr.substr(0, descr.find(','))) +
                               " is not supported (little-endian float32 or float16 only)");
  }
  if (dict_value(header, "fortran_order").rfind("False", 0) != 0) {
    return Status::Unsupported(path + ": Fortran-order arrays are not supported (save C order)");
  }
  std::string_view shape = dict_value(header, "shape");
  if (shape.empty() || shape.front() != '(') return Status::Corruption(path + ": no shape in header");
  shape = shape.substr(1, shape.find(')') - 1);
  while (!shape.empty()) {
    while (!shape.empty() && (shape.front() == ' ' || shape.front() == ',')) shape.remove_prefix(1);
    if (shape.empty()) break;
    std::size_t v = 0;
    auto [ptr, ec] = std::from_chars(shape.data(), shape.data() + shape.size(), v);
    if (ec != std::errc()) return Status::Corruption(path + ": malformed shape in header");
    a.shape.push_back(v);
    shape.remove_prefix(static_cast<std::size_t>(ptr - shape.data()));
  }
  RA_RETURN_IF_ERROR(check_payload(path, size, a));
  return a;
}

Result<std::int64_t> parse_int(std::string_view s, const std::string& spec) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || ptr != s.data() + s.size()) {
    return Status::InvalidArgument(spec + ": '" + std::string(s) + "' is not an integer in the selector");
  }
  return v;
}

// One remaining axis of a selection: `count` entries from `begin`, `stride` elements apart.
struct Axis {
  std::size_t begin, count, stride;
};

}  // namespace

Status parse_matrix_spec(const std::string& spec, std::string* path,
                         std::vector<SelectorItem>* items) {
  RA_API_TRY
  items->clear();
  const auto open = spec.rfind('[');
  if (spec.empty() || spec.back() != ']' || open == std::string::npos) {
    *path = spec;
    return Status::OK();
  }
  *path = spec.substr(0, open);
  std::string_view body(spec.data() + open + 1, spec.size() - open - 2);
  if (body.find_first_not_of(' ') == std::string_view::npos) {
    return Status::InvalidArgument(spec + ": empty selector");
  }
  while (true) {
    const auto comma = body.find(',');
    const std::string_view item = body.substr(0, comma);
    SelectorItem sel;
    const auto colon = item.find(':');
    if (colon == std::string_view::npos) {
      sel.is_index = true;
      RA_ASSIGN_OR_RETURN(sel.index, parse_int(item, spec));
    } else {
      const std::string_view lo = item.substr(0, colon), hi = item.substr(colon + 1);
      if (hi.find(':') != std::string_view::npos) {
        return Status::InvalidArgument(spec + ": slice steps are not supported");
      }
      if (lo.find_first_not_of(' ') != std::string_view::npos) {
        RA_ASSIGN_OR_RETURN(sel.begin, parse_int(lo, spec));
      }
      if (hi.find_first_not_of(' ') != std::string_view::npos) {
        RA_ASSIGN_OR_RETURN(sel.end, parse_int(hi, spec));
      }
    }
    items->push_back(sel);
    if (comma == std::string_view::npos) break;
    body.remove_prefix(comma + 1);
  }
  return Status::OK();
  RA_API_CATCH("selector")
}

namespace {

// Reads the selection of `spec` with the kept axes' shape; the last kept axis becomes the
// columns and all earlier kept axes are flattened into rows.
Result<Tensor> read_selection(const std::string& spec, DType as) {
  std::string path;
  std::vector<SelectorItem> items;
  RA_RETURN_IF_ERROR(parse_matrix_spec(spec, &path, &items));
  RA_ASSIGN_OR_RETURN(const std::uint64_t size, file_size(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(path + ": cannot open for reading");

  Result<StoredArray> stored = Status::Unsupported(
      path + ": unknown extension (expected .fbin or .npy)");
  if (ends_with(path, ".fbin")) stored = read_fbin_header(in, path, size);
  if (ends_with(path, ".npy")) stored = read_npy_header(in, path, size);
  if (!stored.ok()) return stored.status();
  const StoredArray& a = *stored;

  if (items.size() > a.shape.size()) {
    return Status::InvalidArgument(spec + ": " + std::to_string(items.size()) +
                                   " selector items for an array of shape " + shape_string(a.shape));
  }
  std::vector<std::size_t> strides(a.shape.size(), 1);
  for (std::size_t i = a.shape.size(); i-- > 1;) strides[i - 1] = strides[i] * a.shape[i];
  std::uint64_t base = 0;
  std::vector<Axis> kept;
  for (std::size_t ax = 0; ax < a.shape.size(); ++ax) {
    const auto extent = static_cast<std::int64_t>(a.shape[ax]);
    if (ax < items.size() && items[ax].is_index) {
      std::int64_t idx = items[ax].index;
      if (idx < 0) idx += extent;
      if (idx < 0 || idx >= extent) {
        return Status::InvalidArgument(spec + ": index " + std::to_string(items[ax].index) +
                                       " is out of range for axis " + std::to_string(ax) +
                                       " of size " + std::to_string(extent));
      }
      base += static_cast<std::uint64_t>(idx) * strides[ax];
      continue;
    }
    std::int64_t lo = 0, hi = extent;
    if (ax < items.size()) {
      if (items[ax].begin) lo = *items[ax].begin < 0 ? *items[ax].begin + extent : *items[ax].begin;
      if (items[ax].end) hi = *items[ax].end < 0 ? *items[ax].end + extent : *items[ax].end;
      lo = std::clamp<std::int64_t>(lo, 0, extent);
      hi = std::clamp<std::int64_t>(hi, lo, extent);
    }
    kept.push_back({static_cast<std::size_t>(lo), static_cast<std::size_t>(hi - lo), strides[ax]});
  }
  if (kept.size() < 2) {
    return Status::InvalidArgument(spec + ": selects a " + std::to_string(kept.size()) +
                                   "-D array from shape " + shape_string(a.shape) +
                                   "; a matrix needs exactly 2 axes (rows, dims)");
  }
  Tensor t;
  std::size_t rows = 1;
  for (const Axis& k : kept) {
    t.shape.push_back(k.count);
    if (k.count == 0) return Status::InvalidArgument(spec + ": the selection is empty");
  }
  for (std::size_t i = 0; i + 1 < kept.size(); ++i) rows *= kept[i].count;
  const Axis cols = kept.back();
  RA_ASSIGN_OR_RETURN(t.data, Matrix::zeros(rows, cols.count, a.dtype));
  const std::size_t esize = dtype_size(a.dtype);
  std::vector<std::size_t> at(kept.size() - 1, 0);  // multi-index over the leading kept axes
  for (std::size_t r = 0; r < rows; ++r) {
    std::uint64_t row0 = base + cols.begin * cols.stride;
    for (std::size_t i = 0; i < at.size(); ++i) row0 += (kept[i].begin + at[i]) * kept[i].stride;
    std::byte* dst = t.data.row_bytes(r);
    if (cols.stride == 1) {
      RA_RETURN_IF_ERROR(read_exact(in, a.data_offset + row0 * esize, dst, cols.count * esize, path));
    } else {
      for (std::size_t c = 0; c < cols.count; ++c) {
        RA_RETURN_IF_ERROR(read_exact(in, a.data_offset + (row0 + c * cols.stride) * esize,
                                      dst + c * esize, esize, path));
      }
    }
    for (std::size_t i = at.size(); i-- > 0;) {  // advance, last axis fastest
      if (++at[i] < kept[i].count) break;
      at[i] = 0;
    }
  }
  if (a.dtype != as) {
    RA_ASSIGN_OR_RETURN(t.data, Matrix::copy_of(t.data.view(), as));
  }
  return t;
}

}  // namespace

Result<Matrix> read_matrix(const std::string& spec, DType as) {
  RA_API_TRY
  RA_ASSIGN_OR_RETURN(Tensor t, read_selection(spec, as));
  if (t.shape.size() != 2) {
    std::string path;
    std::vector<SelectorItem> items;
    (void)parse_matrix_spec(spec, &path, &items);
    return Status::InvalidArgument(spec + ": selects a " + std::to_string(t.shape.size()) +
                                   "-D array; a matrix needs exactly 2 axes (rows, dims), e.g. " +
                                   path + "[0,1]");
  }
  return std::move(t.data);
  RA_API_CATCH("read")
}

Result<Tensor> read_tensor(const std::string& spec, DType as) { return read_selection(spec, as); }

namespace {

Status check_u32_shape(const std::string& path, std::size_t rows, std::size_t cols) {
  RA_API_TRY
  if (rows > std::numeric_limits<std::uint32_t>::max() ||
      cols > std::numeric_limits<std::uint32_t>::max()) {
    return Status::InvalidArgument(path + ": shape too large for a u32 header");
  }
  return Status::OK();
  RA_API_CATCH("read")
}

void write_rows(std::ostream& out, const MatrixView& m, DType as) {
  std::vector<float> f32(m.dim);
  std::vector<std::byte> buf(m.dim * dtype_size(as));
  for (std::size_t i = 0; i < m.rows; ++i) {
    const std::byte* src = m.row_bytes(i);
    if (m.dtype != as) {
      convert_to_f32(src, m.dtype, m.dim, f32.data());
      convert_from_f32(f32.data(), m.dim, as, buf.data());
      src = buf.data();
    }
    out.write(reinterpret_cast<const char*>(src), static_cast<std::streamsize>(m.dim * dtype_size(as)));
  }
}

}  // namespace

Status write_fbin(const std::string& path, const MatrixView& m) {
  RA_API_TRY
  RA_RETURN_IF_ERROR(check_u32_shape(path, m.rows, m.dim));
  return write_file_atomically(path, [&](std::ostream& out) {
    const std::uint32_t nd[2] = {static_cast<std::uint32_t>(m.rows), static_cast<std::uint32_t>(m.dim)};
    out.write(reinterpret_cast<const char*>(nd), sizeof(nd));
    write_rows(out, m, DType::kF32);
  });
  RA_API_CATCH("write")
}

Status write_npy(const std::string& path, const MatrixView& m) {
  RA_API_TRY
  if (m.dtype == DType::kBF16) {
    return Status::Unsupported(path + ": numpy has no bfloat16; convert to f32 or f16 first");
  }
  std::string header = "{'descr': '" + std::string(m.dtype == DType::kF16 ? "<f2" : "<f4") +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(m.rows) + ", " +
                       std::to_string(m.dim) + "), }";
  // Pad so that the data starts on a 64-byte boundary, as numpy does.
  const std::size_t total = (10 + header.size() + 1 + 63) / 64 * 64;
  header.append(total - 10 - header.size() - 1, ' ');
  header.push_back('\n');
  return write_file_atomically(path, [&](std::ostream& out) {
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                   static_cast<unsigned char>(header.size() & 0xff),
                                   static_cast<unsigned char>(header.size() >> 8)};
    out.write(reinterpret_cast<const char*>(pre), sizeof(pre));
    out.write(header.data(), static_cast<std::streamsize>(header.size()));
    write_rows(out, m, m.dtype);
  });
  RA_API_CATCH("write")
}

Status write_matrix(const std::string& path, const MatrixView& m) {
  if (ends_with(path, ".fbin")) return write_fbin(path, m);
  if (ends_with(path, ".npy")) return write_npy(path, m);
  return Status::InvalidArgument(path + ": unknown extension (expected .fbin or .npy)");
}

Result<IdMatrix> read_ibin(const std::string& path) {
  RA_API_TRY
  RA_ASSIGN_OR_RETURN(const std::uint64_t size, file_size(path));
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError(path + ": cannot open for reading");
  if (size < 8) return Status::Corruption(path + ": too short for an .ibin header (8 bytes)");
  std::uint32_t nk[2];
  RA_RETURN_IF_ERROR(read_exact(in, 0, nk, sizeof(nk), path));
  StoredArray a{{nk[0], nk[1]}, DType::kF32 /* 4-byte elements */, 8};
  RA_RETURN_IF_ERROR(check_payload(path, size, a));
  std::vector<std::int32_t> raw(static_cast<std::size_t>(nk[0]) * nk[1]);
  RA_RETURN_IF_ERROR(read_exact(in, 8, raw.data(), raw.size() * 4, path));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] < -1) {
      return Status::Corruption(path + ": id " + std::to_string(raw[i]) + " at row " + std::to_string(i / nk[1]) +
                                " is negative (only -1 pads a row)");
    }
  }
  IdMatrix ids{nk[0], nk[1], std::vector<Label>(raw.begin(), raw.end())};
  return ids;
  RA_API_CATCH("read")
}

Status write_ibin(const std::string& path, const Label* ids, std::size_t rows, std::size_t cols) {
  RA_API_TRY
  RA_RETURN_IF_ERROR(check_u32_shape(path, rows, cols));
  std::vector<std::int32_t> raw(rows * cols);
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (ids[i] < kNoLabel || ids[i] > std::numeric_limits<std::int32_t>::max()) {
      return Status::InvalidArgument(path + ": id " + std::to_string(ids[i]) + " does not fit in i32");
    }
    raw[i] = static_cast<std::int32_t>(ids[i]);
  }
  return write_file_atomically(path, [&](std::ostream& out) {
    const std::uint32_t nk[2] = {static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(cols)};
    out.write(reinterpret_cast<const char*>(nk), sizeof(nk));
    out.write(reinterpret_cast<const char*>(raw.data()), static_cast<std::streamsize>(raw.size() * 4));
  });
  RA_API_CATCH("write")
}

}  // namespace ra
