#include "gpu/cuda_check.h"
#include "gpu/device_buffer.h"

#include <utility>

namespace ra::gpu {

Result<DeviceBuffer> DeviceBuffer::allocate(std::size_t bytes) {
  DeviceBuffer b;
  if (bytes == 0) return Result<DeviceBuffer>(std::move(b));
  RA_CUDA_RETURN(cudaMalloc(&b.data_, bytes));
  b.bytes_ = bytes;
  return Result<DeviceBuffer>(std::move(b));
}

DeviceBuffer::DeviceBuffer(DeviceBuffer&& other) noexcept : data_(other.data_), bytes_(other.bytes_) {
  other.data_ = nullptr;
  other.bytes_ = 0;
}

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) cudaFree(data_);
    data_ = other.data_;
    bytes_ = other.bytes_;
    other.data_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

DeviceBuffer::~DeviceBuffer() {
  if (data_ != nullptr) cudaFree(data_);
}

Status DeviceBuffer::upload(const void* host, std::size_t bytes, std::size_t offset) {
  if (offset > bytes_ || bytes > bytes_ - offset) return Status::InvalidArgument("upload past the device buffer");
  RA_CUDA_RETURN(cudaMemcpy(static_cast<char*>(data_) + offset, host, bytes, cudaMemcpyHostToDevice));
  return Status::OK();
}

Status DeviceBuffer::download(void* host, std::size_t bytes, std::size_t offset) const {
  if (offset > bytes_ || bytes > bytes_ - offset) return Status::InvalidArgument("download past the device buffer");
  RA_CUDA_RETURN(cudaMemcpy(host, static_cast<const char*>(data_) + offset, bytes, cudaMemcpyDeviceToHost));
  return Status::OK();
}

Status DeviceBuffer::fill_zero() {
  if (bytes_ > 0) RA_CUDA_RETURN(cudaMemset(data_, 0, bytes_));
  return Status::OK();
}

Result<PinnedBuffer> PinnedBuffer::allocate(std::size_t bytes) {
  PinnedBuffer b;
  if (bytes == 0) return Result<PinnedBuffer>(std::move(b));
  void* p = nullptr;
  RA_CUDA_RETURN(cudaMallocHost(&p, bytes));
  b.data_.reset(p);
  b.bytes_ = bytes;
  return Result<PinnedBuffer>(std::move(b));
}

void PinnedBuffer::Free::operator()(void* p) const noexcept { cudaFreeHost(p); }

Result<Stream> Stream::create() {
  Stream s;
  cudaStream_t handle = nullptr;
  RA_CUDA_RETURN(cudaStreamCreateWithFlags(&handle, cudaStreamNonBlocking));
  s.stream_.reset(handle);
  return Result<Stream>(std::move(s));
}

void Stream::Destroy::operator()(void* s) const noexcept { cudaStreamDestroy(static_cast<cudaStream_t>(s)); }

Status Stream::synchronize() const {
  RA_CUDA_RETURN(cudaStreamSynchronize(static_cast<cudaStream_t>(stream_.get())));
  return Status::OK();
}

Status synchronize() {
  RA_CUDA_RETURN(cudaDeviceSynchronize());
  return Status::OK();
}

}  // namespace ra::gpu
