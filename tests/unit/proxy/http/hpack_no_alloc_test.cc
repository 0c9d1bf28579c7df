// HPACK's steady state must not allocate: once a connection's encoder and decoder have seen
// enough blocks for their tables and the decoder's chunks to have grown to what the fields need
// (here a date that changes on every block fills the table within a hundred blocks), encoding
// and decoding a proxy's blocks, with a new request id in each, makes no call to operator new,
// though every block inserts and evicts.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "count_allocations.h"
#include "proxy/http/hpack_decoder.h"
#include "proxy/http/hpack_encoder.h"

namespace halyard::proxy::http {
namespace {

TEST(HpackNoAlloc, EncodeAndDecodeInTheSteadyState) {
  constexpr int kBlocks = 600;
  std::vector<std::string> ids;
  std::vector<std::string> dates;
  for (int i = 0; i < kBlocks; ++i) {
    char b[64];
    std::snprintf(b, sizeof b, "%08x-9dad-4c2b-8f1e-%012x", i * 2654435761u, i * 40503u);
    ids.emplace_back(b);
    std::snprintf(b, sizeof b, "Mon, 07 Dec 2026 %02d:%02d:%02d GMT", i / 3600, i / 60 % 60,
                  i % 60);
    dates.emplace_back(b);
  }
  HpackEncoder encoder;
  HpackDecoder decoder;
  std::string block;
  block.reserve(4096);
  std::vector<HpackField> fields;
  fields.reserve(32);
  std::vector<HpackField> decoded;
  decoded.reserve(32);
  long before = 0;
  for (int i = 0; i < kBlocks; ++i) {
    if (i == 200) before = test_support::allocations();  // warmed up: the table is full
    fields.clear();
    fields.push_back({":method", "GET"});
    fields.push_back({":scheme", "http"});
    fields.push_back({":authority", "shop.example.com:8080"});
    fields.push_back({":path", "/api/items?page=2"});
    fields.push_back({"user-agent", "h2load nghttp2/1.52.0"});
    fields.push_back({"x-forwarded-proto", "http"});
    fields.push_back({"x-request-id", ids[i]});
    fields.push_back({":status", "200"});
    fields.push_back({"date", dates[i]});
    fields.push_back({"content-length", "612"});
    block.clear();
    encoder.encode(fields, block);
    decoded.clear();
    ASSERT_TRUE(decoder.decode(block, decoded).ok());
    ASSERT_EQ(decoded.size(), fields.size());
  }
  EXPECT_EQ(test_support::allocations() - before, 0);
}

}  // namespace
}  // namespace halyard::proxy::http
