// One problem found in configuration: a schema error, a validation error or an analyzer
// message. Every diagnostic names the file:line, the object, the field path, what was found and
// what was expected, and carries Istio's message code (IST0106 for schema errors).
#pragma once

#include <string>
#include <vector>

#include "common/source_pos.h"

namespace halyard::config {

enum class Level { kError, kWarning, kInfo };

inline const char* toString(Level level) {
  switch (level) {
    case Level::kError: return "Error";
    case Level::kWarning: return "Warning";
    case Level::kInfo: return "Info";
  }
  return "Error";
}

struct ResourceRef {
  std::string kind;       // "VirtualService"
  std::string namespace_; // empty when the YAML gives none
  std::string name;
  // "VirtualService default/api-virtual", or "VirtualService api-virtual" with no namespace.
  std::string str() const {
    return kind + " " + (namespace_.empty() ? name : namespace_ + "/" + name);
  }
};

struct Diagnostic {
  std::string code;  // "IST0101"
  std::string type;  // Istio's message name: "ReferencedResourceNotFound"
  Level level = Level::kError;
  ResourceRef resource;     // empty kind when the document has no recognisable object
  common::SourcePos pos;    // file and line of the field (or of the object)
  std::string field_path;   // "spec.http[1].route[0].weight"; empty for whole-object messages
  std::string message;      // "Referenced gateway not found: \"api-gatewy\""
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace halyard::config
