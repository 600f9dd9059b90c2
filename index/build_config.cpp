#include "index/build_config.h"

#include "index/search.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ra {

std::string_view knn_mode_name(KnnMode mode) noexcept {
  switch (mode) {
    case KnnMode::kAuto: return "auto";
    case KnnMode::kExact: return "exact";
    case KnnMode::kBootstrap: return "bootstrap";
    case KnnMode::kClustered: return "clustered";
  }
  return "?";
}

KnnMode resolve_knn_mode(KnnMode mode, std::size_t n, std::size_t m, double exact_pairs) noexcept {
  if (mode != KnnMode::kAuto) return mode;
  return static_cast<double>(n) * static_cast<double>(m) > exact_pairs ? KnnMode::kClustered : KnnMode::kExact;
}

bool parse_knn_mode(std::string_view name, KnnMode* out) noexcept {
  for (KnnMode m : {KnnMode::kAuto, KnnMode::kExact, KnnMode::kBootstrap, KnnMode::kClustered}) {
    if (knn_mode_name(m) == name) {
      *out = m;
      return true;
    }
  }
  return false;
}

Status BuildConfig::validate() const {
  if (max_degree < 4 || max_degree > 512) {
    return Status::InvalidArgument("max_degree (M) must be in [4, 512], got " + std::to_string(max_degree));
  }
  if (query_knn < 2 || query_knn > kMaxBeam) {
    return Status::InvalidArgument("query_knn (Kq) must be in [2, " + std::to_string(kMaxBeam) + "], got " +
                                   std::to_string(query_knn));
  }
  if (build_beam < max_degree || build_beam > kMaxBeam) {
    return Status::InvalidArgument("build_beam (" + std::to_string(build_beam) + ") must be in [max_degree (" +
                                   std::to_string(max_degree) + "), " + std::to_string(kMaxBeam) + "]");
  }
  if (num_entries < 1 || num_entries > 4096) {
    return Status::InvalidArgument("num_entries must be in [1, 4096], got " + std::to_string(num_entries));
  }
  if (!(probe_share > 0.0 && probe_share <= 1.0)) {
    return Status::InvalidArgument("probe_share must be in (0, 1]");
  }
  if (!(bootstrap_fraction > 0.0 && bootstrap_fraction <= 1.0)) {
    return Status::InvalidArgument("bootstrap_fraction must be in (0, 1]");
  }
  if (!(hub_share > 0.0 && hub_share <= 1.0)) return Status::InvalidArgument("hub_share must be in (0, 1]");
  if (max_hubs > kMaxBeam) {
    return Status::InvalidArgument("max_hubs must be at most " + std::to_string(kMaxBeam));
  }
  if (bootstrap_max_exact < 1) return Status::InvalidArgument("bootstrap_max_exact must be >= 1");
  if (storage == DType::kBF16) {
    return Status::InvalidArgument("index storage must be f32 or f16");
  }
  return Status::OK();
}

std::string BuildReport::to_string() const {
  std::string knn_detail;  // what the kNN's recall was, or why auto took the exact one
  const std::string share = std::to_string(probe_share).substr(0, 5);
  if (knn_recall < 1.0) {
    knn_detail = ", recall " + std::to_string(knn_recall).substr(0, 5) +
                 (knn_mode == KnnMode::kClustered ? ", probe share " + share : "");
  } else if (clustered_recall > 0) {
    knn_detail = ", as the clustered kNN found " + std::to_string(clustered_recall).substr(0, 5) +
                 " of the sample's exact kNN at probe share " + share;
  }
  char buf[1024];
  std::snprintf(buf, sizeof(buf),
                "build: %.2f s (knn %s %.2f s%s, projection %.2f s, reverse edges %.2f s, "
                "connectivity %.2f s)\n"
                "graph: %llu edges, degree mean %.1f min %u max %u; %llu pivots; %llu hubs; %llu keys "
                "without out-edges before repair; %llu keys repaired; %llu unreachable\n"
                "memory: graph %.1f MiB, vectors %.1f MiB; %llu training queries used; %.1f "
                "process CPU s; process peak RSS %.0f MiB",
                total_s,
                (std::string(knn_mode_name(knn_mode)) +
                 (knn_mode == KnnMode::kExact && !knn_device.empty() ? " on the " + knn_device : std::string()))
                    .c_str(),
                knn_s, knn_detail.c_str(),
                projection_s, reverse_s, connectivity_s, static_cast<unsigned long long>(edges),
                mean_degree, min_degree, max_degree, static_cast<unsigned long long>(pivots),
                static_cast<unsigned long long>(hubs),
                static_cast<unsigned long long>(zero_out_degree),
                static_cast<unsigned long long>(repaired), static_cast<unsigned long long>(unreachable),
                static_cast<double>(graph_bytes) / (1 << 20), static_cast<double>(vector_bytes) / (1 << 20),
                static_cast<unsigned long long>(train_used), cpu_s, static_cast<double>(peak_rss_bytes) / (1 << 20));
  return buf;
}

std::string BuildReport::tuning() const {
  if (held_out == 0) return {};
  auto cost = [](double c) {
    return c == 0 ? std::string("not tried")
                  : std::isinf(c) ? std::string("not reached") : std::to_string(static_cast<long long>(std::lround(c))) + " keys";
  };
  std::string out = "self-tuning on " + std::to_string(held_out) + " held-out training queries (" +
                    std::to_string(tune_s).substr(0, 4) + " s): recall 0.95 with hubs " + cost(tune_scored_hubs) +
                    ", without " + cost(tune_scored_plain) + "; kept " + (hubs ? "hubs" : "no hubs") +
                    "; beam for recall 0.90/0.95/0.99:";
  for (std::uint32_t b : tune_beam) out += " " + (b ? std::to_string(b) : std::string("-"));
  return out;
}

std::string BuildReport::warning(std::size_t num_keys) const {
  const std::size_t graph_keys = num_keys - std::min<std::size_t>(num_keys, hubs);
  if (graph_keys == 0 || zero_out_degree * 2 <= graph_keys) return {};
  return "warning: " + std::to_string(zero_out_degree) + " of " + std::to_string(graph_keys) +
         " graph keys had no query-guided edge (they rest on repair edges alone); more or more "
         "varied training queries, or a larger Kq, would guide them";
}

}  // namespace ra
