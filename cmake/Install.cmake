# `cmake --install` lays out headers, libraries and a package config, so that another project
# can use find_package(RetrievalAttention) and link RetrievalAttention::attention etc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ra_library_targets ra_headers ra_simd ra_index ra_attention)
if(RA_WITH_CUDA)
  list(APPEND ra_library_targets ra_gpu)
endif()
# The public headers install where each folder lists them (ra_public_headers, CMakeLists.txt).
install(TARGETS ${ra_library_targets} EXPORT RetrievalAttentionTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/generated/index/config.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/retrieval_attention/index)
install(EXPORT RetrievalAttentionTargets NAMESPACE RetrievalAttention::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/RetrievalAttention)
configure_package_config_file(cmake/RetrievalAttentionConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/RetrievalAttentionConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/RetrievalAttention)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/RetrievalAttentionConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/RetrievalAttentionConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/RetrievalAttentionConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/RetrievalAttention)
