// libFuzzer target: the .npy reader, whole arrays and with selectors. Any input must give a
// value or a Status, never a crash, a hang or a huge allocation.
#include "index/vector_io.h"
#include "tests/fuzz/fuzz_file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = ra::fuzz::input_file(data, size, ".npy");
  for (const char* selector : {"", "[0]", "[:2]", "[-1,1:]", "[1,2,3]"}) {
    (void)ra::read_tensor(path + selector);
    (void)ra::read_matrix(path + selector, ra::DType::kF16);
  }
  return 0;
}
