// One Kubernetes-style resource as loaded: its identity, where it came from, and its whole
// document tree (`root`, with a line for every field). Typed views of the Istio kinds are built
// from `root` (model/istio_types.h); diagnostics find field lines through `lineOf`.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "common/source_pos.h"
#include "config/model/diagnostic.h"
#include "config/model/node.h"

namespace halyard::config {

struct Object {
  std::string api_version;  // "networking.istio.io/v1beta1"
  std::string group;        // "networking.istio.io" ("" for core v1)
  std::string version;      // "v1beta1"
  std::string kind;         // "VirtualService"
  std::string name;
  std::string namespace_;  // as written; "" when the YAML gives none
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::string creation_timestamp;  // metadata.creationTimestamp as written, "" when absent
  common::SourcePos pos;           // file and line of the document's first key
  Node root;                       // the whole document

  // The namespace analysis uses: the written one, or "default" when absent (as kubectl would
  // place it). No caller-supplied fallback: a reference to a temporary one dangled once bound
  // to a local (two call sites did).
  const std::string& namespaceOrDefault() const {
    static const std::string kDefault = "default";
    return namespace_.empty() ? kDefault : namespace_;
  }
  ResourceRef ref() const { return ResourceRef{kind, namespace_, name}; }
  const Node* spec() const { return root.get("spec"); }

  // The line of the node at a field path such as "spec.http[1].route[0].weight" (the deepest
  // existing prefix of the path when the field itself is absent; the object's line at worst).
  int lineOf(std::string_view field_path) const;
  // A SourcePos for a field path (same file, line from lineOf).
  common::SourcePos posOf(std::string_view field_path) const {
    common::SourcePos p = pos;
    p.line = lineOf(field_path);
    return p;
  }
};

}  // namespace halyard::config
