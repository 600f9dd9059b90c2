# Installs the built library into a prefix and builds a separate project against it with
# find_package(RetrievalAttention). Run as: cmake -DSOURCE= -DBUILD= -DWORK= -P install_test.cmake
file(REMOVE_RECURSE ${WORK})
include(${CMAKE_CURRENT_LIST_DIR}/../run_helpers.cmake)
run_ok(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)

# One prefixed folder of public headers, and none of the internal ones.
file(GLOB top RELATIVE ${WORK}/prefix/include ${WORK}/prefix/include/*)
if(NOT top STREQUAL "retrieval_attention")
  message(FATAL_ERROR "installed include/ must hold only retrieval_attention/, it holds: ${top}")
endif()
file(GLOB_RECURSE headers RELATIVE ${WORK}/prefix/include ${WORK}/prefix/include/*)
foreach(internal search_scratch.h threading.h crc32.h topk.h beam_search.h atomic_file.h graph_build
                 detail kernel_table.h)
  foreach(h ${headers})
    if(h MATCHES "/${internal}")
      message(FATAL_ERROR "internal header installed: ${h}")
    endif()
  endforeach()
endforeach()
# The consumer compiles every installed header (a public header that includes an internal one
# fails here) and runs a small program.
set(all "")
foreach(h ${headers})
  string(APPEND all "#include <${h}>\n")
endforeach()
file(WRITE ${WORK}/all_headers.cpp "${all}")
run_ok(${CMAKE_COMMAND} -S ${SOURCE}/tests/install/consumer -B ${WORK}/consumer
     -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_BUILD_TYPE=Release -DALL_HEADERS=${WORK}/all_headers.cpp)
run_ok(${CMAKE_COMMAND} --build ${WORK}/consumer)
run_ok(${WORK}/consumer/consumer)
list(LENGTH headers count)
message(STATUS "install test passed (${count} public headers)")
