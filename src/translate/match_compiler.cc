#include "translate/match_compiler.h"

#include "translate/model_util.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

// JWT claim keys (@request.auth.claims.<name>, nested with '.', or @request.auth.claims[a][b])
// match the claims of the token the RequestAuthentication phase verified. The matcher keeps '@'
// and the claim path, '\0'-separated and in its own case (claims are case-sensitive); no header
// name starts with '@', so the router tells the two apart by that.
constexpr std::string_view kClaimPrefix = "@request.auth.claims";

std::optional<std::string> claimPath(std::string_view key) {
  key.remove_prefix(kClaimPrefix.size());
  std::string path = "@";
  if (!key.empty() && key.front() == '.') {
    key.remove_prefix(1);
    if (key.empty()) return std::nullopt;
    for (const char c : key) path.push_back(c == '.' ? '\0' : c);
    return path;
  }
  while (!key.empty()) {
    const size_t close = key.find(']');
    if (key.front() != '[' || close == std::string_view::npos || close == 1) return std::nullopt;
    if (path.size() > 1) path.push_back('\0');
    path.append(key.substr(1, close - 1));
    key.remove_prefix(close + 1);
  }
  if (path.size() == 1) return std::nullopt;
  return path;
}

void addHeaders(const std::map<std::string, model::StringMatch>& in, bool invert,
                const MatchSite& site, const std::string& field, DiagnosticSink& sink,
                std::vector<HeaderMatcher>& out) {
  for (const auto& [name, sm] : in) {
    MatchSite at{site.meta, site.field_path + "." + field + "." + name};
    std::optional<std::string> claim;
    if (name.starts_with(kClaimPrefix)) {
      claim = claimPath(name);
      if (!claim) {
        sink.report(kNotServed, *site.meta, sm.line, at.field_path,
                    "JWT claim key " + name +
                        " names no claim (@request.auth.claims.<name> or [<name>]): never holds");
      }
    }
    auto m = compileStringMatch(sm, true, at, sink);
    if (!m) continue;
    HeaderMatcher h;
    h.name = claim ? *claim : toLower(name);
    h.match = std::move(*m);
    h.invert = invert;
    out.push_back(std::move(h));
  }
}

}  // namespace

std::shared_ptr<const re2::RE2> compileRegex(const std::string& pattern, const MatchSite& site,
                                             int line, DiagnosticSink& sink) {
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(pattern, options);
  if (!re->ok()) {
    sink.report(kUntranslatable, *site.meta, line, site.field_path,
                "regex \"" + pattern + "\" does not compile with RE2: " + re->error());
    return nullptr;
  }
  return re;
}

std::optional<StringMatcher> compileStringMatch(const model::StringMatch& in,
                                                bool present_when_empty, const MatchSite& site,
                                                DiagnosticSink& sink) {
  StringMatcher m;
  if (in.exact) {
    m.kind = StringMatcher::Kind::kExact;
    m.value = *in.exact;
  } else if (in.prefix) {
    m.kind = StringMatcher::Kind::kPrefix;
    m.value = *in.prefix;
  } else if (in.regex && !(present_when_empty && *in.regex == "*")) {
    m.kind = StringMatcher::Kind::kRegex;
    m.value = *in.regex;
    m.regex =
        compileRegex(*in.regex, MatchSite{site.meta, site.field_path + ".regex"}, in.line, sink);
  } else if (present_when_empty) {
    m.kind = StringMatcher::Kind::kPresent;
  } else {
    return std::nullopt;
  }
  return m;
}

RouteMatch compileRouteMatch(const model::HTTPMatchRequest& in, const MatchSite& site,
                             DiagnosticSink& sink) {
  RouteMatch out;
  auto field = [&](const model::Boxed<model::StringMatch>& sm, const char* name) {
    std::optional<StringMatcher> m;
    if (sm)
      m = compileStringMatch(*sm, false, MatchSite{site.meta, site.field_path + "." + name}, sink);
    return m;
  };
  out.uri = field(in.uri, "uri");
  if (out.uri && in.ignore_uri_case.value_or(false) &&
      out.uri->kind != StringMatcher::Kind::kRegex) {
    // Envoy's case_sensitive=false covers exact and prefix path matches only.
    out.uri->ignore_case = true;
    out.uri->value = toLower(out.uri->value);
  }
  out.scheme = field(in.scheme, "scheme");
  out.method = field(in.method, "method");
  out.authority = field(in.authority, "authority");
  addHeaders(in.headers, false, site, "headers", sink, out.headers);
  addHeaders(in.without_headers, true, site, "withoutHeaders", sink, out.headers);
  for (const auto& [name, sm] : in.query_params) {
    auto m = compileStringMatch(
        sm, true, MatchSite{site.meta, site.field_path + ".queryParams." + name}, sink);
    if (m) out.query_params.push_back(QueryParamMatcher{name, std::move(*m)});
  }
  return out;
}

bool isCatchAll(const RouteMatch& match) {
  bool any_path = !match.uri;
  if (match.uri) {
    any_path = (match.uri->kind == StringMatcher::Kind::kPrefix && match.uri->value == "/") ||
               (match.uri->kind == StringMatcher::Kind::kRegex && match.uri->value == ".*");
  }
  return any_path && !match.scheme && !match.method && !match.authority && match.headers.empty() &&
         match.query_params.empty();
}

}  // namespace halyard::translate
