#include "proxy/authn/authenticator.h"

#include <openssl/evp.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace halyard::proxy::authn {

using json = nlohmann::json;

class Claims {
 public:
  Claims(json payload, const std::vector<std::string>& space_delimited)
      : payload_(std::move(payload)), space_delimited_(space_delimited) {}

  const json* find(std::string_view path, char separator, std::string_view* last) const {
    const json* at = &payload_;
    while (true) {
      const size_t cut = path.find(separator);
      const std::string_view name = path.substr(0, cut);
      if (!at->is_object()) return nullptr;
      const auto it = at->find(name);
      if (it == at->end()) return nullptr;
      at = &*it;
      *last = name;
      if (cut == std::string_view::npos) return at;
      path.remove_prefix(cut + 1);
    }
  }

  bool spaceDelimited(std::string_view name) const {
    return std::find(space_delimited_.begin(), space_delimited_.end(), name) !=
           space_delimited_.end();
  }

  const json& payload() const { return payload_; }

 private:
  json payload_;
  std::vector<std::string> space_delimited_;
};

namespace {

constexpr std::string_view kDefaultHeader = "authorization";
constexpr std::string_view kDefaultPrefix = "Bearer ";
constexpr std::string_view kDefaultParam = "access_token";

// The token after `prefix` in a header value: the prefix may follow other text (as Envoy finds
// it), and the token ends at a space or a comma (header values arrive trimmed). memchr-based:
// this runs on every request, over tokens of a kilobyte.
std::string_view tokenAfterPrefix(std::string_view value, std::string_view prefix) {
  if (!prefix.empty()) {
    if (value.starts_with(prefix)) {
      value.remove_prefix(prefix.size());
    } else {
      const size_t at = value.find(prefix);
      if (at == std::string_view::npos) return {};
      value.remove_prefix(at + prefix.size());
    }
  }
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  value = value.substr(0, value.find(' '));
  return value.substr(0, value.find(','));
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// `name=value` pairs separated by `separator` (query strings, Cookie headers).
std::string_view pairValue(std::string_view text, char separator, std::string_view name) {
  while (!text.empty()) {
    const size_t cut = text.find(separator);
    const std::string_view pair = trim(text.substr(0, cut));
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (cut == std::string_view::npos) break;
    text.remove_prefix(cut + 1);
  }
  return {};
}

void appendValue(const json& v, bool split, std::vector<std::string>& out) {
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (!split) {
      out.push_back(s);
      return;
    }
    std::string_view rest = s;
    while (!rest.empty()) {
      const size_t cut = rest.find(' ');
      if (cut != 0) out.emplace_back(rest.substr(0, cut));
      if (cut == std::string_view::npos) break;
      rest.remove_prefix(cut + 1);
    }
  } else if (v.is_boolean() || v.is_number()) {
    out.push_back(v.dump());
  }
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

}  // namespace

void VerifiedJwt::claimValues(std::string_view path, std::vector<std::string>& out) const {
  if (!claims) return;
  std::string_view name;
  const json* v = claims->find(path, '\0', &name);
  if (!v) return;
  const bool split = claims->spaceDelimited(name);
  if (v->is_array()) {
    for (const auto& e : *v) appendValue(e, false, out);
  } else {
    appendValue(*v, split, out);
  }
}

std::optional<std::string> VerifiedJwt::claimHeaderValue(std::string_view dotted) const {
  if (!claims) return std::nullopt;
  std::string_view name;
  const json* v = claims->find(dotted, '.', &name);
  if (!v) return std::nullopt;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_boolean() || v->is_number()) return v->dump();
  if (v->is_array() || v->is_object()) return base64(v->dump());
  return std::nullopt;
}

Authenticator::Authenticator(const std::vector<translate::JwtRule>& rules, size_t cache_size)
    : owned_(rules), capacity_(cache_size) {
  auto locationIndex = [this](TokenLocation l) {
    const auto it = std::find(locations_.begin(), locations_.end(), l);
    if (it != locations_.end()) return static_cast<size_t>(it - locations_.begin());
    locations_.push_back(std::move(l));
    return locations_.size() - 1;
  };
  rules_.reserve(owned_.size());
  for (const translate::JwtRule& r : owned_) {
    CompiledRule c;
    c.rule = &r;
    c.provider.issuer = r.issuer;
    c.provider.audiences = r.audiences;
    auto keys = Jwks::parse(r.jwks);
    if (keys) {
      c.keys = std::move(*keys);
    } else {
      problems_.push_back(r.origin + ": " + keys.error());
    }
    using Kind = TokenLocation::Kind;
    if (r.from_headers.empty() && r.from_params.empty() && r.from_cookies.empty()) {
      c.locations.push_back(
          locationIndex({Kind::kHeader, std::string(kDefaultHeader), std::string(kDefaultPrefix)}));
      c.locations.push_back(locationIndex({Kind::kParam, std::string(kDefaultParam), {}}));
    }
    for (const auto& h : r.from_headers) {
      c.locations.push_back(locationIndex({Kind::kHeader, h.name, h.prefix}));
    }
    for (const auto& p : r.from_params) c.locations.push_back(locationIndex({Kind::kParam, p, {}}));
    for (const auto& k : r.from_cookies) {
      c.locations.push_back(locationIndex({Kind::kCookie, k, {}}));
    }
    rules_.push_back(std::move(c));
  }
}

void Authenticator::findTokens(const http::RequestView& request, std::vector<Found>& out) const {
  out.clear();
  for (size_t i = 0; i < locations_.size(); ++i) {
    const TokenLocation& l = locations_[i];
    std::string_view token;
    switch (l.kind) {
      case TokenLocation::Kind::kHeader:
        for (const auto& h : request.headers) {
          if (h.name != l.name) continue;
          token = tokenAfterPrefix(h.value, l.prefix);
          if (!token.empty()) break;
        }
        break;
      case TokenLocation::Kind::kParam:
        token = pairValue(request.query(), '&', l.name);
        break;
      case TokenLocation::Kind::kCookie:
        for (const auto& h : request.headers) {
          if (h.name != "cookie") continue;
          token = pairValue(h.value, ';', l.name);
          if (!token.empty()) break;
        }
        break;
    }
    if (!token.empty()) out.push_back(Found{i, token});
  }
}

bool Authenticator::ruleAccepts(size_t rule, size_t location) const {
  const auto& l = rules_[rule].locations;
  return std::find(l.begin(), l.end(), location) != l.end();
}

std::shared_ptr<const VerifiedJwt> Authenticator::lookup(std::string_view token, int64_t now) {
  const auto it = index_.find(token);
  if (it == index_.end()) return nullptr;
  const auto entry = it->second;
  const VerifiedJwt& jwt = *entry->second;
  // Expired since it was cached (with the verifier's skew): verify again, which says so.
  const int64_t skew = rules_[jwt.rule].provider.clock_skew.count();
  if (jwt.expires_at != 0 && now - skew >= jwt.expires_at) {
    index_.erase(it);
    lru_.erase(entry);
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, entry);
  return entry->second;
}

void Authenticator::remember(std::string_view token, std::shared_ptr<const VerifiedJwt> jwt) {
  if (capacity_ == 0) return;
  if (lru_.size() >= capacity_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  lru_.emplace_front(std::string(token), std::move(jwt));
  index_.emplace(lru_.front().first, lru_.begin());
}

AuthnOutcome Authenticator::authenticate(const http::RequestView& request, int64_t now) {
  AuthnOutcome outcome;
  if (rules_.empty()) return outcome;
  findTokens(request, found_);
  if (found_.empty()) return outcome;
  // Any token that verifies authenticates the request (Envoy's requires_any); when none does,
  // the first failure is the answer.
  std::optional<JwtStatus> failure;
  for (const Found& f : found_) {
    if (auto hit = lookup(f.token, now); hit && ruleAccepts(hit->rule, f.location)) {
      outcome.kind = AuthnOutcome::Kind::kVerified;
      outcome.rule = rules_[hit->rule].rule;
      outcome.location = &locations_[f.location];
      outcome.jwt = std::move(hit);
      outcome.cached = true;
      return outcome;
    }
    auto parsed = parseJwt(f.token);
    if (!parsed) {
      if (!failure) failure = parsed.error();
      continue;
    }
    const Jwt& jwt = *parsed;
    std::optional<JwtStatus> token_failure;
    for (size_t r = 0; r < rules_.size(); ++r) {
      const CompiledRule& c = rules_[r];
      if (!c.provider.issuer.empty() && c.provider.issuer != jwt.issuer) continue;
      if (!ruleAccepts(r, f.location)) continue;
      const JwtStatus status =
          c.keys ? verifyJwt(jwt, c.provider, *c.keys, now) : JwtStatus::kVerificationFails;
      if (status != JwtStatus::kOk) {
        if (!token_failure) token_failure = status;
        continue;
      }
      auto verified = std::make_shared<VerifiedJwt>();
      verified->issuer = jwt.issuer;
      verified->subject = jwt.subject;
      verified->principal = jwt.issuer + "/" + jwt.subject;
      verified->audiences = jwt.audiences;
      verified->expires_at = jwt.expires_at;
      const size_t first = f.token.find('.');
      verified->payload_base64url =
          std::string(f.token.substr(first + 1, f.token.find('.', first + 1) - first - 1));
      verified->rule = r;
      json payload = json::parse(jwt.payload_json, nullptr, false);
      if (const auto azp = payload.find("azp"); azp != payload.end() && azp->is_string()) {
        verified->presenter = azp->get<std::string>();
      }
      verified->claims =
          std::make_shared<const Claims>(std::move(payload), c.rule->space_delimited_claims);
      remember(f.token, verified);
      outcome.kind = AuthnOutcome::Kind::kVerified;
      outcome.rule = c.rule;
      outcome.location = &locations_[f.location];
      outcome.jwt = std::move(verified);
      return outcome;
    }
    if (!failure) failure = token_failure.value_or(JwtStatus::kUnknownIssuer);
  }
  outcome.kind = AuthnOutcome::Kind::kRejected;
  outcome.status = *failure;
  return outcome;
}

}  // namespace halyard::proxy::authn
