// Where translation reports what it finds. Every note names the object, the field path and the
// line of the model struct it is about (model structs carry their own line), so a translation
// warning reads like an analyzer message. Codes are Halyard's own (Istio has none for them).
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "config/model/diagnostic.h"
#include "config/model/object_meta.h"

namespace halyard::translate {

// Translation message types.
struct NoteType {
  std::string_view code;
  std::string_view name;
  config::Level level;
};
// A field or mode this proxy reads but does not serve or enforce yet.
inline constexpr NoteType kNotServed{"HAL0101", "NotServedByProxy", config::Level::kWarning};
// A destination (host, port or subset) that resolves to no cluster: requests get 503 NC.
inline constexpr NoteType kUnresolvedDestination{"HAL0102", "UnresolvedDestination",
                                                 config::Level::kWarning};
// A route Istio would not generate (a delegate route outside its root match, a redirect code
// Envoy has no enum for, a missing delegate).
inline constexpr NoteType kIgnoredRoute{"HAL0104", "IgnoredRoute", config::Level::kWarning};
// A TLS credential (a Secret, a key in it) that does not exist in the proxy's namespace: the
// Gateway server is not served, the cluster's requests fail, as Istio's would.
inline constexpr NoteType kMissingCredential{"HAL0105", "MissingCredential",
                                             config::Level::kWarning};
// The istio ConfigMap's mesh config is unusable: Istio's defaults (trust domain, root
// namespace) apply instead.
inline constexpr NoteType kInvalidMeshConfig{"HAL0106", "InvalidMeshConfig",
                                             config::Level::kWarning};
// Configuration the translator cannot compile (a regex RE2 rejects, a malformed duration).
inline constexpr NoteType kUntranslatable{"HAL0103", "Untranslatable", config::Level::kError};

class DiagnosticSink {
 public:
  // `line` is the line of the struct the field belongs to (0: the object's own line).
  void report(const NoteType& type, const config::model::ObjectMeta& meta, int line,
              std::string field_path, std::string message);

  bool hasErrors() const { return errors_ > 0; }
  const config::Diagnostics& diagnostics() const { return out_; }
  config::Diagnostics take() { return std::move(out_); }

 private:
  config::Diagnostics out_;
  std::set<std::string> seen_;  // one report per (object, field, message): routes are shared
  size_t errors_ = 0;
};

// "VirtualService default/api-virtual: message (file.yaml:12)" for logs and Snapshot::warnings.
std::string formatDiagnostic(const config::Diagnostic& d);

}  // namespace halyard::translate
