#include "proxy/tls/pem_loader.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace halyard::proxy::tls {

FileStamp stampOf(const std::string& path) {
  FileStamp stamp;
  stamp.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return stamp;
  stamp.size = st.st_size;
  stamp.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  stamp.inode = st.st_ino;
  return stamp;
}

common::Expected<std::string> PemLoader::load(const translate::PemSource& source) {
  if (!source.inline_pem.empty()) return source.inline_pem;
  if (source.path.empty()) {
    return common::fail(common::ErrorKind::kInvalidArgument, "no PEM source");
  }
  // The stamp first: a file rewritten while we read it is then seen as changed at the next check.
  files_.push_back(stampOf(source.path));
  std::ifstream in(source.path, std::ios::binary);
  if (!in) {
    return common::fail(common::ErrorKind::kIo,
                        "cannot read " + source.path + ": " + std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace halyard::proxy::tls
