// The effective configuration: what the source holds, minus what is invalid, object by object.
//
// Every object is validated on its own (config::validateOne: schema + Istio's webhook rules). An
// invalid object is quarantined: reported with its codes and file:line, and left out. If an
// earlier version of the same object (group, kind, namespace, name) was valid, that version keeps
// serving in its place, as in Kubernetes, where the admission webhook rejects a bad update and
// the cluster keeps the old object. Likewise, when a file has a document that does not parse, the
// objects the file defined before and no longer does keep their last valid version (the broken
// document is probably one of them). Everything else follows the source at once.
//
// Objects that validate but cannot be translated are quarantined the same way (quarantine()).
// commit() records the current valid versions as the ones to fall back on later.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "config/model/diagnostic.h"
#include "config/model/object.h"
#include "control/sources/config_source.h"

namespace halyard::control {

struct QuarantineEntry {
  config::ResourceRef resource;
  common::SourcePos pos;          // of the rejected version (or of the broken document)
  bool previous_serving = false;  // an earlier valid version serves in its place
  config::Diagnostics problems;   // errors only
};

class ConfigStore {
 public:
  // Takes the source's new state. Validates the objects of files that changed.
  void update(const SourceUpdate& update);

  // Quarantines the current versions of the objects that `problems` name (translation errors).
  // True when at least one object was newly quarantined.
  bool quarantine(const config::Diagnostics& problems);

  // The objects to translate: the valid current versions, and the last valid versions of the
  // quarantined objects that had one.
  std::vector<config::Object> effective() const;

  // The current valid versions become the fallback for later rejected versions.
  void commit();

  std::vector<QuarantineEntry> quarantined() const;
  // What quarantines nothing: documents that did not load, template files, duplicate
  // definitions, validation warnings, the source's own errors.
  const config::Diagnostics& problems() const { return problems_; }

 private:
  // One object as a source delivered it; shares the file it came from.
  struct Version {
    std::shared_ptr<const SourceFile> file;
    size_t index = 0;
    const config::Object& object() const { return file->objects[index]; }
  };
  struct Entry {
    std::optional<Version> current;  // absent: vanished from a file that does not parse
    common::SourcePos pos;
    config::ResourceRef resource;
    config::Diagnostics problems;  // errors that keep `current` out
  };
  struct ValidatedFile {
    std::shared_ptr<const SourceFile> file;
    std::vector<config::Diagnostics> per_object;
  };

  static std::string keyOf(const config::Object& o);

  std::map<std::string, ValidatedFile> files_;  // by path
  std::vector<std::string> order_;              // keys in source order
  std::map<std::string, Entry> entries_;
  std::map<std::string, Version> last_good_;
  config::Diagnostics problems_;
};

}  // namespace halyard::control
