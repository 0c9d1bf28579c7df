// The proxy's side of the snapshot stream: applies each SnapshotPush (whole, or a delta on top of
// the last one applied) and yields the complete translate::Snapshot to serve. Two steps, so the
// proxy can still refuse a snapshot that decodes but that it cannot serve (a port it cannot
// bind): assemble() builds the candidate without touching the state; commit() makes it current.
// A push that is not applied leaves everything as it was (the previous snapshot keeps serving).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "translate/snapshot.h"
#include "wire/protocol.h"

namespace halyard::wire {
inline namespace HALYARD_WIRE_VARIANT {

class SnapshotAssembler {
 public:
  // The decoded resources a push left in place, and the snapshot they make.
  struct Assembled {
    uint64_t version = 0;
    std::map<std::string, v1::Listener> listeners;
    std::map<std::string, std::shared_ptr<const translate::VirtualHost>> virtual_hosts;
    std::map<std::string, std::shared_ptr<const translate::Cluster>> clusters;
    // The peer workload rows by (namespace, service account), and the table they make (null:
    // no rows), shared by every listener that uses it and rebuilt only when a push changes it.
    std::map<std::pair<std::string, std::string>, translate::PeerWorkload> peer_rows;
    std::shared_ptr<const translate::PeerWorkloads> peer_table;
    std::vector<std::string> warnings;
    std::shared_ptr<const translate::Snapshot> snapshot;
  };

  // Decodes `push` on top of the current state. Errors name the resource and field; they are
  // what the proxy NACKs with.
  common::Expected<Assembled> assemble(const v1::SnapshotPush& push) const;
  void commit(Assembled assembled);

  uint64_t version() const { return current_.version; }

 private:
  Assembled current_;
};

}  // namespace HALYARD_WIRE_VARIANT
}  // namespace halyard::wire
