// The proxy's side of lite_interop_test.cc, compiled against halyard_wire_lite
// (HALYARD_WIRE_LITE): a push decoded and re-encoded by the lite variant, bytes in, bytes out.
#include <string>

#include "common/error.h"
#include "wire/snapshot_assembler.h"
#include "wire/snapshot_codec.h"

namespace halyard::wire::interop {

common::Expected<std::string> liteReencode(const std::string& push_bytes) {
  v1::SnapshotPush push;
  if (!push.ParseFromString(push_bytes)) {
    return common::fail(common::ErrorKind::kProtocol, "the lite SnapshotPush does not parse");
  }
  SnapshotAssembler assembler;
  auto assembled = assembler.assemble(push);
  if (!assembled) return common::unexpected(assembled.error());
  return encodeResources(*assembled->snapshot).SerializeAsString();
}

}  // namespace halyard::wire::interop
