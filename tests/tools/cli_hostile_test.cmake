# The `ra` program against a hostile user's input (issue 13): each case failed before its fix
# (a crash, a silent wrong answer or a destroyed file) and must now fail cleanly, naming the
# problem, and leave the user's files as they were.
# Run as: cmake -DRA=<ra> -DWORK=<dir> -P cli_hostile_test.cmake
file(REMOVE_RECURSE ${WORK})
include(${CMAKE_CURRENT_LIST_DIR}/../run_helpers.cmake)

run_ok(${RA} gen --kind attention --n 2000 --dim 16 --queries 20 --train-queries 400 --out ${WORK})
run_ok(${RA} gen --kind attention --n 2000 --dim 8 --queries 20 --train-queries 400 --out ${WORK}/d8)
run_ok(${RA} gen --kind attention --n 2000 --dim 16 --queries 20 --train-queries 400 --seed 9 --out ${WORK}/other)
run_ok(${RA} build --keys ${WORK}/keys.fbin --train-queries ${WORK}/train_queries.fbin --out ${WORK}/idx.ra
       --degree 16 --query-knn 16 --build-beam 32 --entries 8)
set(query ${RA} query --index ${WORK}/idx.ra --k 10 --beam 32)

# 1-3 (headers whose sizes overflow) are library tests: HostileInput.* in graph_index_test,
# on the same readers these commands call.

# 4. Queries of another dimension than the index, ids past n, truth from other data.
run_fails("dimension" ${query} --queries ${WORK}/d8/queries.fbin --gt ${WORK}/d8/gt.ibin)
run_fails("does not match" ${query} --queries ${WORK}/queries.fbin --gt ${WORK}/other/gt.ibin)
run_ok(${RA} gen --kind attention --n 4000 --dim 16 --queries 20 --train-queries 10 --out ${WORK}/more)
run_fails("not a key" ${query} --queries ${WORK}/more/queries.fbin --gt ${WORK}/more/gt.ibin)

# 5. A beam that does not fit in memory is an error naming the beam, not a termination.
run_fails("beam" ${RA} query --index ${WORK}/idx.ra --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin
          --k 10 --beam 4294967295)

# 6. A failing JSON write keeps the existing file and fails.
file(WRITE ${WORK}/keep.json "precious\n")
file(MAKE_DIRECTORY ${WORK}/keep.json.tmp)  # the temporary cannot be created
run_fails("keep.json" ${query} --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin --json ${WORK}/keep.json)
file(READ ${WORK}/keep.json kept)
if(NOT kept STREQUAL "precious\n")
  message(FATAL_ERROR "a failed --json write changed the existing file: '${kept}'")
endif()

# Smaller: an output directory as --out fails before the build, leaving no temporary; a
# directory as --index; negative counts; a NaN generator knob named as such.
run_fails("is a directory" ${RA} build --keys ${WORK}/keys.fbin --train-queries ${WORK}/train_queries.fbin
          --out ${WORK})
if(EXISTS ${WORK}.tmp)
  message(FATAL_ERROR "ra build left ${WORK}.tmp behind")
endif()
run_fails("cannot write" ${RA} build --keys ${WORK}/keys.fbin --train-queries ${WORK}/train_queries.fbin
          --out ${WORK}/no/such/dir/x.ra)
run_fails("not a regular file" ${RA} query --index ${WORK} --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin)
run_fails("--n" ${RA} gen --n -5 --out ${WORK}/neg)
run_fails("query_gain" ${RA} demo --query-gain nan --tokens 4096 --decode 4)
run_fails("at least" ${RA} bench mips "--keys=${WORK}/keys.fbin[:1]" --k 1 --train-queries ${WORK}/train_queries.fbin
          --queries ${WORK}/queries.fbin)
message(STATUS "hostile CLI input: every case failed cleanly")
