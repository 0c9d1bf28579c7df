// Fuzzes what an inbound listener reads about its caller: the SPIFFE ID of a client certificate
// (any URI a certificate from the mesh CA could carry) and the x-halyard-peer-metadata header any
// client may send. Views must stay inside the input; a parsed SPIFFE ID must put its parts back
// together into the input; identity keys in the header are never taken.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "telemetry/peer_identity.h"

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::string_view text(input);
  using namespace halyard::telemetry;
  std::string_view td, ns, sa;
  if (parseSpiffeId(text, td, ns, sa)) {
    if (td.empty() || ns.empty() || sa.empty()) __builtin_trap();
    if (!inside(td, text) || !inside(ns, text) || !inside(sa, text)) __builtin_trap();
    const std::string rebuilt =
        "spiffe://" + std::string(td) + "/ns/" + std::string(ns) + "/sa/" + std::string(sa);
    if (rebuilt != input) __builtin_trap();
  }
  PeerIdentity peer;
  if (parsePeerIdentity(text, peer)) {
    if (!peer.namespace_.empty() || !peer.service_account.empty()) __builtin_trap();
    if (!inside(peer.workload, text) || !inside(peer.app, text) || !inside(peer.version, text)) {
      __builtin_trap();
    }
  }
  return 0;
}
