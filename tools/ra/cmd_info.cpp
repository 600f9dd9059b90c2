// ra info: what this build and this machine offer.
#include <omp.h>

#include <cstdio>

#include "index/config.h"
#include "simd/simd_level.h"
#include "tools/ra/commands.h"
#if RA_WITH_CUDA
#include "gpu/device_info.h"
#endif

namespace ra::cli {

Runner add_info(CLI::App& app) {
  app.add_subcommand("info", "Print the build, the SIMD level in use and the GPUs seen");
  return [] {
    std::printf("ra %s\n", RA_VERSION);
    std::printf("simd levels:  ");
    for (simd::SimdLevel l : simd::supported_levels()) {
      std::printf(" %s", std::string(simd::level_name(l)).c_str());
    }
    std::printf("\nsimd dispatch: %s\n", std::string(simd::dispatch_mode()).c_str());
    for (const simd::KernelChoice& c : simd::dispatch_choices()) {
      std::printf("  %-6s %-4s -> %-6s", std::string(simd::kernel_name(c.kernel)).c_str(),
                  c.kernel == simd::Kernel::kScan4 ? "u4" : c.kernel == simd::Kernel::kDot ? "f32" : std::string(dtype_name(c.dtype)).c_str(),
                  std::string(simd::level_name(c.level)).c_str());
      for (const auto& [level, ns] : c.ns) {
        std::printf("  %s %.0f us", std::string(simd::level_name(level)).c_str(), ns / 1000.0);
      }
      std::printf("\n");
    }
    std::printf("threads:       %d (OpenMP)\n", omp_get_max_threads());
#if RA_WITH_CUDA
    std::printf("cuda:          built (%s)\n", gpu::library_versions().c_str());
    auto devices = gpu::list_devices();
    if (!devices.ok()) return fail("info", devices.status());
    if (devices->empty()) std::printf("gpus:          none visible\n");
    for (const auto& d : *devices) {
      std::printf("gpu %d:         %s, %.1f GiB, sm_%d%d, %d SMs\n", d.index, d.name.c_str(),
                  static_cast<double>(d.memory_bytes) / (1 << 30), d.compute_major,
                  d.compute_minor, d.multiprocessors);
    }
#else
    std::printf("cuda:          not built (configure with nvcc present or -DRA_CUDA=ON)\n");
#endif
    return 0;
  };
}

}  // namespace ra::cli
