// Reads the PEM text a snapshot's TLS settings point at: inline text (a Secret, decoded by
// translate) as it is, a file path from disk. Every file read is remembered with its size and
// modification time, so the runtime can tell when a certificate on disk changed and serve the
// new one to new handshakes.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "translate/snapshot.h"

namespace halyard::proxy::tls {

struct FileStamp {
  std::string path;
  off_t size = -1;  // -1: missing
  int64_t mtime_ns = 0;
  ino_t inode = 0;  // a file replaced by rename (kubelet's Secret volumes) changes its inode
  bool operator==(const FileStamp&) const = default;
};

// The file's stamp now (size -1 when it cannot be read).
FileStamp stampOf(const std::string& path);

class PemLoader {
 public:
  // The PEM text; an error names the source ("cannot read /etc/certs/key.pem: No such file").
  common::Expected<std::string> load(const translate::PemSource& source);

  const std::vector<FileStamp>& files() const { return files_; }

 private:
  std::vector<FileStamp> files_;
};

}  // namespace halyard::proxy::tls
