#include "gpu/device_info.h"

#include <gtest/gtest.h>

namespace ra::gpu {
namespace {

TEST(DeviceInfo, ListsDevicesOrSkips) {
  auto devices = list_devices();
  ASSERT_TRUE(devices.ok()) << devices.status().to_string();
  EXPECT_NE(library_versions().find("cuBLAS"), std::string::npos);
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device on this machine";
  ASSERT_FALSE(devices->empty());
  for (const DeviceInfo& d : *devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GT(d.memory_bytes, 0u);
    EXPECT_GT(d.multiprocessors, 0);
  }
}

}  // namespace
}  // namespace ra::gpu
