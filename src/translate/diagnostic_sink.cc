#include "translate/diagnostic_sink.h"

namespace halyard::translate {

void DiagnosticSink::report(const NoteType& type, const config::model::ObjectMeta& meta, int line,
                            std::string field_path, std::string message) {
  std::string key = meta.ref().str();
  key.append("|").append(field_path).append("|").append(message);
  if (!seen_.insert(std::move(key)).second) return;
  config::Diagnostic d;
  d.code = std::string(type.code);
  d.type = std::string(type.name);
  d.level = type.level;
  d.resource = meta.ref();
  d.pos = meta.pos;
  if (line > 0) d.pos.line = line;
  d.field_path = std::move(field_path);
  d.message = std::move(message);
  if (d.level == config::Level::kError) ++errors_;
  out_.push_back(std::move(d));
}

std::string formatDiagnostic(const config::Diagnostic& d) {
  std::string s;
  if (!d.resource.kind.empty()) s.append(d.resource.str()).append(": ");
  s.append(d.message);
  if (!d.field_path.empty()) s.append(" [").append(d.field_path).append("]");
  const std::string pos = d.pos.str();
  if (!pos.empty()) s.append(" (").append(pos).append(")");
  return s;
}

}  // namespace halyard::translate
