// Loaded Objects -> one typed ConfigSet. Objects are dispatched on API group and kind, for every
// version the API server serves (networking v1, v1beta1, v1alpha3; security v1, v1beta1; core
// v1); objects of other kinds or versions are left out. Metadata is kept as written (no namespace
// defaulting).
#pragma once

#include <vector>

#include "config/model/config_set.h"
#include "config/model/object.h"

namespace halyard::config {

model::ConfigSet buildConfigSet(const std::vector<Object>& objects);

}  // namespace halyard::config
