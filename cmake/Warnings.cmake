# Warnings for the project's own targets (not for dependencies' headers, which are SYSTEM).
add_library(ra_warnings INTERFACE)
target_compile_options(ra_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
                            -Wno-unknown-pragmas>
  # GCC 12 reports -Wrestrict inside libstdc++'s std::string concatenation (GCC PR 105651).
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-restrict>)
