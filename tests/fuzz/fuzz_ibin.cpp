// libFuzzer target: the .ibin (ids) reader.
#include "index/vector_io.h"
#include "tests/fuzz/fuzz_file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  (void)ra::read_ibin(ra::fuzz::input_file(data, size, ".ibin"));
  return 0;
}
