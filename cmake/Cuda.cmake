# gpu/ is optional: AUTO builds it whenever nvcc is found, so CPU-only machines still
# compile and link the CUDA code in every build.
set(RA_WITH_CUDA 0)
if(NOT RA_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 90)   # the lent H200; override on the command line
    endif()
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    set(RA_WITH_CUDA 1)
  elseif(RA_CUDA STREQUAL "ON")
    message(FATAL_ERROR "RA_CUDA=ON but no CUDA compiler was found: install the CUDA toolkit "
                        "(nvcc, cuBLAS) or configure with -DRA_CUDA=OFF")
  endif()
endif()
message(STATUS "RetrievalAttention: CUDA ${RA_WITH_CUDA}, SIMD ${RA_SIMD}")
