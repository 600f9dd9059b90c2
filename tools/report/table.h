#pragma once
// A plain-text table with right-aligned columns, for the command line and benchmarks.
#include <string>
#include <vector>

namespace ra::tools {

class Table {
 public:
  explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  /// Header, a rule, then the rows; every line ends with '\n'.
  std::string render() const;

 private:
  std::vector<std::string> headers_;
  std::vector<std::vector<std::string>> rows_;
};

/// printf-style number formatting ("%.3f") into a std::string.
std::string format(const char* fmt, double value);

}  // namespace ra::tools
