// The identity of a decoded object: what its metadata says, unchanged (no namespace defaulting;
// that is the analyzer's and registry's decision), and where the object came from.
#pragma once

#include <map>
#include <string>

#include "common/source_pos.h"
#include "config/model/diagnostic.h"

namespace halyard::config::model {

struct ObjectMeta {
  std::string api_version;  // "networking.istio.io/v1"
  std::string kind;         // "VirtualService"
  std::string name;
  std::string namespace_;  // "" when the YAML gives none
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string creation_timestamp;  // as written, "" when absent
  common::SourcePos pos;           // file and line of the document

  ResourceRef ref() const { return ResourceRef{kind, namespace_, name}; }
};

}  // namespace halyard::config::model
