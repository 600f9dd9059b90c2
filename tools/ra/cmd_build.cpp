// ra build: an index over keys, saved to one file: the query-guided graph (the default), or
// partitions + 4-bit codes (--kind partition, which needs no training queries).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>

#include "index/config.h"
#include "index/graph_index.h"
#include "index/partition_index.h"
#include "index/vector_io.h"
#include "tools/ra/commands.h"

namespace ra::cli {
namespace {

int build_partition(const std::string& keys_path, const std::string& out, DType storage, std::uint32_t threads,
                    PartitionConfig cfg) {
  auto keys = read_matrix(keys_path, storage);
  if (!keys.ok()) return fail("build", keys.status());
  cfg.num_threads = threads;
  std::fprintf(stderr, "ra build: %zu keys x dim %zu, partitions + 4-bit codes, %s\n", keys->rows(), keys->dim(),
               std::string(dtype_name(storage)).c_str());
  const auto t0 = std::chrono::steady_clock::now();
  auto index = PartitionIndex::build(keys->view(), cfg);
  if (!index.ok()) return fail("build", index.status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (Status s = (*index)->save(out); !s.ok()) return fail("build", s);
  std::printf("partition index: %zu lists, %zu subspaces of %zu dims (%zu bytes of codes a key), %.1f MiB, built in %.1f s\n",
              (*index)->lists(), (*index)->subspaces(), cfg.subspace_dims, (*index)->subspaces() / 2,
              static_cast<double>((*index)->memory_bytes()) / (1 << 20), seconds);
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

}  // namespace

Runner add_build(CLI::App& app) {
  struct Options {
    std::string keys, train, out, dtype = "f32", knn = "auto", kind = "graph";
    BuildConfig cfg;
    PartitionConfig partitions;
  };
  auto o = std::make_shared<Options>();
  CLI::App* cmd = app.add_subcommand("build", "Build an index: a query-guided graph, or partitions + 4-bit codes");
  cmd->add_option("--keys", o->keys, "Keys: .fbin or .npy, selector allowed")->required();
  cmd->add_option("--train-queries", o->train,
                  "Training queries (samples of the query distribution; the graph needs them)");
  cmd->add_option("--out", o->out, "Index file to write")->required();
  cmd->add_option("--kind", o->kind, "graph (query-guided) or partition (k-means lists + 4-bit codes + exact reorder)")
      ->check(CLI::IsMember({"graph", "partition"}))
      ->capture_default_str();
  cmd->add_option("--lists", o->partitions.lists, "Partition: k-means lists (0: 2 sqrt(n))")->capture_default_str();
  cmd->add_option("--subspace-dims", o->partitions.subspace_dims, "Partition: dimensions per 4-bit code")
      ->capture_default_str();
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
    if (o->kind == "partition") return build_partition(o->keys, o->out, o->cfg.storage, o->cfg.num_threads, o->partitions);
    if (o->train.empty()) return fail("build", Status::InvalidArgument("--kind graph needs --train-queries"));
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
