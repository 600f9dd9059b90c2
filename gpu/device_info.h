#pragma once
// What CUDA sees on this machine. CUDA-free header: callers need no CUDA include path.
#include <cstddef>
#include <string>
#include <vector>

#include "../index/result.h"

namespace ra::gpu {

struct DeviceInfo {
  int index = 0;
  std::string name;
  std::size_t memory_bytes = 0;
  int compute_major = 0, compute_minor = 0;
  int multiprocessors = 0;
  double peak_bandwidth = 0;  // bytes/s: 2 x memory clock x bus width (DDR), from the device
};

/// Devices visible to the CUDA runtime; an empty list (not an error) when there is no driver
/// or no device, so CPU-only machines can ask freely.
Result<std::vector<DeviceInfo>> list_devices();
/// True when at least one device can run kernels.
bool cuda_available();
/// "CUDA runtime 13.0, cuBLAS 13.0.x" for the libraries this build linked.
std::string library_versions();

}  // namespace ra::gpu
