#include "cli/token_command.h"

#include <ctime>
#include <iostream>
#include <memory>
#include <string>

#include "cli/ca_flags.h"
#include "control/ca/bootstrap_token.h"
#include "control/ca/duration.h"

namespace halyard::cli {

namespace {

struct TokenFlags {
  std::string namespace_;
  std::string service_account;
  std::string ca_dir;  // empty: defaultCaDir()
  std::string ttl = "0";
};

int runTokenCreate(const TokenFlags& flags) {
  auto ttl = control::ca::parseDuration(flags.ttl);
  if (!ttl) {
    std::cerr << "error: --ttl: " << ttl.error().message << "\n";
    return 1;
  }
  const std::string dir = flags.ca_dir.empty() ? defaultCaDir() : flags.ca_dir;
  if (dir.empty()) {
    std::cerr << "error: $HOME is not set: pass --ca-dir DIR\n";
    return 1;
  }
  auto tokens = control::ca::BootstrapTokens::open(dir);
  if (!tokens) {
    std::cerr << "error: " << tokens.error().message << "\n";
    return 1;
  }
  const auto seconds = std::chrono::ceil<std::chrono::seconds>(*ttl).count();
  auto token = tokens->create(flags.namespace_, flags.service_account, seconds, time(nullptr));
  if (!token) {
    std::cerr << "error: " << token.error().message << "\n";
    return 1;
  }
  std::cout << *token << "\n";
  return 0;
}

}  // namespace

void registerTokenCommand(CLI::App& app, int& exit_code) {
  auto* token = app.add_subcommand("token", "Bootstrap credentials for proxies");
  token->require_subcommand(1);
  auto flags = std::make_shared<TokenFlags>();
  auto* create = token->add_subcommand(
      "create",
      "Print a credential proving a namespace and service account, for halyard-proxy "
      "--token-file; signed with the CA directory's token-key (made when absent)");
  create->add_option("--namespace", flags->namespace_, "The proxy's namespace")->required();
  create->add_option("--service-account", flags->service_account, "The proxy's service account")
      ->required();
  create->add_option("--ca-dir", flags->ca_dir,
                     "The control plane's CA directory [default: $HOME/.halyard/ca]");
  create
      ->add_option("--ttl", flags->ttl,
                   "How long the credential is accepted (e.g. 24h, 90m); 0: it does not expire")
      ->capture_default_str();
  create->callback([flags, &exit_code] { exit_code = runTokenCreate(*flags); });
}

}  // namespace halyard::cli
