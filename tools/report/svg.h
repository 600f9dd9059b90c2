#pragma once
// Plain SVG charts (no dependency): panels side by side, each with lines and/or filled
// histograms, axes with ticks, a legend. For pictures a browser shows directly.
#include <string>
#include <vector>

namespace ra::tools {

struct Series {
  std::string name;
  std::vector<double> x, y;
  std::string color = "#1f77b4";
  bool histogram = false;  // draw as a filled step outline over bin centres x
  bool markers = true;     // lines only: a dot at each point
};

struct Panel {
  std::string title, x_label, y_label;
  bool log_x = false;
  std::vector<Series> series;
  bool legend_top = false;  // legend in the upper right corner (default: lower right)
};

/// One SVG document: `title` on top, then the panels left to right.
std::string render_svg(const std::string& title, const std::vector<Panel>& panels);

}  // namespace ra::tools
