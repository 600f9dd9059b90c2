#pragma once
// Internal: the one way this project writes a file. The bytes go to a temporary beside the
// target, are flushed and checked, and the temporary is renamed over the target, so a failed
// write never leaves a half-written file or destroys an earlier one; on any failure the
// temporary is removed. Errors name the path and the OS reason.
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

#include "index/status.h"

namespace ra {

/// `body` writes the whole file to the stream (binary mode).
Status write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& body);

Status write_text_file(const std::string& path, std::string_view text);

/// Whether `path` could be written now (its temporary can be created beside it), so that a
/// long computation is not lost to a bad output path found only at the end. Creates nothing
/// that stays.
Status check_writable(const std::string& path);

}  // namespace ra
