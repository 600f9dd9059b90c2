#pragma once
// Shared by the file-reader fuzz targets: the readers take paths, so each input is written to a
// per-process file in /dev/shm (memory) or /tmp first.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace ra::fuzz {

inline std::string input_file(const std::uint8_t* data, std::size_t size, const char* extension) {
  static const std::string path = [&] {
    const std::string dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : "/tmp";
    return dir + "/ra_fuzz_" + std::to_string(getpid()) + extension;
  }();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) __builtin_trap();
  if (size > 0) std::fwrite(data, 1, size, f);
  std::fclose(f);
  return path;
}

}  // namespace ra::fuzz
