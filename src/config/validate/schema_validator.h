// Schema validation of Istio objects against the CRD schemas (crd-all.gen.yaml, embedded by
// tools/gen_crd_schemas.py), with the structural-schema semantics of the Kubernetes API server:
// types, unknown fields (with "did you mean"), required, enum, bounds, lengths, patterns,
// formats, list-type uniqueness and the CRDs' CEL rules (x-kubernetes-validations), plus the
// ObjectMeta checks the API server applies to every custom resource (name, namespace, labels).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/model/diagnostic.h"
#include "config/model/object.h"

namespace halyard::config {

namespace schema {
class SchemaRegistry;
}

// True when group/kind is one of the CRDs (any version).
bool isCrdKind(std::string_view group, std::string_view kind);

// Validates one object; appends IST0106 SchemaValidationError diagnostics (at most 50 per
// object). Objects outside the CRD groups (core v1 Service, ...) produce nothing; an unknown kind
// or version within a CRD group is reported.
void validateSchema(const Object& obj, Diagnostics& out);

// The same against a given registry (tests compile small ones from their own schemas).
void validateSchema(const Object& obj, const schema::SchemaRegistry& registry, Diagnostics& out);

// The CRD rules Halyard does not enforce because its CEL subset cannot compile them, as
// "<Kind>: <rule>: <reason>", sorted. Empty when every rule is enforced.
std::vector<std::string> unenforcedCelRules();

}  // namespace halyard::config
