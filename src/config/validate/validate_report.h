// Where Istio's per-object checks put their findings: diagnostics for one object, each at a field
// path whose line is looked up in the object's document tree.
#pragma once

#include <string>
#include <string_view>

#include "config/model/diagnostic.h"
#include "config/model/object.h"
#include "config/validate/messages.h"
#include "config/validate/validate_syntax.h"

namespace halyard::config {

class ObjectReport {
 public:
  ObjectReport(const Object& obj, Diagnostics& out) : obj_(obj), out_(out) {}

  const Object& object() const { return obj_; }
  // The namespace Istio validates with: the written one, or "default" (istioctl's default).
  const std::string& namespaceName() const { return obj_.namespaceOrDefault(); }

  // The document node at a field path ("spec.hosts[2]"); null when absent.
  const Node* node(std::string_view path) const;
  // Whether the document has a string at `path`. List items of the wrong type decode as empty
  // strings; checks skip them, as the schema validator reports them.
  bool isString(std::string_view path) const {
    const Node* n = node(path);
    return n && n->isString();
  }
  // Whether `path` is present, for fields the CRD requires: the schema validator reports them
  // missing, checks only look at what is there.
  bool has(std::string_view path) const { return node(path) != nullptr; }

  // IST0106 SchemaValidationError: "<path>: <what> (<found>, expected <expected>)".
  void error(const std::string& path, std::string_view what, std::string_view found,
             std::string_view expected);
  // An IST0106 error for a failed syntax check on the value `found`; false when `check` passed.
  bool fail(const std::string& path, const Check& check, std::string_view found);
  // Any message type with a complete message text.
  void report(const msg::MessageType& type, const std::string& path, std::string message);

 private:
  const Object& obj_;
  Diagnostics& out_;
};

// Field paths of list items and map entries: indexPath("spec.http", 2) is "spec.http[2]".
std::string indexPath(const std::string& path, size_t i);
// A map entry: "spec.portLevelMtls[8080]".
std::string keyPath(const std::string& path, std::string_view map_key);

}  // namespace halyard::config
