#pragma once
// Internal: the layout every index file of this project shares (GraphIndex's .ra files,
// PartitionIndex's): a fixed header that starts with an 8-byte magic, u32 version and
// u32 header_bytes and ends with the CRC-32 of the bytes before it; then sections
//   u32 tag | u64 bytes | payload | u32 crc32(payload)
// Readers trust nothing: every size is checked against the file before it is read.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include "index/result.h"

namespace ra {

inline constexpr char kGraphFileMagic[8] = {'O', 'O', 'D', 'X', 'I', 'D', 'X', '\0'};
inline constexpr char kPartitionFileMagic[8] = {'O', 'O', 'D', 'X', 'P', 'R', 'T', '\0'};

void write_section(std::ostream& out, std::uint32_t tag, const void* data, std::uint64_t bytes);

/// The whole of the regular file `path`: IoError when it cannot be read, Corruption when it is
/// shorter than `min_bytes`.
Result<std::vector<char>> read_whole_file(const std::string& path, std::size_t min_bytes);

enum class IndexKind;

/// Checks the fields every index header shares, in the order that lets each be believed: the
/// magic is `kind`'s (the other kind's is InvalidArgument, naming its loader), the header's
/// CRC (in its last 4 bytes, at header_bytes read from offset 12), then the version
/// (Unsupported above max_version) and header_bytes == `header_bytes`.
Status check_index_header(const std::vector<char>& file, const std::string& path, IndexKind kind,
                          std::uint32_t max_version, std::uint32_t header_bytes);

/// Reads the sections after the header, in order, each checked for its tag, size and CRC.
class SectionReader {
 public:
  SectionReader(const std::vector<char>& file, std::string path, std::size_t header_bytes)
      : file_(file), path_(std::move(path)), pos_(header_bytes) {}
  /// Section `tag` must hold exactly `expected_bytes`; copies them into dst.
  Status section(std::uint32_t tag, std::uint64_t expected_bytes, void* dst);
  bool at_end() const noexcept { return pos_ == file_.size(); }

 private:
  const std::vector<char>& file_;
  std::string path_;
  std::size_t pos_;
};

}  // namespace ra
