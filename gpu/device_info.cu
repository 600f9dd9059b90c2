#include "gpu/cuda_check.h"
#include "gpu/device_info.h"

namespace ra::gpu {

Result<std::vector<DeviceInfo>> list_devices() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err == cudaErrorNoDevice || err == cudaErrorInsufficientDriver) {
    cudaGetLastError();  // clear the sticky error
    return std::vector<DeviceInfo>{};
  }
  if (err != cudaSuccess) {
    cudaGetLastError();
    return detail::cuda_status(err, "cudaGetDeviceCount(&count)");
  }
  std::vector<DeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    RA_CUDA_RETURN(cudaGetDeviceProperties(&prop, i));
    int clock_khz = 0, bus_bits = 0;
    RA_CUDA_RETURN(cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, i));
    RA_CUDA_RETURN(cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, i));
    out.push_back({i, prop.name, prop.totalGlobalMem, prop.major, prop.minor, prop.multiProcessorCount,
                   2.0 * clock_khz * 1e3 * bus_bits / 8.0});
  }
  return out;
}

bool cuda_available() {
  auto devices = list_devices();
  return devices.ok() && !devices->empty();
}

std::string library_versions() {
  int runtime = 0;
  cudaRuntimeGetVersion(&runtime);
  int major = 0, minor = 0, patch = 0;
  cublasGetProperty(MAJOR_VERSION, &major);
  cublasGetProperty(MINOR_VERSION, &minor);
  cublasGetProperty(PATCH_LEVEL, &patch);
  return "CUDA runtime " + std::to_string(runtime / 1000) + "." +
         std::to_string(runtime % 1000 / 10) + ", cuBLAS " + std::to_string(major) + "." +
         std::to_string(minor) + "." + std::to_string(patch);
}

}  // namespace ra::gpu
