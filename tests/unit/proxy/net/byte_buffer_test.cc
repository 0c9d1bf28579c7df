#include "proxy/net/byte_buffer.h"

#include <gtest/gtest.h>

#include <cstring>

namespace halyard::proxy::net {
namespace {

void put(ByteBuffer& b, std::string_view s) {
  ASSERT_GE(b.writableSize(), s.size());
  std::memcpy(b.writable().data(), s.data(), s.size());
  b.commit(s.size());
}

TEST(ByteBuffer, ConsumeRewindAndCompactKeepTheBytesTheOwnerNeeds) {
  ByteBuffer b(16);
  put(b, "HEADbody");
  b.consume(4);
  EXPECT_EQ(b.readableView(), "body");
  b.consume(4);
  b.rewindTo(4);  // the head stays, reading restarts after it
  EXPECT_EQ(b.readableSize(), 0u);
  EXPECT_EQ(std::string_view(b.data(), 4), "HEAD");
  put(b, "next");
  b.consume(2);
  b.compact();
  EXPECT_EQ(b.begin(), 0u);
  EXPECT_EQ(b.readableView(), "xt");
}

TEST(ByteBuffer, GrowKeepsOffsets) {
  ByteBuffer b(4);
  put(b, "abcd");
  b.consume(1);
  b.grow(64);
  EXPECT_EQ(b.capacity(), 64u);
  EXPECT_EQ(b.readableView(), "bcd");
  EXPECT_EQ(b.writableSize(), 60u);
  b.grow(8);  // never shrinks
  EXPECT_EQ(b.capacity(), 64u);
}

TEST(ByteBuffer, AStreamSizedBufferThatAReadFilledGrowsToTheCommonSize) {
  ByteBuffer b(ByteBuffer::kStreamSize);
  put(b, std::string(ByteBuffer::kStreamSize - 1, 'a'));
  b.growAfterFullRead();  // room left: more may not be coming
  EXPECT_EQ(b.capacity(), ByteBuffer::kStreamSize);
  put(b, "z");
  b.consume(3);
  b.growAfterFullRead();
  EXPECT_EQ(b.capacity(), ByteBuffer::kCommonSize);
  EXPECT_EQ(b.begin(), 3u);  // the bytes stay where they were
  EXPECT_EQ(b.readableSize(), ByteBuffer::kStreamSize - 3);
  EXPECT_EQ(b.readableView().back(), 'z');

  ByteBuffer common(ByteBuffer::kCommonSize);
  put(common, std::string(ByteBuffer::kCommonSize, 'c'));
  common.growAfterFullRead();  // the common size is as far as it goes
  EXPECT_EQ(common.capacity(), ByteBuffer::kCommonSize);
}

}  // namespace
}  // namespace halyard::proxy::net
