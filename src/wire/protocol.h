// The generated halyard.v1 classes src/wire is compiled against, as wire::v1. src/wire is built
// twice (src/wire/CMakeLists.txt): halyard_wire over the full protobuf runtime, for the control
// plane and the CLI, and halyard_wire_lite (HALYARD_WIRE_LITE) over protobuf-lite, for the proxy,
// which needs no reflection and saves the full runtime's resident memory. Both speak the same
// bytes (api/lite_proto.cmake). Each variant declares its symbols in its own inline namespace, so
// their mangled names differ and one binary may link both.
#pragma once

#ifdef HALYARD_WIRE_LITE
#include "halyard/v1/discovery_lite.pb.h"
#define HALYARD_WIRE_VARIANT lite
#else
#include "halyard/v1/discovery.pb.h"
#define HALYARD_WIRE_VARIANT full
#endif

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

#ifdef HALYARD_WIRE_LITE
namespace v1 = ::halyard::v1lite;
#else
namespace v1 = ::halyard::v1;
#endif

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
