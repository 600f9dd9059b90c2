// A program outside the project, built against the installed library.
#include <retrieval_attention/attention/merge_state.h>
#include <retrieval_attention/index/flat_index.h>
#include <retrieval_attention/index/graph_index.h>

#include <cstdio>

int main() {
  ra::Matrix keys = ra::Matrix::zeros(3, 2).value();
  const float k[] = {1, 0, 0, 1, 2, 2};
  for (int i = 0; i < 6; ++i) keys.f32_row(0)[i] = k[i];
  auto index = ra::FlatIndex::over(keys.view());
  const float q[] = {1, 0.5f};
  ra::SearchParams p;
  p.k = 1;
  ra::SearchResults res;
  if (!index.ok() || !index->search(ra::MatrixView::f32(q, 1, 2), p, &res).ok() || res.ids[0] != 2) {
    std::fprintf(stderr, "consumer: wrong result\n");
    return 1;
  }
  std::printf("consumer: top-1 id %lld, score %.1f\n", static_cast<long long>(res.ids[0]), res.scores[0]);
  return 0;
}
