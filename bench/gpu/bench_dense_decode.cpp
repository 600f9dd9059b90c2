// The GPU dense decode kernel's achieved bandwidth against the device's peak, for 32 query
// heads x 8 KV heads x head 128 (f16 KV): the static set (4 sinks + a 636-token window) and
// full attention over 32K to 1M tokens. Bytes = K and V of every attended token, read once.
// Skips (exit 0) without a device.
#include <chrono>
#include <cstdio>
#include <vector>

#include "gpu/dense_decode.h"
#include "gpu/device_info.h"

namespace {

using namespace ra;
using namespace ra::gpu;

int run() {
  auto devices = list_devices();
  if (!devices.ok() || devices->empty()) {
    std::printf("bench_dense_decode: no CUDA device, skipped\n");
    return 0;
  }
  const DeviceInfo& dev = devices->front();
  constexpr std::uint32_t kQ = 32, kKv = 8, kDim = 128;
  constexpr std::uint32_t kMaxTokens = 1u << 20;
  const std::size_t head_stride = static_cast<std::size_t>(kMaxTokens) * kDim;
  auto k = DeviceBuffer::allocate(head_stride * kKv * 2).value();
  auto v = DeviceBuffer::allocate(head_stride * kKv * 2).value();
  auto q = DeviceBuffer::allocate(kQ * kDim * 4).value();
  auto o = DeviceBuffer::allocate(kQ * kDim * 4).value();
  auto lse = DeviceBuffer::allocate(kQ * 4).value();
  if (!k.fill_zero().ok() || !v.fill_zero().ok() || !q.fill_zero().ok()) return 1;
  auto decoder = DenseDecoder::create(kQ, kDim).value();
  std::printf("%s, %d SMs, peak %.0f GB/s; %u query heads x %u KV heads x %u, f16 KV\n", dev.name.c_str(),
              dev.multiprocessors, dev.peak_bandwidth / 1e9, kQ, kKv, kDim);
  std::printf("%10s %8s %12s %10s %8s\n", "tokens", "splits", "us / step", "GB/s", "of peak");
  struct Shape {
    const char* name;
    attention::TokenRange r0, r1;
  };
  const Shape shapes[] = {{"static 640", {0, 4}, {kMaxTokens - 636, kMaxTokens}},
                          {"32K", {0, 32768}, {}},
                          {"128K", {0, 131072}, {}},
                          {"1M", {0, kMaxTokens}, {}}};
  for (const Shape& s : shapes) {
    DenseDecodeArgs a;
    a.kv = {k.data(), v.data(), DType::kF16, kKv, kDim, kMaxTokens, kDim, static_cast<std::int64_t>(head_stride)};
    a.q = static_cast<const float*>(q.data());
    a.num_q_heads = kQ;
    a.ranges[0] = s.r0;
    a.ranges[1] = s.r1;
    a.scale = 0.088f;
    a.o = static_cast<float*>(o.data());
    a.lse = static_cast<float*>(lse.data());
    for (int i = 0; i < 5; ++i) (void)decoder.run(a);  // warm up
    if (!synchronize().ok()) return 1;
    const int reps = s.r0.size() + s.r1.size() > 200000 ? 20 : 200;
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < reps; ++i) {
      if (const Status st = decoder.run(a); !st.ok()) {
        std::fprintf(stderr, "%s\n", st.to_string().c_str());
        return 1;
      }
    }
    if (!synchronize().ok()) return 1;
    const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / reps;
    const std::uint32_t tokens = s.r0.size() + s.r1.size();
    const double bytes = 2.0 * tokens * kKv * kDim * 2;  // K and V, f16
    const double gbs = bytes / (us * 1e-6) / 1e9;
    std::printf("%10s %8u %12.1f %10.0f %7.0f%%\n", s.name, decoder.splits_for(tokens, kQ), us, gbs,
                100 * gbs * 1e9 / dev.peak_bandwidth);
  }
  return 0;
}

}  // namespace

int main() { return run(); }
