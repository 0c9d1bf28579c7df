// Applying Istio header operations (VirtualService `headers.request|response`) to a header list
// without building an intermediate map: the caller passes the original headers and the HeaderOps
// in the order they apply, and receives every resulting header through a callback.
//
// Semantics (Envoy's HeaderParser, as Istio configures it):
//  - each HeaderOps applies its `remove` list first, then its `set` entries (overwrite: every
//    earlier header of that name goes), then its `add` entries (append);
//  - a later HeaderOps sees the result of the earlier ones, so its remove/set also drop headers
//    that an earlier HeaderOps added;
//  - an entry with an empty value is skipped entirely (Envoy adds empty values only when
//    `keep_empty_value` is set, which Istio never does), so `set x: ""` neither adds nor clears;
//  - names compare case-insensitively (ops carry lowercase names; upstream responses may not).
// Order: route-level ops, then the chosen destination's ops (shared/docs/istio-semantics.md §1.9).
//
// Output order: the surviving original headers in their order, then each HeaderOps' surviving
// set and add entries in order. Nothing is allocated.
#pragma once

#include <initializer_list>
#include <span>
#include <string_view>
#include <utility>

#include "proxy/router/string_util.h"
#include "translate/snapshot.h"

namespace halyard::proxy::router {

namespace header_ops_detail {

template <class H>
std::string_view nameOf(const H& h) {
  if constexpr (requires { h.name; }) {
    return h.name;
  } else {
    return h.first;
  }
}
template <class H>
std::string_view valueOf(const H& h) {
  if constexpr (requires { h.value; }) {
    return h.value;
  } else {
    return h.second;
  }
}

// True when ops[from..] removes or overwrites `name`.
inline bool droppedFrom(std::span<const translate::HeaderOps* const> ops, size_t from,
                        std::string_view name) {
  for (size_t j = from; j < ops.size(); ++j) {
    if (!ops[j]) continue;
    for (const auto& r : ops[j]->remove) {
      if (equalsIgnoreCase(r, name)) return true;
    }
    for (const auto& [n, v] : ops[j]->set) {
      if (!v.empty() && equalsIgnoreCase(n, name)) return true;
    }
  }
  return false;
}

// True when some op removes or overwrites any header at all: when none does (most routes),
// the original headers pass without a name comparison each.
inline bool dropsAny(std::span<const translate::HeaderOps* const> ops) {
  for (const translate::HeaderOps* o : ops) {
    if (!o) continue;
    if (!o->remove.empty()) return true;
    for (const auto& [n, v] : o->set) {
      if (!v.empty()) return true;
    }
  }
  return false;
}

}  // namespace header_ops_detail

// `headers`: any range of elements with .name/.value (http::HeaderView) or .first/.second.
// `emit(std::string_view name, std::string_view value)` is called once per resulting header.
// Null entries in `ops` are skipped.
template <class Headers, class Emit>
void applyHeaderOps(const Headers& headers, std::span<const translate::HeaderOps* const> ops,
                    Emit&& emit) {
  using header_ops_detail::droppedFrom;
  const bool drops = header_ops_detail::dropsAny(ops);
  for (const auto& h : headers) {
    auto name = header_ops_detail::nameOf(h);
    if (!drops || !droppedFrom(ops, 0, name)) emit(name, header_ops_detail::valueOf(h));
  }
  for (size_t k = 0; k < ops.size(); ++k) {
    if (!ops[k]) continue;
    for (const auto& [n, v] : ops[k]->set) {
      if (!v.empty() && !droppedFrom(ops, k + 1, n)) emit(std::string_view(n), std::string_view(v));
    }
    for (const auto& [n, v] : ops[k]->add) {
      if (!v.empty() && !droppedFrom(ops, k + 1, n)) emit(std::string_view(n), std::string_view(v));
    }
  }
}

template <class Headers, class Emit>
void applyHeaderOps(const Headers& headers, std::initializer_list<const translate::HeaderOps*> ops,
                    Emit&& emit) {
  applyHeaderOps(headers, std::span<const translate::HeaderOps* const>(ops.begin(), ops.size()),
                 std::forward<Emit>(emit));
}

// True when applying `ops` would change nothing (lets the caller skip rewriting headers).
inline bool headerOpsEmpty(std::initializer_list<const translate::HeaderOps*> ops) {
  for (const auto* o : ops) {
    if (o && !o->empty()) return false;
  }
  return true;
}

}  // namespace halyard::proxy::router
