#include "index/atomic_file.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "index/api_guard.h"

namespace ra {

Status write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& body) {
  RA_API_TRY
  const std::string tmp = path + ".tmp";
  std::error_code ignored;
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return Status::IoError(path + ": cannot open for writing: " + std::strerror(errno));
    body(out);
    out.flush();
    if (!out) {
      const std::string reason = std::strerror(errno);
      out.close();
      std::filesystem::remove(tmp, ignored);
      return Status::IoError(path + ": write failed: " + reason);
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ignored);
    return Status::IoError(path + ": cannot rename the written file into place: " + ec.message());
  }
  return Status::OK();
  RA_API_CATCH("write")
}

Status check_writable(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::IoError(path + ": is a directory");
  const std::string tmp = path + ".tmp";
  const bool existed = std::filesystem::exists(tmp, ec);
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::app);
    if (!out) return Status::IoError(path + ": cannot write here: " + std::strerror(errno));
  }
  if (!existed) std::filesystem::remove(tmp, ec);
  return Status::OK();
}

Status write_text_file(const std::string& path, std::string_view text) {
  return write_file_atomically(path, [&](std::ostream& out) {
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
  });
}

}  // namespace ra
