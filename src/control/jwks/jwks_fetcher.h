// The control plane's jwksUri fetcher (istiod's JwksResolver): RequestAuthentication rules that
// name a jwksUri get its key set pushed inline, so proxies never reach out to identity
// providers. A URI is fetched the first time a translation asks for it (bounded by the timeout),
// then refreshed in the background (every 20 minutes, as Istio); a URI that cannot be fetched is
// retried sooner and meanwhile resolves to nothing, which translate turns into a key set that
// verifies no token (fail closed), with a warning naming the URI. A refresh that fails keeps the
// last key set that was fetched. When what a URI resolves to changes, `on_change` is called (the
// push controller then translates and pushes again).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "control/jwks/http_get.h"

namespace halyard::control::jwks {

// What translate asks for a rule with an issuer and neither jwks nor jwksUri: the issuer's
// OpenID Connect discovery document, whose jwks_uri is then fetched (as istiod does).
inline constexpr std::string_view kOpenIdConfiguration = "/.well-known/openid-configuration";

struct JwksFetcherOptions {
  std::chrono::milliseconds timeout{5000};
  std::chrono::milliseconds refresh{20 * 60 * 1000};
  std::chrono::milliseconds retry{2000};  // after a failure, until the URI answers
  std::string ca_file;                    // extra roots for https jwksUri
};

class JwksFetcher {
 public:
  using Fetch = std::function<common::Expected<std::string>(const std::string& uri)>;

  explicit JwksFetcher(JwksFetcherOptions options, std::function<void()> on_change = {},
                       Fetch fetch = {});
  ~JwksFetcher();
  JwksFetcher(const JwksFetcher&) = delete;
  JwksFetcher& operator=(const JwksFetcher&) = delete;

  void start();  // the background refresher
  void stop();   // idempotent

  // The key set JSON for `uri`: fetched now when it is new (any thread); nullopt while it
  // cannot be fetched.
  std::optional<std::string> resolve(const std::string& uri);

  // Prometheus lines: per URI whether a key set is served, and fetch failures.
  std::string metrics() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    std::optional<std::string> jwks;  // the last key set that was fetched and parsed
    std::string error;                // the last failure ("" after a success)
    Clock::time_point next;
    uint64_t fetches = 0;
    uint64_t failures = 0;
  };

  // Fetches `uri` and records the result; true when what it resolves to changed.
  bool refresh(const std::string& uri);
  common::Expected<std::string> get(const std::string& uri) const;
  // The key set `uri` leads to: its body, or for an OpenID configuration (kOpenIdConfiguration)
  // the body of the jwks_uri it names.
  common::Expected<std::string> keySetAt(const std::string& uri) const;
  void run();

  const JwksFetcherOptions options_;
  const std::function<void()> on_change_;
  const Fetch fetch_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::map<std::string, Entry> entries_;
  std::thread thread_;
};

// The fetcher of the running control plane, for its /metrics; null when none.
JwksFetcher* activeFetcher();
void setActiveFetcher(JwksFetcher* fetcher);

}  // namespace halyard::control::jwks
