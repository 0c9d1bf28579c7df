// Notices changes to the config directory without inotify: a fingerprint of every config file's
// (.yaml, .yml, .json, as the loader reads) path, size and modification time, compared on a timer
// by the main thread. Cheap for the few hundred files a config directory holds, and it works on
// every filesystem (including bind mounts and Kubernetes ConfigMap volumes, whose symlink swaps
// inotify watchers often miss).
#pragma once

#include <cstdint>
#include <string>

namespace halyard::proxy::runtime {

// 0 when the directory cannot be read.
uint64_t configFingerprint(const std::string& dir);

}  // namespace halyard::proxy::runtime
