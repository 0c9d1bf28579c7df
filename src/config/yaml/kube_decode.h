// Typed views of the Kubernetes objects Halyard reads (model/kubernetes.h), decoded from an
// Object's document tree. Like the Istio decoders they assume nothing: a field of the wrong type
// is left at its default.
#pragma once

#include "config/model/kubernetes.h"
#include "config/model/object.h"
#include "config/model/object_meta.h"

namespace halyard::config {

// The metadata every kind shares, as the loader read it.
model::ObjectMeta decodeObjectMeta(const Object& obj);

model::Service decodeService(const Object& obj);
model::Endpoints decodeEndpoints(const Object& obj);
model::Namespace decodeNamespace(const Object& obj);
model::Pod decodePod(const Object& obj);
model::Secret decodeSecret(const Object& obj);
model::ConfigMap decodeConfigMap(const Object& obj);

}  // namespace halyard::config
