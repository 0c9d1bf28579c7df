// HPACK: RFC 7541 Appendix C (C.2-C.6, decoded and, where our policy matches the example's,
// encoded byte for byte), round trips through nghttp2's own HPACK in both directions, and
// malformed blocks.
#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstdint>
#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "proxy/http/hpack_decoder.h"
#include "proxy/http/hpack_encoder.h"
#include "proxy/http/hpack_huffman.h"

namespace halyard::proxy::http {
namespace {

using Fields = std::vector<std::pair<std::string, std::string>>;

std::string unhex(std::string_view s) {
  std::string out;
  int hi = -1;
  for (char c : s) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      v = c - 'a' + 10;
    } else {
      continue;
    }
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<char>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

std::string hex(std::string_view s) {
  static const char* d = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(d[c >> 4]);
    out.push_back(d[c & 15]);
  }
  return out;
}

Fields decodeOk(HpackDecoder& d, std::string_view block) {
  std::vector<HpackField> out;
  auto r = d.decode(block, out);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
  Fields f;
  for (const auto& x : out) f.emplace_back(std::string(x.name), std::string(x.value));
  return f;
}

std::string decodeError(HpackDecoder& d, std::string_view block,
                        common::ErrorKind kind = common::ErrorKind::kProtocol) {
  std::vector<HpackField> out;
  auto r = d.decode(block, out);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return {};
  EXPECT_EQ(r.error().kind, kind) << r.error().message;
  return r.error().message;
}

Fields dynamicTable(const HpackDynamicTable& t) {
  Fields f;
  for (std::size_t i = 0; i < t.count(); ++i) {
    f.emplace_back(std::string(t.entry(i).name), std::string(t.entry(i).value));
  }
  return f;
}

std::string encodeBlock(HpackEncoder& e, const Fields& fields) {
  std::vector<HpackField> v;
  for (const auto& [n, val] : fields) v.push_back({n, val});
  std::string out;
  e.encode(v, out);
  return out;
}

const Fields kReq1 = {
    {":method", "GET"}, {":scheme", "http"}, {":path", "/"}, {":authority", "www.example.com"}};
const Fields kReq2 = {{":method", "GET"},
                      {":scheme", "http"},
                      {":path", "/"},
                      {":authority", "www.example.com"},
                      {"cache-control", "no-cache"}};
const Fields kReq3 = {{":method", "GET"},
                      {":scheme", "https"},
                      {":path", "/index.html"},
                      {":authority", "www.example.com"},
                      {"custom-key", "custom-value"}};
const Fields kResp1 = {{":status", "302"},
                       {"cache-control", "private"},
                       {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                       {"location", "https://www.example.com"}};
const Fields kResp2 = {{":status", "307"},
                       {"cache-control", "private"},
                       {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                       {"location", "https://www.example.com"}};
const Fields kResp3 = {{":status", "200"},
                       {"cache-control", "private"},
                       {"date", "Mon, 21 Oct 2013 20:13:22 GMT"},
                       {"location", "https://www.example.com"},
                       {"content-encoding", "gzip"},
                       {"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"}};

TEST(HpackHuffman, CodesTheRfcStrings) {
  const std::pair<const char*, const char*> cases[] = {
      {"www.example.com", "f1e3c2e5f23a6ba0ab90f4ff"},
      {"no-cache", "a8eb10649cbf"},
      {"custom-key", "25a849e95ba97d7f"},
      {"custom-value", "25a849e95bb8e8b4bf"},
      {"302", "6402"},
      {"private", "aec3771a4b"},
      {"Mon, 21 Oct 2013 20:13:21 GMT", "d07abe941054d444a8200595040b8166e082a62d1bff"},
      {"https://www.example.com", "9d29ad171863c78f0b97c8e9ae82ae43d3"},
      {"gzip", "9bd9ab"},
  };
  for (const auto& [text, coded] : cases) {
    std::string out;
    huffmanEncode(text, out);
    EXPECT_EQ(hex(out), coded);
    EXPECT_EQ(huffmanEncodedLength(text), out.size());
    std::string back(64, '\0');
    auto n = huffmanDecode(out, back.data(), back.size());
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(back.substr(0, *n), text);
  }
}

TEST(HpackHuffman, EveryByteValueRoundTrips) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (int rep = 0; rep < 3; ++rep) all += all;
  std::string coded;
  huffmanEncode(all, coded);
  std::string back(all.size(), '\0');
  auto n = huffmanDecode(coded, back.data(), back.size());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(back.substr(0, *n), all);
  // One byte short of room: refused, not written past.
  EXPECT_FALSE(huffmanDecode(coded, back.data(), back.size() - 1).ok());
}

TEST(HpackHuffman, RandomStringsOfEveryLengthRoundTrip) {
  std::uint32_t seed = 1;
  for (std::size_t len = 0; len < 300; ++len) {
    std::string text;
    for (std::size_t i = 0; i < len; ++i) {
      seed = seed * 1103515245 + 12345;
      // Mostly header-like bytes, now and then any byte (long codes).
      text.push_back(static_cast<char>((seed >> 16) % 7 ? 32 + (seed >> 8) % 95 : (seed >> 8)));
    }
    std::string coded;
    huffmanEncode(text, coded);
    ASSERT_EQ(coded.size(), huffmanEncodedLength(text));
    std::string back(len * 2 + 1, '\0');
    auto n = huffmanDecode(coded, back.data(), back.size());
    ASSERT_TRUE(n.ok()) << len;
    ASSERT_EQ(back.substr(0, *n), text) << len;
  }
}

TEST(HpackHuffman, RejectsBadPaddingAndEos) {
  char out[16];
  // 'a' is 00011 (5 bits); padding 000 is not ones.
  EXPECT_FALSE(huffmanDecode(unhex("18"), out, sizeof out).ok());
  // 'a' padded with ones is fine: 00011111.
  EXPECT_TRUE(huffmanDecode(unhex("1f"), out, sizeof out).ok());
  // A whole byte of ones after 'a' ends: padding of 11 bits.
  EXPECT_FALSE(huffmanDecode(unhex("1fff"), out, sizeof out).ok());
  // EOS itself (30 ones) followed by padding, alone and after symbols.
  EXPECT_FALSE(huffmanDecode(unhex("ffffffff"), out, sizeof out).ok());
  EXPECT_FALSE(huffmanDecode(unhex("00 3fff ffff"), out, sizeof out).ok());
  // A lone byte of ones: 8 bits of padding.
  EXPECT_FALSE(huffmanDecode(unhex("ff"), out, sizeof out).ok());
}

// The dynamic table against a plain model (a deque, evicting from the back) over insertions of
// every size, resizes down and up, and the buffer's growth and compaction.
TEST(HpackDynamicTable, MatchesAPlainModel) {
  HpackDynamicTable t(512);
  std::deque<std::pair<std::string, std::string>> model;
  std::uint32_t max = 512;
  std::uint32_t seed = 7;
  auto next = [&] {
    seed = seed * 1103515245 + 12345;
    return (seed >> 8) & 0xffff;
  };
  auto modelSize = [&] {
    std::size_t n = 0;
    for (const auto& [a, b] : model) n += a.size() + b.size() + 32;
    return n;
  };
  for (int i = 0; i < 5000; ++i) {
    if (i % 700 == 699) {
      max = (i / 700) % 2 ? 2048 : 100;
      t.setMaxSize(max);
      while (modelSize() > max) model.pop_back();
    }
    std::string name = "n" + std::to_string(next() % 50);
    std::string value(next() % 300, static_cast<char>('a' + i % 26));
    t.add(name, value);
    if (name.size() + value.size() + 32 > max) {
      model.clear();
    } else {
      model.emplace_front(name, value);
      while (modelSize() > max) model.pop_back();
    }
    ASSERT_EQ(t.count(), model.size()) << i;
    ASSERT_EQ(t.size(), modelSize()) << i;
    for (std::size_t k = 0; k < model.size(); ++k) {
      ASSERT_EQ(t.entry(k).name, model[k].first) << i;
      ASSERT_EQ(t.entry(k).value, model[k].second) << i;
    }
  }
}

TEST(HpackDecoder, RfcC2SingleRepresentations) {
  HpackDecoder d;
  EXPECT_EQ(decodeOk(d, unhex("400a 6375 7374 6f6d 2d6b 6579 0d63 7573 746f 6d2d 6865 6164 6572")),
            (Fields{{"custom-key", "custom-header"}}));
  EXPECT_EQ(d.table().size(), 55u);
  HpackDecoder d2;
  EXPECT_EQ(decodeOk(d2, unhex("040c 2f73 616d 706c 652f 7061 7468")),
            (Fields{{":path", "/sample/path"}}));
  EXPECT_EQ(d2.table().count(), 0u);
  EXPECT_EQ(decodeOk(d2, unhex("1008 7061 7373 776f 7264 0673 6563 7265 74")),
            (Fields{{"password", "secret"}}));
  EXPECT_EQ(d2.table().count(), 0u);
  EXPECT_EQ(decodeOk(d2, unhex("82")), (Fields{{":method", "GET"}}));
  EXPECT_EQ(d2.table().count(), 0u);
}

void checkRequests(const char* b1, const char* b2, const char* b3) {
  HpackDecoder d;
  EXPECT_EQ(decodeOk(d, unhex(b1)), kReq1);
  EXPECT_EQ(d.table().size(), 57u);
  EXPECT_EQ(decodeOk(d, unhex(b2)), kReq2);
  EXPECT_EQ(d.table().size(), 110u);
  EXPECT_EQ(decodeOk(d, unhex(b3)), kReq3);
  EXPECT_EQ(d.table().size(), 164u);
  EXPECT_EQ(dynamicTable(d.table()), (Fields{{"custom-key", "custom-value"},
                                             {"cache-control", "no-cache"},
                                             {":authority", "www.example.com"}}));
}

TEST(HpackDecoder, RfcC3RequestsWithoutHuffman) {
  checkRequests("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
                "8286 84be 5808 6e6f 2d63 6163 6865",
                "8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65");
}

constexpr const char* kC4[] = {"8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff",
                               "8286 84be 5886 a8eb 1064 9cbf",
                               "8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"};

TEST(HpackDecoder, RfcC4RequestsWithHuffman) {
  checkRequests(kC4[0], kC4[1], kC4[2]);
}

void checkResponses(const char* b1, const char* b2, const char* b3) {
  HpackDecoder d(256);
  EXPECT_EQ(decodeOk(d, unhex(b1)), kResp1);
  EXPECT_EQ(d.table().size(), 222u);
  EXPECT_EQ(decodeOk(d, unhex(b2)), kResp2);
  EXPECT_EQ(d.table().size(), 222u);
  EXPECT_EQ(dynamicTable(d.table()), (Fields{{":status", "307"},
                                             {"location", "https://www.example.com"},
                                             {"date", "Mon, 21 Oct 2013 20:13:21 GMT"},
                                             {"cache-control", "private"}}));
  EXPECT_EQ(decodeOk(d, unhex(b3)), kResp3);
  EXPECT_EQ(d.table().size(), 215u);
  EXPECT_EQ(dynamicTable(d.table()),
            (Fields{{"set-cookie", "foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1"},
                    {"content-encoding", "gzip"},
                    {"date", "Mon, 21 Oct 2013 20:13:22 GMT"}}));
}

TEST(HpackDecoder, RfcC5ResponsesWithoutHuffmanAndEviction) {
  checkResponses(
      "4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 "
      "2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 "
      "6c65 2e63 6f6d",
      "4803 3330 37c1 c0bf",
      "88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d "
      "54c0 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 "
      "5541 5851 5745 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e "
      "3d31");
}

constexpr const char* kC6[] = {
    "4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6 "
    "2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3",
    "4883 640e ffc1 c0bf",
    "88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab "
    "77ad 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f "
    "9587 3160 65c0 03ed 4ee5 b106 3d50 07"};

TEST(HpackDecoder, RfcC6ResponsesWithHuffmanAndEviction) {
  checkResponses(kC6[0], kC6[1], kC6[2]);
}

bool rejectsBadNames(std::string_view name, std::string_view) {
  return !name.starts_with("bad");
}

TEST(HpackDecoder, FieldsCheckedAsTheyEnteredTheTableComeFlagged) {
  HpackEncoder e;
  HpackDecoder d(kHpackDefaultTableSize, HpackDecoder::kDefaultMaxListSize, &rejectsBadNames);
  const Fields block = {{":method", "GET"}, {"good", "1"}, {"bad-x", "1"}, {"also-good", "2"}};
  // First as literals entering the table (checked then), then as references to those entries:
  // the same flags. A static entry counts as checked; a field the check failed never does.
  const std::string first = encodeBlock(e, block);
  EXPECT_EQ(decodeOk(d, first), block);
  EXPECT_EQ(d.checkedFields(), 0b1011u);
  const std::string again = encodeBlock(e, block);
  ASSERT_LT(again.size(), 5u);  // all four are references now
  EXPECT_EQ(decodeOk(d, again), block);
  EXPECT_EQ(d.checkedFields(), 0b1011u);

  // Without a check nothing is flagged; a literal sent without indexing is the user's to check.
  HpackDecoder plain;
  HpackEncoder e2;
  EXPECT_EQ(decodeOk(plain, encodeBlock(e2, block)), block);
  EXPECT_EQ(plain.checkedFields(), 0u);
  HpackDecoder checking(kHpackDefaultTableSize, HpackDecoder::kDefaultMaxListSize,
                        &rejectsBadNames);
  std::string literal(
      "\x00\x04good\x01"
      "1",
      8);
  EXPECT_EQ(decodeOk(checking, literal), (Fields{{"good", "1"}}));
  EXPECT_EQ(checking.checkedFields(), 0u);
}

// A literal without indexing, new name, both strings Huffman coded (as nginx sends `server` and
// `date` on every response).
std::string huffmanLiteral(std::string_view name, std::string_view value) {
  std::string out(1, '\0');
  for (std::string_view s : {name, value}) {
    std::string coded;
    huffmanEncode(s, coded);
    EXPECT_LT(coded.size(), 127u);
    out.push_back(static_cast<char>(0x80 | coded.size()));
    out += coded;
  }
  return out;
}

TEST(HpackDecoder, HuffmanStringsRepeatedAtTheirPositionDecodeAlike) {
  HpackDecoder d;
  const std::string server = huffmanLiteral("server", "nginx/1.22.1");
  const std::string date1 = huffmanLiteral("date", "Mon, 07 Dec 2026 06:00:00 GMT");
  const std::string date2 = huffmanLiteral("date", "Mon, 07 Dec 2026 06:00:01 GMT");
  const Fields one = {{"server", "nginx/1.22.1"}, {"date", "Mon, 07 Dec 2026 06:00:00 GMT"}};
  const Fields two = {{"server", "nginx/1.22.1"}, {"date", "Mon, 07 Dec 2026 06:00:01 GMT"}};
  for (int i = 0; i < 3; ++i) EXPECT_EQ(decodeOk(d, server + date1), one) << i;
  EXPECT_EQ(decodeOk(d, server + date2), two);  // one string changed at its position
  EXPECT_EQ(decodeOk(d, server + date2), two);
  // The positions shift: every string lands where another one was last time.
  EXPECT_EQ(decodeOk(d, date1 + server + date2),
            (Fields{{"date", "Mon, 07 Dec 2026 06:00:00 GMT"},
                    {"server", "nginx/1.22.1"},
                    {"date", "Mon, 07 Dec 2026 06:00:01 GMT"}}));
  EXPECT_EQ(decodeOk(d, server + date1), one);
  // A repeated string still counts against the header list limit.
  HpackDecoder small(kHpackDefaultTableSize, 60);
  EXPECT_EQ(decodeOk(small, server), (Fields{{"server", "nginx/1.22.1"}}));
  decodeError(small, server + date1, common::ErrorKind::kOverflow);
  decodeError(small, server + date1, common::ErrorKind::kOverflow);
}

// Our encoder's choices (static name index, Huffman when shorter, indexing these fields) are
// the examples' own, so it reproduces C.4 and C.6 (but for one string, see below).
TEST(HpackEncoder, ReproducesRfcC4) {
  HpackEncoder e;
  EXPECT_EQ(hex(encodeBlock(e, kReq1)), hex(unhex(kC4[0])));
  EXPECT_EQ(hex(encodeBlock(e, kReq2)), hex(unhex(kC4[1])));
  EXPECT_EQ(hex(encodeBlock(e, kReq3)), hex(unhex(kC4[2])));
}

TEST(HpackEncoder, ReproducesRfcC6WithEviction) {
  HpackEncoder e(256);
  // The example's SETTINGS set 256 bytes; ours announces them in its first block (3fe101).
  std::string first = encodeBlock(e, kResp1);
  EXPECT_EQ(hex(first.substr(0, 3)), "3fe101");
  EXPECT_EQ(hex(first.substr(3)), hex(unhex(kC6[0])));
  // "307" takes 3 bytes coded or not; the example codes it, we send it as it is (the reader
  // saves the decoding), which is C.5's block.
  EXPECT_EQ(hex(encodeBlock(e, kResp2)), "4803333037c1c0bf");
  EXPECT_EQ(hex(encodeBlock(e, kResp3)), hex(unhex(kC6[2])));
  EXPECT_EQ(e.table().size(), 215u);
}

TEST(HpackEncoder, LeavesPerRequestFieldsOutOfTheTable) {
  HpackEncoder e;
  HpackDecoder d;
  for (int i = 0; i < 3; ++i) {
    Fields f = {{":method", "GET"},
                {":path", "/search?q=" + std::to_string(i)},
                {"x-request-id", "id-" + std::to_string(i)},
                {"content-length", std::to_string(100 + i)},
                {"authorization", "Bearer secret"},
                {"user-agent", "h2load"}};
    std::string block = encodeBlock(e, f);
    EXPECT_EQ(decodeOk(d, block), f);
  }
  // user-agent was indexed, and the first x-request-id only, for its name; the paths, lengths
  // and credentials (their names are static) never.
  EXPECT_EQ(dynamicTable(e.table()), (Fields{{"user-agent", "h2load"}, {"x-request-id", "id-0"}}));
  EXPECT_EQ(dynamicTable(d.table()), dynamicTable(e.table()));
}

// The encoder first tries what the field at the same position matched in the block before;
// with a table too small for a block's fields, those entries are evicted by the time they are
// tried again, fields move between positions, and every block must still decode exactly.
TEST(HpackEncoder, RepeatedBlocksInASmallTableStayExact) {
  HpackEncoder e(200);
  HpackDecoder d(200);
  nghttp2_hd_inflater* inf = nullptr;
  ASSERT_EQ(nghttp2_hd_inflate_new(&inf), 0);
  ASSERT_EQ(nghttp2_hd_inflate_change_table_size(inf, 200), 0);
  for (int i = 0; i < 200; ++i) {
    Fields f = {{"x-a", std::string(40, 'a')},
                {"x-b", std::string(40, 'b')},
                {"x-c", std::string(40 + i % 3, 'c')},
                {":method", "GET"},
                {"x-d", std::to_string(i % 4)}};
    if (i % 5 == 0) std::swap(f[0], f[2]);
    if (i % 7 == 0) f.erase(f.begin() + 1);
    std::string block = encodeBlock(e, f);
    ASSERT_EQ(decodeOk(d, block), f) << i;
    ASSERT_EQ(dynamicTable(d.table()), dynamicTable(e.table())) << i;
    Fields got;
    auto* in = reinterpret_cast<const uint8_t*>(block.data());
    std::size_t left = block.size();
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      auto used = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, 1);
      ASSERT_GE(used, 0) << i;
      in += used;
      left -= static_cast<std::size_t>(used);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        got.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                         std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
      }
      if ((flags & NGHTTP2_HD_INFLATE_FINAL) || (used == 0 && left == 0)) break;
    }
    nghttp2_hd_inflate_end_headers(inf);
    ASSERT_EQ(got, f) << i;
  }
  nghttp2_hd_inflate_del(inf);
}

TEST(HpackEncoder, SignalsTableSizeChanges) {
  HpackEncoder e;
  HpackDecoder d;
  Fields f = {{"x-a", "1"}, {"x-b", "2"}};
  EXPECT_EQ(decodeOk(d, encodeBlock(e, f)), f);
  // The peer lowers it to 0 then raises it to 100 before the next block: both are signalled.
  e.setPeerMaxTableSize(0);
  e.setPeerMaxTableSize(100);
  std::string block = encodeBlock(e, f);
  EXPECT_EQ(hex(block.substr(0, 3)), "203f45");  // 0, then 100 with a 5-bit prefix
  EXPECT_EQ(decodeOk(d, block), f);
  EXPECT_EQ(d.table().maxSize(), 100u);
  EXPECT_EQ(dynamicTable(d.table()), dynamicTable(e.table()));
}

// nghttp2's inflater decodes what we encode, and we decode what its deflater encodes, over a
// sequence of blocks that fills, evicts and resizes the tables.
std::vector<Fields> proxyLikeBlocks(int n) {
  std::vector<Fields> blocks;
  for (int i = 0; i < n; ++i) {
    blocks.push_back({{":method", i % 5 == 0 ? "POST" : "GET"},
                      {":scheme", "https"},
                      {":authority", "svc-" + std::to_string(i % 7) + ".example.com"},
                      {":path", "/api/v1/items/" + std::to_string(i) + (i % 3 ? "?x=1" : "")},
                      {"user-agent", "h2load nghttp2/1.52.0"},
                      {"accept", "*/*"},
                      {"x-request-id", "5f0c" + std::to_string(i * 7919) + "-aa"},
                      {"x-custom-" + std::to_string(i % 40), std::string(i % 90, 'v')},
                      {"cookie", i % 2 ? "short" : "session=abcdefghijklmnopqrstuvwxyz"},
                      {"content-length", std::to_string(i)}});
    blocks.push_back({{":status", i % 4 ? "200" : "404"},
                      {"server", "halyard"},
                      {"date", "Sun, 06 Dec 2026 23:" + std::to_string(10 + i % 50) + ":00 GMT"},
                      {"content-type", "application/json"},
                      {"x-bytes", std::string(1 + i % 200, static_cast<char>(i % 256))}});
  }
  return blocks;
}

TEST(HpackInterop, NghttpInflatesWhatWeEncode) {
  nghttp2_hd_inflater* inf = nullptr;
  ASSERT_EQ(nghttp2_hd_inflate_new(&inf), 0);
  HpackEncoder e;
  int n = 0;
  for (const Fields& f : proxyLikeBlocks(150)) {
    if (n == 100) {
      e.setPeerMaxTableSize(512);
      ASSERT_EQ(nghttp2_hd_inflate_change_table_size(inf, 512), 0);
    }
    ++n;
    std::string block = encodeBlock(e, f);
    Fields got;
    auto* in = reinterpret_cast<const uint8_t*>(block.data());
    std::size_t left = block.size();
    for (;;) {
      nghttp2_nv nv;
      int flags = 0;
      auto used = nghttp2_hd_inflate_hd2(inf, &nv, &flags, in, left, 1);
      ASSERT_GE(used, 0) << "block " << n;
      in += used;
      left -= static_cast<std::size_t>(used);
      if (flags & NGHTTP2_HD_INFLATE_EMIT) {
        got.emplace_back(std::string(reinterpret_cast<char*>(nv.name), nv.namelen),
                         std::string(reinterpret_cast<char*>(nv.value), nv.valuelen));
      }
      if (flags & NGHTTP2_HD_INFLATE_FINAL) break;
      if (used == 0 && left == 0) break;
    }
    nghttp2_hd_inflate_end_headers(inf);
    ASSERT_EQ(got, f) << "block " << n;
  }
  nghttp2_hd_inflate_del(inf);
}

TEST(HpackInterop, WeDecodeWhatNghttpDeflates) {
  nghttp2_hd_deflater* def = nullptr;
  ASSERT_EQ(nghttp2_hd_deflate_new(&def, 4096), 0);
  HpackDecoder d;
  int n = 0;
  for (const Fields& f : proxyLikeBlocks(150)) {
    if (n == 100) {
      d.setMaxTableSize(1024);
      ASSERT_EQ(nghttp2_hd_deflate_change_table_size(def, 1024), 0);
    }
    ++n;
    std::vector<nghttp2_nv> nva;
    for (const auto& [name, value] : f) {
      nva.push_back({reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
                     reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(),
                     value.size(), NGHTTP2_NV_FLAG_NONE});
    }
    std::string block(nghttp2_hd_deflate_bound(def, nva.data(), nva.size()), '\0');
    auto len = nghttp2_hd_deflate_hd(def, reinterpret_cast<uint8_t*>(block.data()), block.size(),
                                     nva.data(), nva.size());
    ASSERT_GE(len, 0);
    block.resize(static_cast<std::size_t>(len));
    ASSERT_EQ(decodeOk(d, block), f) << "block " << n;
  }
  nghttp2_hd_deflate_del(def);
}

TEST(HpackDecoder, RejectsMalformedBlocks) {
  {
    HpackDecoder d;
    EXPECT_NE(decodeError(d, unhex("ff")).find("ends inside"), std::string::npos);  // truncated
    EXPECT_NE(decodeError(d, unhex("ff80")).find("ends inside"), std::string::npos);
    // More than 32 bits.
    EXPECT_NE(decodeError(d, unhex("ffffffffff7f")).find("2^32"), std::string::npos);
    EXPECT_NE(decodeError(d, unhex("80")).find("index 0"), std::string::npos);
    EXPECT_NE(decodeError(d, unhex("be")).find("index 62"), std::string::npos);  // empty table
    EXPECT_NE(decodeError(d, unhex("7e")).find("index 62"), std::string::npos);  // name index
    // A literal whose value is cut short.
    EXPECT_NE(decodeError(d, unhex("4003 6162 6305 78")).find("claims 5 bytes"), std::string::npos);
    EXPECT_NE(decodeError(d, unhex("4003 6162 63")).find("string literal was expected"),
              std::string::npos);
    // Huffman value 'a' padded with zeros; then EOS.
    EXPECT_NE(decodeError(d, unhex("4003 6162 6381 18")).find("padding"), std::string::npos);
    EXPECT_NE(decodeError(d, unhex("4003 6162 6384 ffff ffff")).find("EOS"), std::string::npos);
  }
  {
    HpackDecoder d;
    // A size update over our SETTINGS (4096), and one after a field.
    EXPECT_NE(decodeError(d, unhex("3fe2 1f")).find("at most the 4096"), std::string::npos);
    EXPECT_NE(decodeError(d, unhex("823f e11f")).find("only at the start"), std::string::npos);
    // Two updates at the start are fine.
    EXPECT_EQ(decodeOk(d, unhex("2030 82")), (Fields{{":method", "GET"}}));
  }
  {
    // Our SETTINGS lowered the size: the next block must start with an update.
    HpackDecoder d;
    EXPECT_TRUE(decodeOk(d, unhex("4003 6162 6301 78")).size() == 1);
    d.setMaxTableSize(0);
    EXPECT_NE(decodeError(d, unhex("82")).find("must come first"), std::string::npos);
    EXPECT_EQ(decodeOk(d, unhex("20 82")), (Fields{{":method", "GET"}}));
    EXPECT_EQ(d.table().count(), 0u);
  }
}

TEST(HpackDecoder, HeaderListLimitKeepsTheTableInStep) {
  HpackDecoder d(4096, 100);
  HpackEncoder e;
  Fields big = {
      {"x-a", std::string(40, 'a')}, {"x-b", std::string(40, 'b')}, {"x-c", std::string(40, 'c')}};
  std::vector<HpackField> out;
  std::string block = encodeBlock(e, big);
  auto r = d.decode(block, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, common::ErrorKind::kOverflow);
  EXPECT_EQ(out.size(), 1u);  // 75 bytes fit, 150 do not
  // Every insertion was made all the same: the next block, all indexed, decodes.
  EXPECT_EQ(dynamicTable(d.table()), dynamicTable(e.table()));
  Fields small = {{"x-c", std::string(40, 'c')}};
  EXPECT_EQ(hex(encodeBlock(e, small)), "be");
  EXPECT_EQ(decodeOk(d, unhex("be")), small);
}

TEST(HpackDecoder, AStringLargerThanTheBudgetEmptiesTheTableAndOverflows) {
  // List limit 64 and table 64: a 400-byte Huffman value cannot be kept, cannot be inserted,
  // and its insertion empties the table as the encoder's does.
  HpackDecoder d(64, 64);
  EXPECT_EQ(decodeOk(d, unhex("4003 6162 6301 78")).size(), 1u);  // abc: x, inserted
  EXPECT_EQ(d.table().count(), 1u);
  std::string big(400, 'a');
  std::string coded;
  huffmanEncode(big, coded);
  std::string block = unhex("4003 6465 66");  // name def, then the value
  block += static_cast<char>(0xff);           // Huffman, length 127 + ...
  std::size_t rest = coded.size() - 127;
  while (rest >= 0x80) {
    block += static_cast<char>(0x80 | (rest & 0x7f));
    rest >>= 7;
  }
  block += static_cast<char>(rest);
  block += coded;
  block += unhex("82");
  std::vector<HpackField> out;
  auto r = d.decode(block, out);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, common::ErrorKind::kOverflow);
  EXPECT_EQ(d.table().count(), 0u);
  // The next block decodes against the emptied table.
  EXPECT_NE(decodeError(d, unhex("be")).find("tables hold 61"), std::string::npos);
}

TEST(HpackDecoder, ManyFieldsSpillIntoMoreChunks) {
  // Far more decoded bytes than one chunk: views from earlier chunks stay valid.
  HpackEncoder e;
  HpackDecoder d;
  Fields f;
  for (int i = 0; i < 60; ++i) {
    f.push_back(
        {"x-field-" + std::to_string(i), std::string(100 + i, static_cast<char>('a' + i % 26))});
  }
  for (int round = 0; round < 3; ++round) EXPECT_EQ(decodeOk(d, encodeBlock(e, f)), f);
}

TEST(HpackDecoder, GrowsTheTableWhenOurSettingsGrow) {
  HpackDecoder d(256);
  d.setMaxTableSize(8192);
  HpackEncoder e(8192);
  e.setPeerMaxTableSize(8192);
  Fields f;
  for (int i = 0; i < 40; ++i) f.push_back({"x-k" + std::to_string(i), std::string(100, 'v')});
  EXPECT_EQ(decodeOk(d, encodeBlock(e, f)), f);
  EXPECT_EQ(d.table().maxSize(), 8192u);
  EXPECT_EQ(d.table().count(), 40u);
  EXPECT_EQ(dynamicTable(d.table()), dynamicTable(e.table()));
}

TEST(HpackDecoder, ViewsSurviveEvictionWithinABlock) {
  // A 150-byte table holds one of these 97-byte fields: each insertion evicts the one before,
  // yet the fields decoded earlier in the block (copies out of the table) keep their values.
  HpackDecoder d(150);
  HpackEncoder e(150);
  Fields f = {{"x-one", std::string(60, '1')}, {"x-two", std::string(60, '2')}};
  std::string b1 = encodeBlock(e, {{"x-one", std::string(60, '1')}});
  EXPECT_EQ(decodeOk(d, b1).size(), 1u);
  std::string b2 = encodeBlock(e, f);  // x-one indexed, x-two inserted (evicting x-one)
  EXPECT_EQ(b2[0], static_cast<char>(0xbe));
  EXPECT_EQ(decodeOk(d, b2), f);
  EXPECT_EQ(dynamicTable(d.table()), (Fields{{"x-two", std::string(60, '2')}}));
}

}  // namespace
}  // namespace halyard::proxy::http
