// Placeholder until the translator lands: reports that translation is not available.
#include "translate/translate.h"

namespace halyard::translate {

TranslateResult loadSnapshot(const std::string& dir, const ProxyIdentity&, uint64_t) {
  TranslateResult r;
  config::Diagnostic d;
  d.code = "IST0000";
  d.type = "InternalError";
  d.message = "translation of " + dir + " is not implemented yet";
  r.diagnostics.push_back(d);
  return r;
}

}  // namespace halyard::translate
