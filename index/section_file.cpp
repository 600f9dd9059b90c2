#include "index/section_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>

#include "index/api_guard.h"
#include "index/crc32.h"
#include "index/index_file.h"

namespace ra {

void write_section(std::ostream& out, std::uint32_t tag, const void* data, std::uint64_t bytes) {
  const std::uint32_t crc = crc32(data, bytes);
  out.write(reinterpret_cast<const char*>(&tag), 4);
  out.write(reinterpret_cast<const char*>(&bytes), 8);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
  out.write(reinterpret_cast<const char*>(&crc), 4);
}

Result<std::vector<char>> read_whole_file(const std::string& path, std::size_t min_bytes) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::IoError(path + (std::filesystem::exists(path, ec) ? ": not a regular file"
                                                                      : ": cannot open (no such file)"));
  }
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::IoError(path + ": cannot open for reading: " + std::strerror(errno));
  const auto size = static_cast<std::size_t>(in.tellg());
  if (size < min_bytes) return Status::Corruption(path + ": too short for an index header");
  std::vector<char> file(size);
  in.seekg(0);
  if (!in.read(file.data(), static_cast<std::streamsize>(size))) return Status::IoError(path + ": read failed");
  return file;
}

namespace {

std::optional<IndexKind> kind_of_magic(const char* magic) {
  if (std::memcmp(magic, kGraphFileMagic, 8) == 0) return IndexKind::kGraph;
  if (std::memcmp(magic, kPartitionFileMagic, 8) == 0) return IndexKind::kPartition;
  return std::nullopt;
}

}  // namespace

Status check_index_header(const std::vector<char>& file, const std::string& path, IndexKind kind,
                          std::uint32_t max_version, std::uint32_t header_bytes) {
  const std::optional<IndexKind> found = file.size() >= 16 ? kind_of_magic(file.data()) : std::nullopt;
  if (!found) return Status::Corruption(path + ": not a RetrievalAttention index (bad magic)");
  if (*found != kind) {
    return Status::InvalidArgument(path + (kind == IndexKind::kGraph
                                               ? ": holds a partition index, not a graph (PartitionIndex::load)"
                                               : ": holds a graph index, not a partition index (GraphIndex::load)"));
  }
  std::uint32_t version = 0, stored_header_bytes = 0;
  std::memcpy(&version, file.data() + 8, 4);
  std::memcpy(&stored_header_bytes, file.data() + 12, 4);
  if (stored_header_bytes < 20 || stored_header_bytes > file.size()) {
    return Status::Corruption(path + ": header size " + std::to_string(stored_header_bytes) + " is impossible");
  }
  std::uint32_t stored;
  std::memcpy(&stored, file.data() + stored_header_bytes - 4, 4);
  if (stored != crc32(file.data(), stored_header_bytes - 4)) {
    return Status::Corruption(path + ": header checksum mismatch (the file is corrupted)");
  }
  if (version > max_version) {
    return Status::Unsupported(path + ": index format version " + std::to_string(version) +
                               " is newer than this library reads (" + std::to_string(max_version) + ")");
  }
  if (version < 1 || stored_header_bytes != header_bytes) {
    return Status::Corruption(path + ": unknown layout (version " + std::to_string(version) + ")");
  }
  return Status::OK();
}

Status SectionReader::section(std::uint32_t tag, std::uint64_t expected_bytes, void* dst) {
  const std::string where = path_ + ": section " + std::to_string(tag);
  if (pos_ + 12 > file_.size()) return Status::Corruption(where + " is missing (file truncated)");
  std::uint32_t got_tag;
  std::uint64_t bytes;
  std::memcpy(&got_tag, file_.data() + pos_, 4);
  std::memcpy(&bytes, file_.data() + pos_ + 4, 8);
  if (got_tag != tag) return Status::Corruption(where + ": found tag " + std::to_string(got_tag) + " instead");
  if (bytes != expected_bytes) {
    return Status::Corruption(where + " holds " + std::to_string(bytes) + " bytes, the header implies " +
                              std::to_string(expected_bytes));
  }
  pos_ += 12;
  if (bytes > file_.size() - pos_ || file_.size() - pos_ - bytes < 4) return Status::Corruption(where + " is truncated");
  std::uint32_t crc;
  std::memcpy(&crc, file_.data() + pos_ + bytes, 4);
  if (crc != crc32(file_.data() + pos_, bytes)) {
    return Status::Corruption(where + ": checksum mismatch (the file is corrupted)");
  }
  if (bytes > 0) std::memcpy(dst, file_.data() + pos_, bytes);
  pos_ += bytes + 4;
  return Status::OK();
}

Result<IndexKind> index_file_kind(const std::string& path) {
  RA_API_TRY
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    return Status::IoError(path + (std::filesystem::exists(path, ec) ? ": not a regular file"
                                                                      : ": cannot open (no such file)"));
  }
  std::ifstream in(path, std::ios::binary);
  char magic[8] = {};
  if (!in || !in.read(magic, 8)) return Status::Corruption(path + ": too short for an index header");
  if (const std::optional<IndexKind> kind = kind_of_magic(magic)) return *kind;
  return Status::Corruption(path + ": not a RetrievalAttention index (bad magic)");
  RA_API_CATCH("index_file_kind")
}

}  // namespace ra
