// ra build: a query-guided graph index over keys, saved to one file.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "index/config.h"
#include "index/graph_index.h"
#include "index/vector_io.h"
#include "tools/ra/commands.h"

namespace ra::cli {

Runner add_build(CLI::App& app) {
  struct Options {
    std::string keys, train, out, dtype = "f32", knn = "auto";
    BuildConfig cfg;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("build", "Build a query-guided graph index");
  cmd->add_option("--keys", o->keys, "Keys: .fbin or .npy, selector allowed")->required();
  cmd->add_option("--train-queries", o->train, "Training queries (samples of the query distribution)")
      ->required();
  cmd->add_option("--out", o->out, "Index file to write")->required();
  cmd->add_option("--degree", o->cfg.max_degree, "Maximum out-degree M")->capture_default_str();
  cmd->add_option("--query-knn", o->cfg.query_knn, "Keys linked through each training query (Kq)")
      ->capture_default_str();
  cmd->add_option("--build-beam", o->cfg.build_beam, "Beam for linking by search")->capture_default_str();
  cmd->add_option("--entries", o->cfg.num_entries, "Search entry points")->capture_default_str();
  cmd->add_option("--knn", o->knn, "Training-query kNN: exact, bootstrap (exact on a sample, "
                                   "then graph search), clustered (k-means partitions, each query "
                                   "scores its best --probe-share of them), auto (exact up to 2^30 keys x "
                                   "queries, clustered above, its probe share doubled up to 0.3 while it misses 5% of a sample's exact kNN, exact if it still does), or gpu (exact, cuBLAS on the first CUDA device)")
      ->check(CLI::IsMember({"auto", "exact", "bootstrap", "clustered", "gpu"}))
      ->capture_default_str();
  cmd->add_option("--max-train", o->cfg.max_train_queries,
                  "At most this many training queries, evenly spaced (0: all)")->capture_default_str();
  cmd->add_option("--probe-share", o->cfg.probe_share,
                  "Clustered kNN: share of the partitions each training query ranks best")->capture_default_str();
  cmd->add_option("--bootstrap-fraction", o->cfg.bootstrap_fraction,
                  "Share of training queries solved exactly in bootstrap mode")->capture_default_str();
  cmd->add_option("--hub-share", o->cfg.hub_share,
                  "A key in the top-Kq of at least this share of the training queries is a hub: "
                  "scored exactly by every search, kept out of the graph")->capture_default_str();
  cmd->add_option("--max-hubs", o->cfg.max_hubs, "At most this many hubs (0: none)")->capture_default_str();
  cmd->add_flag("!--no-tune", o->cfg.self_tune,
                "Keep the graph with hubs without measuring the one without on held-out training queries");
  cmd->add_option("--dtype", o->dtype, "Key storage: f32 or f16")
      ->check(CLI::IsMember({"f32", "f16"}))
      ->capture_default_str();
  cmd->add_option("--threads", o->cfg.num_threads, "Threads (0: all)")->capture_default_str();
  return [o] {
    parse_dtype(o->dtype, &o->cfg.storage);
    if (!parse_knn_mode(o->knn, &o->cfg.knn_mode)) o->cfg.knn_mode = KnnMode::kExact;  // "gpu": exact, on the device
    if (o->knn == "gpu" && !use_gpu_knn(&o->cfg)) {
      return fail("build", Status::Unsupported(RA_WITH_CUDA ? "--knn gpu: no CUDA device on this machine"
                                                            : "--knn gpu: this ra was built without CUDA"));
    }
    // A step per line; within the kNN, its share done (rewritten in place on a terminal).
    o->cfg.progress = [tty = isatty(2) != 0](std::string_view step, double done) {
      const int len = static_cast<int>(step.size());
      if (done == 0) {
        std::fprintf(stderr, "%sra build: %.*s...\n", tty ? "\r\033[K" : "", len, step.data());
      } else {
        std::fprintf(stderr, tty ? "\rra build: %.*s %3.0f%%%s" : "ra build: %.*s %3.0f%%%s\n", len, step.data(),
                     100 * done, tty ? "\033[K" : "");
      }
    };
    if (Status s = check_outputs({o->out}); !s.ok()) return fail("build", s);
    auto keys = read_matrix(o->keys);
    if (!keys.ok()) return fail("build", keys.status());
    auto train = read_matrix(o->train);
    if (!train.ok()) return fail("build", train.status());
    std::fprintf(stderr, "ra build: %zu keys x dim %zu, %zu training queries, M=%u Kq=%u, %s\n",
                 keys->rows(), keys->dim(), train->rows(), o->cfg.max_degree, o->cfg.query_knn,
                 o->dtype.c_str());
    BuildReport report;
    auto index = GraphIndex::build(keys->view(), train->view(), o->cfg, KeyOwnership::kCopy, &report);
    if (!index.ok()) return fail("build", index.status());
    if (Status s = (*index)->save(o->out); !s.ok()) return fail("build", s);
    std::printf("%s\n", report.to_string().c_str());
    if (const std::string t = report.tuning(); !t.empty()) std::printf("%s\n", t.c_str());
    std::printf("wrote %s\n", o->out.c_str());
    if (const std::string w = report.warning(keys->rows()); !w.empty()) {
      std::fprintf(stderr, "ra build: %s\n", w.c_str());
    }
    return 0;
  };
}

}  // namespace ra::cli
