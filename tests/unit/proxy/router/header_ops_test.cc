// applyHeaderOps: Envoy HeaderParser order (remove, set, add per ops; later ops see earlier).
#include "proxy/router/header_ops.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxy/http/request_view.h"

namespace halyard::proxy::router {
namespace {

namespace tr = halyard::translate;
using Headers = std::vector<std::pair<std::string, std::string>>;

Headers apply(const Headers& in, std::initializer_list<const tr::HeaderOps*> ops) {
  Headers out;
  applyHeaderOps(in, ops, [&](std::string_view n, std::string_view v) {
    out.emplace_back(std::string(n), std::string(v));
  });
  return out;
}

TEST(HeaderOps, NoOpsKeepsEverything) {
  Headers in = {{"a", "1"}, {"b", "2"}};
  EXPECT_EQ(apply(in, {}), in);
  EXPECT_EQ(apply(in, {nullptr}), in);
  EXPECT_TRUE(headerOpsEmpty({nullptr}));
}

TEST(HeaderOps, SetOverwritesAddAppendsRemoveDrops) {
  tr::HeaderOps ops;
  ops.set = {{"x-set", "new"}};
  ops.add = {{"x-add", "more"}};
  ops.remove = {"x-gone"};
  Headers in = {{"x-set", "old"}, {"x-add", "first"}, {"x-gone", "1"}, {"x-set", "old2"},
                {"keep", "k"}};
  Headers want = {{"x-add", "first"}, {"keep", "k"}, {"x-set", "new"}, {"x-add", "more"}};
  EXPECT_EQ(apply(in, {&ops}), want);
  EXPECT_FALSE(headerOpsEmpty({&ops}));
}

TEST(HeaderOps, NamesCompareCaseInsensitively) {
  tr::HeaderOps ops;
  ops.remove = {"server"};
  ops.set = {{"content-type", "text/plain"}};
  Headers in = {{"Server", "x"}, {"Content-Type", "a/b"}};
  Headers want = {{"content-type", "text/plain"}};
  EXPECT_EQ(apply(in, {&ops}), want);
}

TEST(HeaderOps, RemoveThenAddInSameOpsKeepsTheAdd) {
  tr::HeaderOps ops;
  ops.remove = {"x"};
  ops.add = {{"x", "added"}};
  Headers want = {{"x", "added"}};
  EXPECT_EQ(apply({{"x", "orig"}}, {&ops}), want);
}

TEST(HeaderOps, LaterOpsSeeEarlierResults) {
  tr::HeaderOps route;
  route.set = {{"x-v", "route"}};
  route.add = {{"x-a", "route"}};
  tr::HeaderOps dest;
  dest.set = {{"x-v", "dest"}};  // destination-level applies after route-level
  dest.remove = {"x-a"};
  Headers want = {{"x-v", "dest"}};
  EXPECT_EQ(apply({{"x-a", "orig"}}, {&route, &dest}), want);

  tr::HeaderOps dest_add;
  dest_add.add = {{"x-v", "dest"}};
  Headers want2 = {{"x-v", "route"}, {"x-a", "route"}, {"x-v", "dest"}};
  EXPECT_EQ(apply({}, {&route, &dest_add}), want2);
}

TEST(HeaderOps, EmptyValuesAreSkipped) {
  tr::HeaderOps ops;
  ops.set = {{"x", ""}};
  ops.add = {{"y", ""}};
  Headers in = {{"x", "keep"}};
  EXPECT_EQ(apply(in, {&ops}), in);
}

TEST(HeaderOps, WorksOnRequestViews) {
  tr::HeaderOps ops;
  ops.remove = {"b"};
  std::vector<http::HeaderView> in = {{"a", "1"}, {"b", "2"}};
  Headers out;
  applyHeaderOps(in, {&ops}, [&](std::string_view n, std::string_view v) {
    out.emplace_back(std::string(n), std::string(v));
  });
  Headers want = {{"a", "1"}};
  EXPECT_EQ(out, want);
}

}  // namespace
}  // namespace halyard::proxy::router
