# Installs the built library into a prefix and builds a separate project against it with
# find_package(RetrievalAttention). Run as: cmake -DSOURCE= -DBUILD= -DWORK= -P install_test.cmake
file(REMOVE_RECURSE ${WORK})
include(${CMAKE_CURRENT_LIST_DIR}/../run_helpers.cmake)
run_ok(${CMAKE_COMMAND} --install ${BUILD} --prefix ${WORK}/prefix)
run_ok(${CMAKE_COMMAND} -S ${SOURCE}/tests/install/consumer -B ${WORK}/consumer
     -DCMAKE_PREFIX_PATH=${WORK}/prefix -DCMAKE_BUILD_TYPE=Release)
run_ok(${CMAKE_COMMAND} --build ${WORK}/consumer)
run_ok(${WORK}/consumer/consumer)
message(STATUS "install test passed")
