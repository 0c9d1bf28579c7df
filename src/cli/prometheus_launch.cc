#include "cli/prometheus_launch.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

#include "up/port_allocator.h"

namespace halyard::cli {

namespace {

namespace fs = std::filesystem;

std::string findOnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    const std::string candidate = dirs.substr(start, end - start) + "/" + name;
    if (end > start && ::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// deploy/prometheus of the source tree the binary was built in (build/bin/halyard ->
// deploy/prometheus), or of an installed layout (bin/halyard -> share/halyard/prometheus).
std::string defaultRulesDir(const std::string& halyard_binary) {
  const fs::path bin = fs::path(halyard_binary).parent_path();
  for (const fs::path& candidate : {bin / "../../deploy/prometheus", bin / "../deploy/prometheus",
                                    bin / "../share/halyard/prometheus"}) {
    std::error_code ec;
    if (fs::is_directory(candidate, ec)) return fs::weakly_canonical(candidate, ec).string();
  }
  return "";
}

// Rule files are the directory's *.yml and *.yaml whose names do not contain "test" (those are
// promtool's unit tests).
std::vector<std::string> ruleFiles(const std::string& dir) {
  std::vector<std::string> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const std::string ext = e.path().extension().string();
    if ((ext == ".yml" || ext == ".yaml") && name.find("test") == std::string::npos) {
      files.push_back(fs::absolute(e.path()).string());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

common::Result<PrometheusLaunch, std::string> preparePrometheus(const up::UpPlan& plan,
                                                                const PrometheusOptions& options,
                                                                char* const* env) {
  using common::unexpected;
  PrometheusLaunch launch;
  const std::string binary = findOnPath("prometheus");
  if (binary.empty()) {
    return unexpected(std::string(
        "--prometheus: no prometheus on PATH; install Debian's (apt-get install prometheus, as "
        "scripts/setup.sh does)"));
  }
  launch.rules_dir = options.rules_dir.empty() ? defaultRulesDir(plan.halyard_binary)
                                               : fs::absolute(options.rules_dir).string();
  if (launch.rules_dir.empty()) {
    return unexpected(std::string(
        "--prometheus: deploy/prometheus was not found next to the halyard binary; give the "
        "directory of the rule files with --prometheus-rules DIR"));
  }
  launch.rule_files = ruleFiles(launch.rules_dir);
  if (launch.rule_files.empty()) {
    return unexpected("--prometheus-rules: " + launch.rules_dir +
                      " has no rule files (*.yml without \"test\" in the name)");
  }
  uint16_t port = options.port;
  if (port == 0) {
    up::PortAllocator ports(0);
    auto taken = ports.take();
    if (!taken) return unexpected("--prometheus: " + taken.error());
    port = *taken;
  } else if (!up::portFree(port)) {
    return unexpected("--prometheus-port: port " + std::to_string(port) +
                      " is in use; give a free one, or 0 for one the kernel picks");
  }
  const std::string address = "127.0.0.1:" + std::to_string(port);
  launch.url = "http://" + address;

  const std::string dir = plan.log_dir + "/prometheus";
  std::error_code ec;
  fs::create_directories(dir + "/data", ec);
  if (ec) return unexpected("--prometheus: cannot create " + dir + ": " + ec.message());
  launch.config_path = dir + "/prometheus.yml";
  {
    std::ofstream out(launch.config_path);
    out << "# Written by halyard up --prometheus; regenerated at every start.\n"
        << "global:\n"
        << "  scrape_interval: " << options.scrape_interval << "\n"
        << "  evaluation_interval: " << options.scrape_interval << "\n"
        << "  external_labels:\n"
        << "    mesh: " << quoted(fs::path(plan.dir).filename().string()) << "\n"
        << "rule_files:\n";
    for (const auto& f : launch.rule_files) out << "  - " << quoted(f) << "\n";
    out << "scrape_configs:\n"
        << "  # Every connected proxy (/stats/prometheus) and the control plane (/metrics), with\n"
        << "  # the labels name, namespace, role, workload, app and version.\n"
        << "  - job_name: halyard-mesh\n"
        << "    http_sd_configs:\n"
        << "      - url: "
        << quoted("http://127.0.0.1:" + std::to_string(plan.control_admin_port) + "/sd/prometheus")
        << "\n"
        << "        refresh_interval: " << options.scrape_interval << "\n";
    if (!out) return unexpected("--prometheus: cannot write " + launch.config_path);
  }

  up::ProcessSpec& spec = launch.spec;
  spec.name = "prometheus";
  spec.role = up::Role::kApp;  // stopped first, like the apps; restarted if it dies
  spec.program = binary;
  spec.argv = {binary,
               "--config.file=" + launch.config_path,
               "--storage.tsdb.path=" + dir + "/data",
               "--storage.tsdb.retention.time=1d",
               "--web.listen-address=" + address,
               "--web.enable-lifecycle"};
  for (char* const* e = env; e && *e; ++e) spec.env.emplace_back(*e);
  spec.cwd = dir;
  spec.log_path = plan.log_dir + "/prometheus.log";
  spec.ready_port = port;
  spec.after = 0;  // the control plane, whose /sd/prometheus it reads
  return launch;
}

}  // namespace halyard::cli
