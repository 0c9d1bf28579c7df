// Istio's per-object validation (the validating webhook: pkg/config/validation): the checks the
// CRD schema cannot express. Errors are IST0106 SchemaValidationError with a field path; some
// checks produce warnings/infos with their own codes (IST0130 unreachable rule, IST0131
// ineffective match).
#pragma once

#include "config/model/diagnostic.h"
#include "config/model/object.h"

namespace halyard::config {

// Validates one Istio object (any served version of the kinds Halyard models); other kinds are
// ignored. Assumes nothing about schema validity: wrong types are skipped, never crash.
void validateObject(const Object& obj, Diagnostics& out);

}  // namespace halyard::config
