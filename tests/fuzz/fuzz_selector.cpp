// libFuzzer target: the selector parser, and selections of a small real (3, 4, 5) array.
#include <string>

#include "index/matrix.h"
#include "index/vector_io.h"
#include "tests/fuzz/fuzz_file_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string array = [] {
    ra::Matrix m = ra::Matrix::zeros(12, 5).value();
    for (std::size_t i = 0; i < 60; ++i) m.f32_row(0)[i] = static_cast<float>(i);
    const std::string p = ra::fuzz::input_file(nullptr, 0, ".npy") + ".base.npy";
    if (!ra::write_npy(p, m.view()).ok()) __builtin_trap();
    return p;
  }();
  const std::string selector(reinterpret_cast<const char*>(data), size);
  std::string path;
  std::vector<ra::SelectorItem> items;
  (void)ra::parse_matrix_spec("x.npy" + selector, &path, &items);
  (void)ra::read_tensor(array + selector);
  return 0;
}
