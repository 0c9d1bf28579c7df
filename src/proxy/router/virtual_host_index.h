// Hash-based virtual host lookup for large route tables. selectVirtualHost() scans every domain
// of every virtual host; a gateway with thousands of hosts wants Envoy's structure instead: one
// hash map of exact domains, and per wildcard length one map of suffixes (longest first).
//
// Built once per snapshot (allocates), then looked up per request without allocating. Gives
// exactly the same answer as selectVirtualHost() on the same table, including ties (the earlier
// virtual host wins).
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/router/router.h"

namespace halyard::proxy::router {

class VirtualHostIndex {
 public:
  // Keeps `table` alive; the index points into it.
  explicit VirtualHostIndex(std::shared_ptr<const translate::RouteTable> table);

  const translate::RouteTable& table() const { return *table_; }

  // Same result as selectVirtualHost(table(), authority).
  const translate::VirtualHost* find(std::string_view authority) const;

  // Same result as selectRoute(table(), req).
  RouteSelection select(const http::RequestView& req) const;

 private:
  struct CiHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  struct CiEq {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const;
  };
  // Value: position of the virtual host in the table (lower wins ties).
  using Map = std::unordered_map<std::string, size_t, CiHash, CiEq>;
  struct Wildcards {
    size_t length;     // of the fixed part ("*.a.com" -> 6)
    Map without_port;  // compared with the host without its port
    Map with_port;     // domains written with a port, compared with the authority as sent
  };
  enum class Side { kSuffix, kPrefix };

  static void insert(Map& m, std::string key, size_t vh);
  static void insertWild(std::vector<Wildcards>& list, std::string key, bool ported, size_t vh);
  static size_t lookup(const Map& m, std::string_view key);
  static size_t lookupWild(const std::vector<Wildcards>& list, Side side, std::string_view host,
                           std::string_view authority);

  std::shared_ptr<const translate::RouteTable> table_;
  Map exact_;
  std::vector<Wildcards> suffixes_;  // longest first
  std::vector<Wildcards> prefixes_;  // longest first
  size_t catch_all_;
};

// selectRoute() through an index: what the connection manager should call per request when it
// keeps one VirtualHostIndex per listener and snapshot.
inline RouteSelection selectRoute(const VirtualHostIndex& index, const http::RequestView& req) {
  return index.select(req);
}

}  // namespace halyard::proxy::router
