#include "proxy/http/path_normalizer.h"

#include <gtest/gtest.h>

#include <string>

namespace halyard::proxy::http {
namespace {

std::string normal(std::string_view path) {
  std::string out = "untouched";
  return normalizePath(path, out) ? out : std::string(path);
}

TEST(PathNormalizer, NormalPathsAreLeftAloneWithoutWork) {
  std::string out = "untouched";
  EXPECT_FALSE(normalizePath("/api/items/42?q=a/../b", out));
  EXPECT_FALSE(normalizePath("/a.b/c..d/.e", out));  // dots inside segments are not dot segments
  EXPECT_EQ(out, "untouched");
}

TEST(PathNormalizer, DotSegmentsAreRemoved) {
  EXPECT_EQ(normal("/a/./b"), "/a/b");
  EXPECT_EQ(normal("/a/b/../c"), "/a/c");
  EXPECT_EQ(normal("/../../admin"), "/admin");
  EXPECT_EQ(normal("/a/.."), "/");
  EXPECT_EQ(normal("/a/b/."), "/a/b/");
  EXPECT_EQ(normal("/public/../admin?x=/../y"), "/admin?x=/../y");  // the query is kept
}

TEST(PathNormalizer, BackslashesAndEncodedUnreservedCharacters) {
  EXPECT_EQ(normal("/public\\..\\admin"), "/admin");
  EXPECT_EQ(normal("/public/%2E%2E/admin"), "/admin");
  EXPECT_EQ(normal("/public/%2e%2e/admin"), "/admin");
  EXPECT_EQ(normal("/%61dmin"), "/admin");
  EXPECT_EQ(normal("/a%2Fb"), "/a%2Fb");    // an encoded slash stays encoded
  EXPECT_EQ(normal("/a%2"), "/a%2");        // a cut escape stays as it was
  EXPECT_EQ(normal("/100%25"), "/100%25");  // so does a reserved one
  // Decoding must not make a new escape out of a stray '%': once normal, always normal.
  EXPECT_EQ(normal("/%3%34"), "/%3%34");
  EXPECT_EQ(normal("/%%341"), "/%%341");
  EXPECT_EQ(normal("/%2E%3%34"), "/.%3%34");
}

}  // namespace
}  // namespace halyard::proxy::http

namespace halyard::proxy::http {
namespace {

std::string normalAs(std::string_view path, PathNormalization mode) {
  std::string out;
  return normalizePath(path, out, mode) ? out : std::string(path);
}

TEST(PathNormalizer, NoneLeavesEverythingAsReceived) {
  std::string out = "untouched";
  EXPECT_FALSE(normalizePath("/a/../b%2E\\c", out, PathNormalization::kNone));
  EXPECT_EQ(out, "untouched");
}

TEST(PathNormalizer, MergeSlashesAfterBase) {
  EXPECT_EQ(normalAs("//a///b/", PathNormalization::kMergeSlashes), "/a/b/");
  EXPECT_EQ(normalAs("/a//../b", PathNormalization::kMergeSlashes), "/a/b");
  EXPECT_EQ(normalAs("/a//b?x=//y", PathNormalization::kMergeSlashes), "/a/b?x=//y");
  EXPECT_EQ(normalAs("//a//b", PathNormalization::kBase), "//a//b");  // BASE keeps them
  EXPECT_EQ(normalAs("/a%2Fb", PathNormalization::kMergeSlashes), "/a%2Fb");
}

TEST(PathNormalizer, DecodeAndMergeSlashesDecodesEncodedSlashes) {
  const auto mode = PathNormalization::kDecodeAndMergeSlashes;
  EXPECT_EQ(normalAs("/a%2Fb", mode), "/a/b");
  // Envoy's order: slashes unescaped, then dot segments removed, then slashes merged ("/a//.."
  // drops the empty segment only).
  EXPECT_EQ(normalAs("/a%2f%2F..%2Fadmin", mode), "/a/admin");
  EXPECT_EQ(normalAs("/a%5Cb", mode), "/a/b");
  EXPECT_EQ(normalAs("/public%2F..%2Fadmin?q=%2F", mode), "/admin?q=%2F");
}

}  // namespace
}  // namespace halyard::proxy::http
