// The GPU training-query kNN against cuBLAS's own SGEMM on the same shapes and tiles: how much
// the per-query top-k selection (and the copies) cost on top of the GEMM. Keys 131072 x 128 f32,
// 16384 training queries, k = 100, random data. Skips (exit 0) without a device.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <vector>

#include "gpu/device_buffer.h"
#include "gpu/device_info.h"
#include "gpu/knn.h"
#include "index/matrix.h"

namespace {

using namespace ra;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t) { return std::chrono::duration<double, std::milli>(Clock::now() - t).count(); }

int run() {
  auto devices = gpu::list_devices();
  if (!devices.ok() || devices->empty()) {
    std::printf("bench_gpu_knn: no CUDA device, skipped\n");
    return 0;
  }
  constexpr std::size_t kKeys = 131072, kQueries = 16384, kDim = 128, kQueryTile = 1024, kKeyTile = 16384;
  constexpr std::uint32_t kK = 100;
  Matrix keys = Matrix::zeros(kKeys, kDim).value(), queries = Matrix::zeros(kQueries, kDim).value();
  std::mt19937 rng(1);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (std::size_t i = 0; i < kKeys * kDim; ++i) keys.f32_row(0)[i] = g(rng);
  for (std::size_t i = 0; i < kQueries * kDim; ++i) queries.f32_row(0)[i] = g(rng);

  // The GEMM alone: the same tiles the kNN runs, keys and queries already on the device.
  auto dk = gpu::DeviceBuffer::allocate(kKeys * kDim * 4).value();
  auto dq = gpu::DeviceBuffer::allocate(kQueries * kDim * 4).value();
  auto ds = gpu::DeviceBuffer::allocate(kQueryTile * kKeyTile * 4).value();
  if (!dk.upload(keys.f32_row(0), kKeys * kDim * 4).ok() || !dq.upload(queries.f32_row(0), kQueries * kDim * 4).ok()) return 1;
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return 1;
  const float one = 1.0f, zero = 0.0f;
  auto gemm_pass = [&] {
    for (std::size_t q0 = 0; q0 < kQueries; q0 += kQueryTile) {
      for (std::size_t t0 = 0; t0 < kKeys; t0 += kKeyTile) {
        cublasSgemm(h, CUBLAS_OP_T, CUBLAS_OP_N, kKeyTile, kQueryTile, kDim, &one,
                    static_cast<const float*>(dk.data()) + t0 * kDim, kDim,
                    static_cast<const float*>(dq.data()) + q0 * kDim, kDim, &zero, static_cast<float*>(ds.data()), kKeyTile);
      }
    }
    return cudaDeviceSynchronize() == cudaSuccess;
  };
  if (!gemm_pass()) return 1;  // warm up
  double gemm_ms = 1e30, knn_ms = 1e30;
  std::vector<NodeId> knn;
  for (int rep = 0; rep < 3; ++rep) {
    auto t = Clock::now();
    if (!gemm_pass()) return 1;
    gemm_ms = std::min(gemm_ms, ms_since(t));
    t = Clock::now();
    if (const Status s = gpu::exact_knn(keys.view(), queries.view(), kK, &knn); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
    knn_ms = std::min(knn_ms, ms_since(t));
  }
  cublasDestroy(h);
  const double flop = 2.0 * kKeys * kQueries * kDim;
  std::printf("%s: %zu keys x %zu queries x %zu, k %u (best of 3)\n", devices->front().name.c_str(), kKeys, kQueries,
              kDim, kK);
  std::printf("cuBLAS SGEMM alone   %8.2f ms  %6.1f TFLOP/s\n", gemm_ms, flop / gemm_ms / 1e9);
  std::printf("exact kNN (all in)   %8.2f ms  %+6.0f%% on top of the GEMM (top-k, uploads, ids back)\n", knn_ms,
              100 * (knn_ms / gemm_ms - 1));
  return 0;
}

}  // namespace

int main() { return run(); }
