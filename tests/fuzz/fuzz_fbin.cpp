// libFuzzer target: the .fbin reader, with and without selectors.
#include "index/vector_io.h"
#include "tests/fuzz/fuzz_file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = ra::fuzz::input_file(data, size, ".fbin");
  for (const char* selector : {"", "[:1]", "[3:]", "[:, 1:]"}) (void)ra::read_matrix(path + selector);
  return 0;
}
