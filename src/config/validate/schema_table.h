// The CRD schemas of every Istio kind, embedded as JSON text by tools/gen_crd_schemas.py
// (generated/crd_schemas.cc). Read once by the schema validator, which compiles them.
#pragma once

#include <span>
#include <string_view>

namespace halyard::config {

struct CrdVersionSchema {
  std::string_view version;      // "v1beta1"
  std::string_view schema_json;  // openAPIV3Schema without descriptions; shared across versions
};

struct CrdSchemaEntry {
  std::string_view group;   // "networking.istio.io"
  std::string_view kind;    // "VirtualService"
  std::string_view plural;  // "virtualservices"
  std::span<const CrdVersionSchema> versions;  // served versions, as listed in the CRD
};

std::span<const CrdSchemaEntry> crdSchemaTable();

}  // namespace halyard::config
