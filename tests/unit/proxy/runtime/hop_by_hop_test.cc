#include "proxy/runtime/hop_by_hop.h"

#include <gtest/gtest.h>

namespace halyard::proxy::runtime {
namespace {

TEST(HopByHop, FixedNames) {
  for (const char* n : {"connection", "keep-alive", "proxy-connection", "te", "trailer",
                        "transfer-encoding", "upgrade", "content-length"}) {
    EXPECT_TRUE(isHopByHopName(n)) << n;
  }
  for (const char* n : {"host", "content-type", "x-te", "trailers", "upgrade-insecure-requests"}) {
    EXPECT_FALSE(isHopByHopName(n)) << n;
  }
}

TEST(HopByHop, FieldsNamedByConnection) {
  const http::HeaderView headers[] = {
      {"connection", "keep-alive, X-Private ,close"}, {"x-private", "1"}, {"x-public", "2"}};
  EXPECT_TRUE(hasExtraConnectionOptions(headers));
  EXPECT_TRUE(mustDrop(headers, "x-private", true));
  EXPECT_FALSE(mustDrop(headers, "x-public", true));
  const http::HeaderView plain[] = {{"connection", "close"}, {"x-private", "1"}};
  EXPECT_FALSE(hasExtraConnectionOptions(plain));
  EXPECT_FALSE(namedByConnection(plain, "x-private"));
}

}  // namespace
}  // namespace halyard::proxy::runtime
