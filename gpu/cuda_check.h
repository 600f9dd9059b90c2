#pragma once
// Internal (.cu files only): every CUDA and cuBLAS error becomes a Status naming the call.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <string>

#include "index/status.h"

namespace ra::gpu::detail {

inline Status cuda_status(cudaError_t err, const char* call) {
  if (err == cudaSuccess) return Status::OK();
  return Status::Internal(std::string(call) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")");
}

inline Status cublas_status(cublasStatus_t err, const char* call) {
  if (err == CUBLAS_STATUS_SUCCESS) return Status::OK();
  return Status::Internal(std::string(call) + ": " + cublasGetStatusName(err) + " (" + cublasGetStatusString(err) + ")");
}

}  // namespace ra::gpu::detail

#define RA_CUDA_RETURN(call) RA_RETURN_IF_ERROR(::ra::gpu::detail::cuda_status((call), #call))
#define RA_CUBLAS_RETURN(call) RA_RETURN_IF_ERROR(::ra::gpu::detail::cublas_status((call), #call))
