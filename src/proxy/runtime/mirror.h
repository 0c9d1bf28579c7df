// Request mirroring (VirtualService `mirror` / `mirrors`): a copy of the request goes to the
// mirror cluster, fire and forget. Its response is read and dropped, failures are ignored, and
// the client's request never waits for it. Only requests whose body is in memory (none, or small
// and buffered) are mirrored; a streamed body is not copied.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "common/local_shared.h"

namespace halyard::proxy::runtime {

class Worker;
class WorkerSnapshot;

// Copies `head` and `body`; `method` decides how the response is framed (HEAD).
void startMirror(Worker& worker, common::LocalShared<const WorkerSnapshot> snapshot,
                 const std::string& cluster, std::string_view head, std::string_view body,
                 std::string_view method);

}  // namespace halyard::proxy::runtime
