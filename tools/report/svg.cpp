#include "tools/report/svg.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace ra::tools {
namespace {

constexpr double kPanelW = 520, kPanelH = 380, kLeft = 70, kRight = 20, kTop = 40, kBottom = 55;

std::string num(double v) {
  char buf[32];
  if (v != 0 && (std::fabs(v) >= 1e7 || std::fabs(v) < 1e-3)) {
    std::snprintf(buf, sizeof(buf), "%.0e", v);
  } else {
    std::snprintf(buf, sizeof(buf), "%.7g", v);
  }
  return buf;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else if (c == '&') out += "&amp;";
    else out += c;
  }
  return out;
}

// Linear ticks at 1, 2 or 5 times a power of ten.
std::vector<double> linear_ticks(double lo, double hi) {
  const double span = hi - lo;
  if (!(span > 0)) return {lo};
  const double raw = span / 5, mag = std::pow(10, std::floor(std::log10(raw)));
  const double step = raw / mag < 1.5 ? mag : raw / mag < 3.5 ? 2 * mag : raw / mag < 7.5 ? 5 * mag : 10 * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) t.push_back(v);
  return t;
}

std::string render_panel(const Panel& p, double ox) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = 0, y1 = -x0;
  for (const Series& s : p.series) {
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      if (p.log_x && !(s.x[i] > 0)) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, s.y[i]);
      y1 = std::max(y1, s.y[i]);
    }
  }
  if (!(x1 > x0)) { x0 -= 1; x1 += 1; }
  if (!(y1 > y0)) y1 = y0 + 1;
  y1 += 0.05 * (y1 - y0);
  const double pw = kPanelW - kLeft - kRight, ph = kPanelH - kTop - kBottom;
  auto fx = [&](double x) {
    const double t = p.log_x ? (std::log10(x) - std::log10(x0)) / (std::log10(x1) - std::log10(x0))
                             : (x - x0) / (x1 - x0);
    return ox + kLeft + t * pw;
  };
  auto fy = [&](double y) { return kTop + ph - (y - y0) / (y1 - y0) * ph; };
  std::string o;
  o += "<text x='" + num(ox + kPanelW / 2) + "' y='24' text-anchor='middle' font-size='15' font-weight='bold'>" +
       escape(p.title) + "</text>\n";
  o += "<rect x='" + num(ox + kLeft) + "' y='" + num(kTop) + "' width='" + num(pw) + "' height='" + num(ph) +
       "' fill='white' stroke='#333'/>\n";
  std::vector<double> xt;
  if (p.log_x) {
    for (double e = std::floor(std::log10(x0)); e <= std::ceil(std::log10(x1)); ++e) {
      const double v = std::pow(10, e);
      if (v >= x0 * 0.999 && v <= x1 * 1.001) xt.push_back(v);
    }
  } else {
    xt = linear_ticks(x0, x1);
  }
  for (double v : xt) {
    o += "<line x1='" + num(fx(v)) + "' y1='" + num(kTop) + "' x2='" + num(fx(v)) + "' y2='" + num(kTop + ph) +
         "' stroke='#ddd'/><text x='" + num(fx(v)) + "' y='" + num(kTop + ph + 16) +
         "' text-anchor='middle' font-size='11'>" + num(v) + "</text>\n";
  }
  for (double v : linear_ticks(y0, y1)) {
    o += "<line x1='" + num(ox + kLeft) + "' y1='" + num(fy(v)) + "' x2='" + num(ox + kLeft + pw) + "' y2='" +
         num(fy(v)) + "' stroke='#ddd'/><text x='" + num(ox + kLeft - 6) + "' y='" + num(fy(v) + 4) +
         "' text-anchor='end' font-size='11'>" + num(v) + "</text>\n";
  }
  o += "<text x='" + num(ox + kLeft + pw / 2) + "' y='" + num(kPanelH - 12) + "' text-anchor='middle' font-size='12'>" +
       escape(p.x_label) + "</text>\n";
  o += "<text transform='translate(" + num(ox + 16) + "," + num(kTop + ph / 2) +
       ") rotate(-90)' text-anchor='middle' font-size='12'>" + escape(p.y_label) + "</text>\n";
  // The legend sits on a white box in the lower right corner, where curves rising to the top
  // (recall, mass) leave room, or in the upper right one.
  const double legend_h = 16.0 * static_cast<double>(p.series.size()) + 6;
  double legend_w = 0;
  for (const Series& s : p.series) legend_w = std::max(legend_w, 7.0 * static_cast<double>(s.name.size()) + 34);
  const double lx = ox + kLeft + pw - legend_w - 6;
  double ly = p.legend_top ? kTop + 20 : kTop + ph - legend_h + 10;
  o += "<rect x='" + num(lx - 4) + "' y='" + num(ly - 14) + "' width='" + num(legend_w) + "' height='" +
       num(legend_h) + "' fill='white' fill-opacity='0.9' stroke='#ccc'/>\n";
  for (const Series& s : p.series) {
    std::string pts;
    if (s.histogram && s.x.size() > 1) {
      const double half = (s.x[1] - s.x[0]) / 2;
      pts += num(fx(s.x.front() - half)) + "," + num(fy(0)) + " ";
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        pts += num(fx(s.x[i] - half)) + "," + num(fy(s.y[i])) + " " + num(fx(s.x[i] + half)) + "," + num(fy(s.y[i])) + " ";
      }
      pts += num(fx(s.x.back() + half)) + "," + num(fy(0));
      o += "<polygon points='" + pts + "' fill='" + s.color + "' fill-opacity='0.35' stroke='" + s.color + "'/>\n";
    } else {
      for (std::size_t i = 0; i < s.x.size(); ++i) {
        if (p.log_x && !(s.x[i] > 0)) continue;
        pts += num(fx(s.x[i])) + "," + num(fy(s.y[i])) + " ";
      }
      o += "<polyline points='" + pts + "' fill='none' stroke='" + s.color + "' stroke-width='2'/>\n";
      for (std::size_t i = 0; s.markers && i < s.x.size(); ++i) {
        if (p.log_x && !(s.x[i] > 0)) continue;
        o += "<circle cx='" + num(fx(s.x[i])) + "' cy='" + num(fy(s.y[i])) + "' r='3' fill='" + s.color + "'/>\n";
      }
    }
    o += "<rect x='" + num(lx) + "' y='" + num(ly - 9) + "' width='12' height='10' fill='" + s.color +
         "'/><text x='" + num(lx + 17) + "' y='" + num(ly) + "' font-size='12'>" + escape(s.name) + "</text>\n";
    ly += 16;
  }
  return o;
}

}  // namespace

std::string render_svg(const std::string& title, const std::vector<Panel>& panels) {
  const double width = kPanelW * static_cast<double>(std::max<std::size_t>(1, panels.size()));
  const double height = kPanelH + 40;
  std::string o = "<?xml version='1.0' encoding='UTF-8'?>\n<svg xmlns='http://www.w3.org/2000/svg' width='" +
                  num(width) + "' height='" + num(height) + "' viewBox='0 0 " + num(width) + " " + num(height) +
                  "' font-family='sans-serif'>\n<rect width='100%' height='100%' fill='#fafafa'/>\n";
  o += "<text x='" + num(width / 2) + "' y='22' text-anchor='middle' font-size='17'>" + escape(title) + "</text>\n";
  o += "<g transform='translate(0,40)'>\n";
  for (std::size_t i = 0; i < panels.size(); ++i) o += render_panel(panels[i], kPanelW * static_cast<double>(i));
  o += "</g>\n</svg>\n";
  return o;
}

}  // namespace ra::tools
