#pragma once
// CRC-32 (IEEE 802.3, the zlib polynomial) for index file sections.
#include <cstddef>
#include <cstdint>

namespace ra {

/// crc32(data) continuing from `crc` (0 to start).
std::uint32_t crc32(const void* data, std::size_t bytes, std::uint32_t crc = 0) noexcept;

}  // namespace ra
