#include "control/jwks/jwks_fetcher.h"

#include <nlohmann/json.hpp>
#include <vector>

#include "common/log.h"

namespace halyard::control::jwks {

namespace {

std::atomic<JwksFetcher*> g_active{nullptr};

// A key set is a JSON object with a list of keys (or one key); anything else (an HTML error
// page, an empty body) is a failed fetch, not a key set that verifies nothing.
std::string jwksProblem(const std::string& body) {
  const auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return "the answer is not a JSON object";
  const auto keys = doc.find("keys");
  if (keys != doc.end() && !keys->is_array()) return "its \"keys\" is not a list";
  if (keys == doc.end() && doc.find("kty") == doc.end()) return "it has no \"keys\"";
  return "";
}

std::string escapeLabel(const std::string& v) {
  std::string out;
  for (const char c : v) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

}  // namespace

JwksFetcher* activeFetcher() {
  return g_active.load();
}

void setActiveFetcher(JwksFetcher* fetcher) {
  g_active.store(fetcher);
}

JwksFetcher::JwksFetcher(JwksFetcherOptions options, std::function<void()> on_change, Fetch fetch)
    : options_(std::move(options)), on_change_(std::move(on_change)), fetch_(std::move(fetch)) {}

JwksFetcher::~JwksFetcher() {
  stop();
}

void JwksFetcher::start() {
  thread_ = std::thread([this] { run(); });
}

void JwksFetcher::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::string> JwksFetcher::resolve(const std::string& uri) {
  {
    std::lock_guard lock(mu_);
    const auto it = entries_.find(uri);
    if (it != entries_.end()) return it->second.jwks;
  }
  refresh(uri);
  std::lock_guard lock(mu_);
  return entries_[uri].jwks;
}

common::Expected<std::string> JwksFetcher::get(const std::string& uri) const {
  return fetch_ ? fetch_(uri) : httpGet(uri, HttpGetOptions{options_.timeout, options_.ca_file});
}

common::Expected<std::string> JwksFetcher::keySetAt(const std::string& uri) const {
  if (!uri.ends_with(kOpenIdConfiguration)) return get(uri);
  // OpenID Connect discovery (a rule with an issuer and no key set): the provider's
  // configuration names its key set in jwks_uri.
  auto config = get(uri);
  if (!config) return config;
  const auto doc = nlohmann::json::parse(*config, nullptr, false);
  const auto jwks_uri = doc.is_object() ? doc.find("jwks_uri") : doc.end();
  if (!doc.is_object() || jwks_uri == doc.end() || !jwks_uri->is_string()) {
    return common::fail(common::ErrorKind::kProtocol,
                        "the OpenID configuration at " + uri + " names no jwks_uri");
  }
  return get(jwks_uri->get<std::string>());
}

bool JwksFetcher::refresh(const std::string& uri) {
  common::Expected<std::string> body = keySetAt(uri);
  std::string error;
  if (!body) {
    error = body.error().message;
  } else if (const std::string problem = jwksProblem(*body); !problem.empty()) {
    error = "jwksUri " + uri + " did not answer a JSON Web Key Set: " + problem;
  }
  std::lock_guard lock(mu_);
  Entry& e = entries_[uri];
  ++e.fetches;
  if (!error.empty()) {
    ++e.failures;
    if (error != e.error) {
      HLOG_WARN("{}; {}", error,
                e.jwks ? "the key set fetched before is kept"
                       : "its tokens are rejected until it is fetched (fail closed)");
    }
    e.error = std::move(error);
    e.next = Clock::now() + options_.retry;
    return false;  // the last good key set, or none, stays
  }
  e.error.clear();
  e.next = Clock::now() + options_.refresh;
  if (e.jwks == *body) return false;
  if (e.jwks) HLOG_INFO("the key set at jwksUri {} changed", uri);
  e.jwks = std::move(*body);
  return true;
}

void JwksFetcher::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    std::vector<std::string> due;
    Clock::time_point wake = Clock::now() + options_.refresh;
    const Clock::time_point now = Clock::now();
    for (const auto& [uri, e] : entries_) {
      if (e.next <= now) {
        due.push_back(uri);
      } else if (e.next < wake) {
        wake = e.next;
      }
    }
    if (due.empty()) {
      // Also woken by stop(); new URIs are fetched by resolve() and only scheduled here.
      cv_.wait_until(lock, std::min(wake, now + std::chrono::seconds(1)));
      continue;
    }
    lock.unlock();
    bool changed = false;
    for (const auto& uri : due) changed = refresh(uri) || changed;
    if (changed && on_change_) on_change_();
    lock.lock();
  }
}

std::string JwksFetcher::metrics() const {
  std::lock_guard lock(mu_);
  std::string out;
  if (entries_.empty()) return out;
  out +=
      "# HELP halyard_control_jwks_available Whether a key set is served for the jwksUri (0: its "
      "tokens are rejected).\n# TYPE halyard_control_jwks_available gauge\n";
  for (const auto& [uri, e] : entries_) {
    out += "halyard_control_jwks_available{uri=\"" + escapeLabel(uri) + "\"} " +
           (e.jwks ? "1" : "0") + "\n";
  }
  out +=
      "# HELP halyard_control_jwks_fetch_failures_total Failed fetches of the jwksUri.\n"
      "# TYPE halyard_control_jwks_fetch_failures_total counter\n";
  for (const auto& [uri, e] : entries_) {
    out += "halyard_control_jwks_fetch_failures_total{uri=\"" + escapeLabel(uri) + "\"} " +
           std::to_string(e.failures) + "\n";
  }
  return out;
}

}  // namespace halyard::control::jwks
