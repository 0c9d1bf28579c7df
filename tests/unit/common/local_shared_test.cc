#include "common/local_shared.h"

#include <gtest/gtest.h>

namespace halyard::common {
namespace {

struct Node : EnableLocalSharedFromThis<Node> {
  explicit Node(int v) : value(v) {}
  int value;
};

// The single-thread pointer keeps shared_ptr's whole contract: counts, weak references that
// expire, shared_from_this, custom deleters and conversions to a base or void.
TEST(LocalShared, CountsWeakReferencesSharedFromThisAndDeletersWorkAsShared_ptrs) {
  LocalShared<Node> a = makeLocalShared<Node>(7);
  LocalWeak<Node> weak = a;
  {
    LocalShared<Node> b = a->shared_from_this();
    EXPECT_EQ(a.use_count(), 2);
    EXPECT_EQ(b->value, 7);
  }
  EXPECT_EQ(a.use_count(), 1);
  LocalShared<void> erased = a;
  a.reset();
  EXPECT_FALSE(weak.expired());
  erased.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(weak.lock(), nullptr);

  int deleted = 0;
  {
    LocalShared<int> custom(new int(3), [&deleted](int* p) {
      ++deleted;
      delete p;
    });
    LocalShared<int> copy = custom;
    EXPECT_EQ(*copy, 3);
  }
  EXPECT_EQ(deleted, 1);
}

}  // namespace
}  // namespace halyard::common
