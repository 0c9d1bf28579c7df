// Where the control plane's Istio objects come from: a directory of YAML now, the Kubernetes API
// later. A source delivers its whole current state after every change, as units of change (a
// file for the directory source; later one object for Kubernetes). A unit that did not change is
// the same shared SourceFile as in the previous update, so consumers only look again at what
// changed.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "config/model/diagnostic.h"
#include "config/model/object.h"

namespace halyard::control {

struct SourceFile {
  std::string path;
  std::vector<config::Object> objects;  // every object that loaded, in document order
  config::Diagnostics diagnostics;      // documents that did not load (YAML errors, not objects)
};

struct SourceUpdate {
  std::vector<std::shared_ptr<const SourceFile>> files;  // sorted by path
  std::vector<std::string> errors;  // problems of the source itself ("cannot read x")
};

class ConfigSource {
 public:
  using Handler = std::function<void(SourceUpdate)>;

  virtual ~ConfigSource() = default;
  // Delivers the current state once before returning, then again after every change from the
  // source's own thread. Fails when the source cannot be read at all.
  virtual common::Expected<void> start(Handler handler) = 0;
  virtual void stop() = 0;
  virtual std::string describe() const = 0;  // "directory samples/seed"
};

}  // namespace halyard::control
