# End-to-end check of the `ra` program: gen -> gt agree, and bad input fails cleanly.
# Run as: cmake -DRA=<ra> -DWORK=<dir> -P cli_test.cmake
file(REMOVE_RECURSE ${WORK})

include(${CMAKE_CURRENT_LIST_DIR}/../run_helpers.cmake)

run_ok(${RA} gen --kind attention --n 3000 --dim 16 --queries 40 --train-queries 500 --out ${WORK})
foreach(f keys.fbin values.fbin train_queries.fbin queries.fbin gt.ibin)
  if(NOT EXISTS ${WORK}/${f})
    message(FATAL_ERROR "ra gen did not write ${f}")
  endif()
endforeach()
run_ok(${RA} gt --keys ${WORK}/keys.fbin --queries ${WORK}/queries.fbin --k 100 --out ${WORK}/gt2.ibin)
file(SHA256 ${WORK}/gt.ibin a)
file(SHA256 ${WORK}/gt2.ibin b)
if(NOT a STREQUAL b)
  message(FATAL_ERROR "ra gt and ra gen disagree on the ground truth")
endif()
# A selector on the command line: the first 1000 keys only.
run_ok(${RA} gt "--keys=${WORK}/keys.fbin[:1000]" --queries ${WORK}/queries.fbin --k 10 --out ${WORK}/gt3.ibin)
file(SIZE ${WORK}/gt3.ibin size)
if(NOT size EQUAL 1608)  # 8-byte header + 40 x 10 ids
  message(FATAL_ERROR "unexpected gt3.ibin size ${size}")
endif()

# Build an index and sweep it; the JSON carries the rows.
run_ok(${RA} build --keys ${WORK}/keys.fbin --train-queries ${WORK}/train_queries.fbin
       --out ${WORK}/idx.ra --degree 16 --query-knn 32 --build-beam 64 --entries 16)
run_ok(${RA} query --index ${WORK}/idx.ra --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin
       --k 10 --beam 16,64 --exact --json ${WORK}/q.json)
file(READ ${WORK}/q.json json)
string(JSON rows LENGTH "${json}" rows)
string(JSON recall GET "${json}" rows 1 recall)
string(JSON exact_beam GET "${json}" rows 2 beam)
if(NOT rows EQUAL 3 OR recall LESS 0.8 OR NOT exact_beam STREQUAL "exact")
  message(FATAL_ERROR "unexpected ra query JSON: ${json}")
endif()
# The exact ground truth from --keys gives the same recall as the gt file.
run_ok(${RA} query --index ${WORK}/idx.ra --queries ${WORK}/queries.fbin --keys ${WORK}/keys.fbin
       --k 10 --beam 64 --json ${WORK}/q2.json)
file(READ ${WORK}/q2.json json2)
string(JSON recall2 GET "${json2}" rows 0 recall)
if(NOT recall2 EQUAL recall)
  message(FATAL_ERROR "recall with --keys (${recall2}) differs from --gt (${recall})")
endif()
file(WRITE ${WORK}/trunc.ra "")  # an empty file is no index
run_fails("too short" ${RA} query --index ${WORK}/trunc.ra --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin)
run_fails("beam" ${RA} query --index ${WORK}/idx.ra --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin --k 10 --beam 0)
run_fails("give --gt" ${RA} query --index ${WORK}/idx.ra --queries ${WORK}/queries.fbin)

# A partition index: built without training queries, swept over probes; every list probed with
# every key rescored is the exact top-k.
run_ok(${RA} build --kind partition --keys ${WORK}/keys.fbin --out ${WORK}/idx.rap --lists 20)
run_ok(${RA} query --index ${WORK}/idx.rap --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin
       --k 10 --probes 2,20 --reorder 3000 --json ${WORK}/p.json)
file(READ ${WORK}/p.json pjson)
string(JSON kind GET "${pjson}" index)
string(JSON probes GET "${pjson}" rows 1 probes)
string(JSON full GET "${pjson}" rows 1 recall)
string(JSON few GET "${pjson}" rows 0 recall)
if(NOT kind STREQUAL "partition" OR NOT probes EQUAL 20 OR full LESS 0.999 OR NOT few LESS full)
  message(FATAL_ERROR "unexpected ra query JSON for a partition index: ${pjson}")
endif()
run_fails("probes" ${RA} query --index ${WORK}/idx.rap --queries ${WORK}/queries.fbin --gt ${WORK}/gt.ibin --k 10 --probes 21)
run_fails("needs --train-queries" ${RA} build --keys ${WORK}/keys.fbin --out ${WORK}/none.ra)
run_fails("lists" ${RA} build --kind partition --keys ${WORK}/keys.fbin --out ${WORK}/none.rap --lists 3001)

# Diagnostics: JSON with every figure, an SVG picture.
run_ok(${RA} diag --keys ${WORK}/keys.fbin --queries ${WORK}/queries.fbin --json ${WORK}/diag.json
       --svg ${WORK}/diag.svg)
file(READ ${WORK}/diag.json diag)
string(JSON ratio GET "${diag}" mahalanobis ratio_mean)
string(JSON mass90 GET "${diag}" sparsity frac_keys_mass90)
string(JSON top1000 GET "${diag}" sparsity top1000_mass)
if(ratio LESS 2 OR mass90 GREATER 0.5 OR top1000 LESS 0.5)
  message(FATAL_ERROR "unexpected diagnostics of attention-like data: ${diag}")
endif()
file(READ ${WORK}/diag.svg svg LIMIT 200)
string(FIND "${svg}" "<svg" svg_at)
if(svg_at EQUAL -1)
  message(FATAL_ERROR "ra diag wrote no SVG")
endif()
run_fails("too few keys" ${RA} diag "--keys=${WORK}/keys.fbin[:10]" --queries ${WORK}/queries.fbin)

# Decoding replay on the real attention data beside the repository, when it is there.
set(stories ${DATA}/stories260K/ctx2048)
if(EXISTS ${stories}/keys.npy)
  run_ok(${RA} decode "--keys=${stories}/keys.npy[1]" "--values=${stories}/values.npy[1]"
         "--queries=${stories}/queries.npy[1]" --prefill 1536 --steps 32 --json ${WORK}/decode.json)
  file(READ ${WORK}/decode.json dec)
  string(JSON static_err GET "${dec}" methods 1 rel_error_mean)
  string(JSON retrieval_name GET "${dec}" methods 3 name)
  string(JSON retrieval_err GET "${dec}" methods 3 rel_error_mean)
  string(JSON steps GET "${dec}" steps)
  if(NOT retrieval_name STREQUAL "retrieval" OR NOT steps EQUAL 32 OR NOT retrieval_err LESS static_err)
    message(FATAL_ERROR "unexpected ra decode JSON: ${dec}")
  endif()
  run_fails("multiple of kv heads" ${RA} decode "--keys=${stories}/keys.npy[1,:3]" "--values=${stories}/values.npy[1,:3]"
            "--queries=${stories}/queries.npy[1]" --prefill 1536)
endif()
run_fails("prefill" ${RA} decode --keys ${WORK}/keys.fbin --values ${WORK}/values.fbin --queries ${WORK}/keys.fbin
          --prefill 5000)

run_fails("cannot open" ${RA} gt --keys ${WORK}/missing.fbin --queries ${WORK}/queries.fbin --out ${WORK}/x.ibin)
run_fails("1-D array" ${RA} gt "--keys=${WORK}/keys.fbin[3]" --queries ${WORK}/queries.fbin --out ${WORK}/x.ibin)
run_fails("must be in [1, 3000]" ${RA} gt --keys ${WORK}/keys.fbin --queries ${WORK}/queries.fbin --k 5000 --out ${WORK}/x.ibin)
run_ok(${RA} gen --kind gaussian --n 100 --dim 8 --queries 5 --train-queries 10 --out ${WORK}/d8)
run_fails("dimension" ${RA} gt --keys ${WORK}/keys.fbin --queries ${WORK}/d8/queries.fbin --out ${WORK}/x.ibin)
run_fails("even dim" ${RA} gen --n 100 --dim 7 --train-queries 10 --out ${WORK}/odd)
message(STATUS "cli test passed")
