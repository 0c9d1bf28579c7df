// Validation of one object, on its own file so that linking it (the proxy does, to validate what
// it serves) does not pull the cross-resource analyzers and their dependencies into a binary.
#include "config/validate/analyze.h"
#include "config/validate/object_validator.h"
#include "config/validate/schema_validator.h"

namespace halyard::config {

void validateOne(const Object& obj, Diagnostics& out) {
  // Every kind of an Istio API group goes to the schema validator, so a misspelt kind
  // ("VirtualServce") is reported instead of silently ignored.
  const bool istio_group = obj.group == "istio.io" || obj.group.ends_with(".istio.io");
  if (!istio_group && !isCrdKind(obj.group, obj.kind)) return;
  const size_t before = out.size();
  validateSchema(obj, out);
  // Istio's webhook runs only on objects the API server accepted; running it on a schema-broken
  // object would repeat the same problem in other words.
  bool schema_errors = false;
  for (size_t i = before; i < out.size(); ++i) schema_errors |= out[i].level == Level::kError;
  if (!schema_errors) validateObject(obj, out);
}

}  // namespace halyard::config
