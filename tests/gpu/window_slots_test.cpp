// The device window's slot layout, simulated on the host (no device needed): after every
// append, the sinks and every run of up to `window` latest tokens read back from their slots
// as exactly those tokens, in order; the token an append pushes out is the one whose slots it
// overwrites.
#include "gpu/window_slots.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

namespace ra::gpu {
namespace {

using attention::TokenRange;

void check_layout(std::uint32_t num_sink, std::uint32_t window) {
  const WindowSlots w{num_sink, window};
  constexpr std::uint32_t kEmpty = ~0u;
  std::vector<std::uint32_t> slots(w.slots(), kEmpty);  // the position each slot holds
  for (std::uint32_t p = 0; p < num_sink + 3 * window + 5; ++p) {
    std::uint32_t leaving = 0;
    if (w.leaves_on_append(p, &leaving)) {
      EXPECT_EQ(slots[w.slot_of(p)], leaving) << "append " << p;
    } else if (p >= num_sink) {
      EXPECT_EQ(slots[w.slot_of(p)], kEmpty) << "append " << p << " overwrote a token still in the window";
    }
    slots[w.slot_of(p)] = p;
    if (p >= num_sink) slots[w.slot_of(p) + window] = p;
    const std::uint32_t T = p + 1;
    TokenRange out;
    const TokenRange sinks{0, std::min(num_sink, T)};
    ASSERT_TRUE(w.slots_of(sinks, &out));
    for (std::uint32_t i = 0; i < sinks.size(); ++i) EXPECT_EQ(slots[out.begin + i], i);
    if (T <= num_sink) continue;
    for (std::uint32_t len = 1; len <= std::min(window, T - num_sink); ++len) {
      const TokenRange latest{T - len, T};
      ASSERT_TRUE(w.slots_of(latest, &out));
      ASSERT_LE(out.end, w.slots());
      for (std::uint32_t i = 0; i < len; ++i) ASSERT_EQ(slots[out.begin + i], latest.begin + i) << "T " << T;
    }
  }
}

TEST(WindowSlots, LatestTokensAreContiguousSlotsAfterEveryAppend) {
  check_layout(4, 64);
  check_layout(4, 1);
  check_layout(0, 7);
  check_layout(16, 5);
}

TEST(WindowSlots, RangesThatAreNeitherSinksNorAWindowAreRefused) {
  const WindowSlots w{4, 8};
  TokenRange out{1, 2};
  EXPECT_FALSE(w.slots_of({2, 6}, &out));   // straddles the sinks
  EXPECT_FALSE(w.slots_of({10, 19}, &out)); // longer than the window
  EXPECT_EQ(out.begin, 1u);
  EXPECT_TRUE(w.slots_of({5, 5}, &out));
  EXPECT_EQ(out.size(), 0u);
  std::uint32_t leaving = 0;
  const WindowSlots no_window{4, 0};
  EXPECT_FALSE(no_window.leaves_on_append(100, &leaving));
}

}  // namespace
}  // namespace ra::gpu
