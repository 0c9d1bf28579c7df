// The full and the lite variant of src/wire in one binary (wire/protocol.h): their symbols do not
// clash, and what the control plane encodes with the full runtime, the proxy's lite variant
// decodes and re-encodes to the same resources.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include "common/error.h"
#include "translate/translate.h"
#include "wire/snapshot_codec.h"

namespace halyard::wire::interop {

// lite_side.cc.
common::Expected<std::string> liteReencode(const std::string& push_bytes);

namespace {

TEST(LiteInterop, TheLiteVariantDecodesWhatTheFullOneEncodes) {
  auto r =
      translate::loadSnapshot(HALYARD_SOURCE_DIR "/samples/pirata", translate::ProxyIdentity{}, 1);
  ASSERT_NE(r.snapshot, nullptr);
  v1::SnapshotPush push;
  push.set_version(1);
  *push.mutable_resources() = encodeResources(*r.snapshot);
  auto bytes = liteReencode(push.SerializeAsString());
  ASSERT_TRUE(bytes) << bytes.error().message;
  v1::Resources back;
  ASSERT_TRUE(back.ParseFromString(*bytes));
  EXPECT_GT(back.clusters_size(), 0);
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(back, push.resources()));
}

}  // namespace
}  // namespace halyard::wire::interop
