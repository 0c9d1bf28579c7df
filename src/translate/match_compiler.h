// Istio StringMatch / HTTPMatchRequest -> compiled matchers (istio-semantics.md §1.2). Regexes
// are compiled once with RE2 and used with full-match semantics; a key with `{}` or regex "*"
// means "present"; withoutHeaders become inverted header matchers.
#pragma once

#include <optional>
#include <string>

#include "config/model/istio_types.h"
#include "translate/diagnostic_sink.h"
#include "translate/snapshot.h"

namespace halyard::translate {

// Where a StringMatch comes from, for errors (a regex RE2 rejects is an error: no snapshot).
struct MatchSite {
  const config::model::ObjectMeta* meta;
  std::string field_path;  // "spec.http[0].match[1].uri"
};

// nullopt when the StringMatch sets nothing. `present_when_empty`: header and query matchers
// treat `{}` and regex "*" as "present"; uri/method/... give nullopt for `{}`.
std::optional<StringMatcher> compileStringMatch(const config::model::StringMatch& in,
                                                bool present_when_empty, const MatchSite& site,
                                                DiagnosticSink& sink);

RouteMatch compileRouteMatch(const config::model::HTTPMatchRequest& in, const MatchSite& site,
                             DiagnosticSink& sink);

// Compiles a regex for route matching or rewriting; null (and an error) when RE2 rejects it.
std::shared_ptr<const re2::RE2> compileRegex(const std::string& pattern, const MatchSite& site,
                                             int line, DiagnosticSink& sink);

// Istio's catch-all: a path match of prefix "/" (or none) or regex ".*", and no header, query,
// method, scheme or authority condition. Istio stops emitting a VirtualService's routes after
// one and moves every catch-all to the end of a gateway virtual host.
bool isCatchAll(const RouteMatch& match);

}  // namespace halyard::translate
