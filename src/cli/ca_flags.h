// Where the CLI commands find the CA directory and the control plane's root bundle.
#pragma once

#include <cstdlib>
#include <string>

namespace halyard::cli {

// `halyard control` copies its root bundle to <kRootBundleDir>/halyard-control-<port>.root.pem.
inline constexpr const char* kRootBundleDir = "/tmp";

// $HOME/.halyard/ca; "" when HOME is not set.
inline std::string defaultCaDir() {
  const char* home = std::getenv("HOME");
  return home && *home ? std::string(home) + "/.halyard/ca" : std::string();
}

}  // namespace halyard::cli
