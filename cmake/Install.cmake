# `cmake --install` lays out headers, libraries and a package config, so that another project
# can use find_package(RetrievalAttention) and link RetrievalAttention::attention etc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(ra_library_targets ra_headers ra_simd ra_index ra_attention)
if(RA_WITH_CUDA)
  list(APPEND ra_library_targets ra_gpu)
endif()
install(TARGETS ${ra_library_targets} EXPORT RetrievalAttentionTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
foreach(dir simd index attention gpu)
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${dir}
          FILES_MATCHING PATTERN "*.h" PATTERN "detail" EXCLUDE)
endforeach()
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/generated/index/config.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/index)
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
