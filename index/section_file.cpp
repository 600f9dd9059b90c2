#include "index/section_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

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

Status check_header_crc(const std::vector<char>& file, const std::string& path) {
  std::uint32_t header_bytes = 0;
  if (file.size() >= 16) std::memcpy(&header_bytes, file.data() + 12, 4);
  if (header_bytes < 20 || header_bytes > file.size()) {
    return Status::Corruption(path + ": header size " + std::to_string(header_bytes) + " is impossible");
  }
  std::uint32_t stored;
  std::memcpy(&stored, file.data() + header_bytes - 4, 4);
  if (stored != crc32(file.data(), header_bytes - 4)) {
    return Status::Corruption(path + ": header checksum mismatch (the file is corrupted)");
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
  if (std::memcmp(magic, kGraphFileMagic, 8) == 0) return IndexKind::kGraph;
  if (std::memcmp(magic, kPartitionFileMagic, 8) == 0) return IndexKind::kPartition;
  return Status::Corruption(path + ": not a RetrievalAttention index (bad magic)");
  RA_API_CATCH("index_file_kind")
}

}  // namespace ra
