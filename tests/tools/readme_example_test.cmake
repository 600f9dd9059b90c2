# The README's embedding example must be the code that tests/attention/readme_example_test.cpp
# compiles and runs: the lines between its markers appear verbatim in the README.
# Run as: cmake -DREADME=<README.md> -DSOURCE=<readme_example_test.cpp> -P readme_example_test.cmake
file(READ ${SOURCE} source)
string(FIND "${source}" "// [readme example]\n" begin)
string(FIND "${source}" "// [readme example end]" end)
if(begin EQUAL -1 OR end EQUAL -1)
  message(FATAL_ERROR "${SOURCE}: the example markers are missing")
endif()
math(EXPR begin "${begin} + 21")
math(EXPR length "${end} - ${begin}")
string(SUBSTRING "${source}" ${begin} ${length} example)
file(READ ${README} readme)
string(FIND "${readme}" "${example}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "README.md does not hold the example of ${SOURCE} verbatim; copy it again")
endif()
message(STATUS "the README's example is the tested one")
