// Control-plane benchmark (not a test; build explicitly: ninja control_bench).
//
// Generates a config of N services (Kubernetes Service + Endpoints + a VirtualService each, all
// bound to one Gateway), starts `halyard control` on it, connects P simulated gateway proxies
// (light gRPC clients on the callback API, one connection each, all in this process) and then
// edits one VirtualService at a time. Reports the time from each file change to the last proxy's
// ACK (p50, p99 over the edits; the debounce is included), the time for the first whole
// snapshot to reach every proxy, and the control plane's RSS and CPU per push round.
// Targets (issue): p99 < 1 s, RSS < 500 MB for 1,000 proxies and 1,000 services.
//
// --role sidecar connects sidecars instead: sidecar i is app=app-i (the app of Service svc-i),
// with ports of its own on 127.0.0.1, and the VirtualServices are mesh ones on the service
// hosts, so every edit changes a route every sidecar serves. --register 1 (the default) sends
// the sidecars' addresses, so each also registers its workload, as halyard-proxy does.
//
// --peers N (sidecars) makes the services' ports TCP, so every sidecar's inbound listener
// proxies TCP and uses the table of peer workloads, and adds N Pods with a service account each
// (N rows in that table). --edit-peers 1 then edits a Pod's version label instead of a
// VirtualService: one row of the table changes per edit. Bytes pushed per edit round are
// reported either way.
//
//   control_bench [--halyard build/bin/halyard] [--proxies 1000] [--services 1000]
//                 [--edits 30] [--classes 1] [--role gateway|sidecar] [--register 1]
//                 [--edit-timeout-s 10] [--peers 0] [--edit-peers 0]
// CONTROL_BENCH_VERBOSE=1 prints every edit; CONTROL_BENCH_LOG_LEVEL=info shows the control
// plane's log.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "halyard/v1/discovery.grpc.pb.h"
#include "wire/workload_key.h"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using halyard::v1::ControlMessage;
using halyard::v1::ProxyMessage;

struct Flags {
  std::string halyard = "build/bin/halyard";
  int proxies = 1000;
  int services = 1000;
  int edits = 30;
  int classes = 1;  // distinct label sets: each is translated on its own
  bool sidecars = false;
  bool register_workloads = true;  // sidecars only
  int edit_timeout_s = 10;
  int peers = 0;            // sidecars: Pods with a service account each (peer table rows)
  bool edit_peers = false;  // edits change a Pod's version instead of a VirtualService
  // For bench/dashboard_scrape_bench.py: the control plane's admin listener and extra flags, the
  // admin addresses the proxies' hellos name (proxy i gets the (i mod n)th), and how long to
  // hold the connected proxies instead of editing (its pid is printed first).
  std::string admin;
  std::vector<std::string> control_flags;
  std::vector<std::string> scrape_targets;
  int hold_s = 0;
};

Flags parseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--halyard")
      f.halyard = v;
    else if (k == "--proxies")
      f.proxies = std::stoi(v);
    else if (k == "--services")
      f.services = std::stoi(v);
    else if (k == "--edits")
      f.edits = std::stoi(v);
    else if (k == "--classes")
      f.classes = std::stoi(v);
    else if (k == "--role" && (v == "gateway" || v == "sidecar"))
      f.sidecars = v == "sidecar";
    else if (k == "--register")
      f.register_workloads = v != "0";
    else if (k == "--peers")
      f.peers = std::stoi(v);
    else if (k == "--edit-peers")
      f.edit_peers = v == "1";
    else if (k == "--edit-timeout-s")
      f.edit_timeout_s = std::stoi(v);
    else if (k == "--admin")
      f.admin = v;
    else if (k == "--control-flag")
      f.control_flags.push_back(v);
    else if (k == "--scrape-targets") {
      std::istringstream list(v);
      for (std::string t; std::getline(list, t, ',');) f.scrape_targets.push_back(t);
    } else if (k == "--hold-s")
      f.hold_s = std::stoi(v);
    else {
      std::fprintf(stderr, "unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return f;
}

// Sidecar mode: a mesh VirtualService on the service's own host.
std::string meshVirtualService(int i, int revision) {
  std::ostringstream o;
  o << "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc-" << i
    << ", namespace: bench}\nspec:\n  hosts: [svc-" << i
    << "]\n  http:\n  - match: [{uri: {prefix: \"/r" << revision
    << "\"}}]\n    route:\n    - destination: {host: svc-" << i << ", port: {number: 80}}\n";
  return o.str();
}

// --peers: the services' ports are TCP, so the mesh VirtualService has tcp routes (the edit
// changes a destinationSubnets match, which every sidecar's outbound TCP table carries).
std::string meshTcpVirtualService(int i, int revision) {
  std::ostringstream o;
  o << "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc-" << i
    << ", namespace: bench}\nspec:\n  hosts: [svc-" << i
    << "]\n  tcp:\n  - match: [{port: 80, destinationSubnets: [\"10." << (revision % 250)
    << ".0.0/16\"]}]\n    route:\n    - destination: {host: svc-" << i
    << ", port: {number: 80}}\n  - route:\n    - destination: {host: svc-" << i
    << ", port: {number: 80}}\n";
  return o.str();
}

bool g_tcp_ports = false;

std::string virtualService(int i, int revision, bool sidecars) {
  if (sidecars && g_tcp_ports) return meshTcpVirtualService(i, revision);
  if (sidecars) return meshVirtualService(i, revision);
  std::ostringstream o;
  o << "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: svc-" << i
    << ", namespace: bench}\nspec:\n  hosts: [\"svc-" << i
    << ".bench.example.com\"]\n  gateways: [\"istio-system/gw\"]\n  http:\n  - match: [{uri: "
       "{prefix: \"/r"
    << revision << "\"}}]\n    route:\n    - destination: {host: svc-" << i
    << ", port: {number: 80}}\n";
  return o.str();
}

// --peers: Service ports named tcp, so sidecars' inbound listeners proxy TCP (g_tcp_ports).

std::string service(int i, bool sidecars) {
  std::ostringstream o;
  o << "apiVersion: v1\nkind: Service\nmetadata: {name: svc-" << i
    << ", namespace: bench}\nspec:\n  ports: [{name: " << (g_tcp_ports ? "tcp" : "http")
    << ", port: 80, targetPort: 8080}]\n";
  if (sidecars) o << "  selector: {app: app-" << i << "}\n";
  o << "---\n"
    << "apiVersion: v1\nkind: Endpoints\nmetadata: {name: svc-" << i
    << ", namespace: bench}\nsubsets:\n- addresses: [{ip: 10.0." << (i / 250) << "." << (i % 250)
    << "}]\n  ports: [{name: http, port: 8080}]\n";
  return o.str();
}

// A Pod of its own service account: a row of the sidecars' peer table.
std::string peerPod(int i, int revision) {
  std::ostringstream o;
  o << "apiVersion: v1\nkind: Pod\nmetadata: {name: peer-" << i
    << ", namespace: bench, labels: {app: peer-" << i << ", version: v" << revision
    << "}}\nspec: {serviceAccountName: sa-" << i
    << ", containers: [{name: app}]}\nstatus: {podIP: 10.9." << (i / 250) << "." << (i % 250)
    << "}\n";
  return o.str();
}

void writeFile(const fs::path& p, const std::string& text) {
  const fs::path tmp = p.string() + ".tmp~";
  std::ofstream(tmp) << text;
  fs::rename(tmp, p);
}

// One file per service, so an edit rewrites one small file.
void generate(const fs::path& dir, int services, bool sidecars, int peers) {
  for (int i = 0; i < peers; ++i) {
    writeFile(dir / ("peer-" + std::to_string(i) + ".yaml"), peerPod(i, 0));
  }
  writeFile(dir / "gateway.yaml",
            "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: gw, namespace: "
            "istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: "
            "{number: 80, name: http, protocol: HTTP}\n    hosts: [\"*/*.bench.example.com\"]\n");
  for (int i = 0; i < services; ++i) {
    writeFile(dir / ("svc-" + std::to_string(i) + ".yaml"),
              service(i, sidecars) + "---\n" + virtualService(i, 0, sidecars));
  }
}

int freePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

// RSS and peak RSS in MB, CPU seconds (user + system) of a process.
struct ProcStats {
  double rss_mb = 0, peak_mb = 0, cpu_s = 0;
};

ProcStats procStats(pid_t pid) {
  ProcStats s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mb = std::stod(line.substr(6)) / 1024;
    if (line.rfind("VmHWM:", 0) == 0) s.peak_mb = std::stod(line.substr(6)) / 1024;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), {});
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  // After the command: state is field 3; utime and stime are fields 14 and 15.
  s.cpu_s = (std::stod(fields.at(11)) + std::stod(fields.at(12))) /
            static_cast<double>(sysconf(_SC_CLK_TCK));
  return s;
}

// What a proxy needs to be let in: the mesh root (the stream is TLS, the control plane's name is
// istiod.istio-system.svc) and a credential per identity (`halyard token create`).
struct Trust {
  std::string root_pem;
  std::string sidecar_credential;  // bench/default
  std::string gateway_credential;  // istio-system/default
};

std::string readAll(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string createToken(const std::string& halyard, const fs::path& ca_dir, const char* ns) {
  const std::string command = halyard + " token create --ca-dir " + ca_dir.string() +
                              " --namespace " + ns + " --service-account default";
  FILE* out = popen(command.c_str(), "r");
  std::string token;
  char buf[512];
  while (out && fgets(buf, sizeof(buf), out)) token += buf;
  if (out) pclose(out);
  while (!token.empty() && (token.back() == '\n' || token.back() == ' ')) token.pop_back();
  return token;
}

std::shared_ptr<grpc::Channel> tlsChannel(const std::string& address, const Trust& trust,
                                          grpc::ChannelArguments args) {
  args.SetSslTargetNameOverride("istiod.istio-system.svc");
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = trust.root_pem;
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(tls), args);
}

// A simulated proxy: says hello (with a credential and a CSR), ACKs every push at once,
// remembers the last version and when it ACKed it.
class BenchProxy : public grpc::ClientBidiReactor<ProxyMessage, ControlMessage> {
 public:
  BenchProxy(const std::string& address, int index, const Flags& flags, const Trust& trust) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);  // a connection of its own, like a proxy
    args.SetMaxReceiveMessageSize(-1);
    channel_ = tlsChannel(address, trust, args);
    stub_ = halyard::v1::Discovery::NewStub(channel_);
    ProxyMessage hello;
    auto* h = hello.mutable_hello();
    auto key = halyard::wire::WorkloadKey::generate();
    if (key) {
      auto csr = key->csr();
      if (csr) h->set_csr(*csr);
    }
    h->set_credential(flags.sidecars ? trust.sidecar_credential : trust.gateway_credential);
    if (!flags.scrape_targets.empty()) {
      h->set_admin_address(
          flags.scrape_targets[static_cast<size_t>(index) % flags.scrape_targets.size()]);
    }
    if (flags.sidecars) {
      // Ports of its own: the registered workloads share one address.
      h->set_name("sc-" + std::to_string(index));
      h->set_namespace_("bench");
      h->set_role("sidecar");
      (*h->mutable_labels())["app"] = "app-" + std::to_string(index % flags.services);
      if (flags.register_workloads) h->set_address("127.0.0.1");
      auto* port = h->add_ports();
      port->set_name("http");
      port->set_number(static_cast<uint32_t>(20000 + index));
      h->set_inbound_port(static_cast<uint32_t>(30000 + index));
      h->set_outbound_port(static_cast<uint32_t>(40000 + index));
    } else {
      h->set_name("gw-" + std::to_string(index));
      h->set_namespace_("istio-system");
      h->set_role("gateway");
      (*h->mutable_labels())["istio"] = "ingressgateway";
      (*h->mutable_labels())["shard"] = std::to_string(index % flags.classes);
    }
    stub_->async()->Stream(&context_, this);
    queue_.push_back(std::move(hello));
    StartRead(&in_);
    writeNextLocked();
    StartCall();
  }

  void OnReadDone(bool ok) override {
    if (!ok) return;
    if (in_.has_push()) {
      ProxyMessage ack;
      ack.mutable_ack()->set_version(in_.push().version());
      std::lock_guard lock(mu_);
      version_ = in_.push().version();
      bytes_ += in_.ByteSizeLong();
      acked_at_ = Clock::now();
      queue_.push_back(std::move(ack));
      writeNextLocked();
    }
    // Free the push now: clearing a large message later, inside the next read, would put this
    // process's cleanup of a thousand whole snapshots into the first edit's time.
    ControlMessage().Swap(&in_);
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    queue_.erase(queue_.begin());
    if (ok) writeNextLocked();
  }
  void OnDone(const grpc::Status&) override {
    std::lock_guard lock(mu_);
    done_ = true;
  }

  uint64_t version() {
    std::lock_guard lock(mu_);
    return version_;
  }
  Clock::time_point ackedAt() {
    std::lock_guard lock(mu_);
    return acked_at_;
  }
  uint64_t bytes() {
    std::lock_guard lock(mu_);
    return bytes_;
  }
  bool done() {
    std::lock_guard lock(mu_);
    return done_;
  }
  void cancel() { context_.TryCancel(); }

 private:
  void writeNextLocked() {
    if (writing_ || queue_.empty()) return;
    writing_ = true;
    StartWrite(&queue_.front());
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<halyard::v1::Discovery::Stub> stub_;
  grpc::ClientContext context_;
  ControlMessage in_;
  std::mutex mu_;
  std::vector<ProxyMessage> queue_;  // front: being written
  bool writing_ = false;
  uint64_t version_ = 0;
  uint64_t bytes_ = 0;
  Clock::time_point acked_at_;
  bool done_ = false;
};

template <class F>
bool waitFor(F condition, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(2ms);
  }
  return true;
}

double ms(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

}  // namespace

int main(int argc, char** argv) {
  const Flags flags = parseFlags(argc, argv);
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;  // a socket per proxy
  setrlimit(RLIMIT_NOFILE, &nofile);

  char tmpl[] = "/tmp/halyard-control-bench-XXXXXX";
  const fs::path dir = mkdtemp(tmpl);
  g_tcp_ports = flags.sidecars && flags.peers > 0;
  generate(dir, flags.services, flags.sidecars, flags.sidecars ? flags.peers : 0);
  const std::string address = "127.0.0.1:" + std::to_string(freePort());
  const fs::path ca_dir = dir.parent_path() / (dir.filename().string() + ".ca");
  // The CA directory's token key exists before the control plane starts; its root after.
  Trust trust;
  trust.sidecar_credential = createToken(flags.halyard, ca_dir, "bench");
  trust.gateway_credential = createToken(flags.halyard, ca_dir, "istio-system");

  const char* log_level = std::getenv("CONTROL_BENCH_LOG_LEVEL");
  const pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> args = {
        flags.halyard, "control",  "--config",      dir.string(),  "--listen",
        address,       "--ca-dir", ca_dir.string(), "--log-level", log_level ? log_level : "warn"};
    if (!flags.admin.empty()) args.insert(args.end(), {"--admin", flags.admin});
    args.insert(args.end(), flags.control_flags.begin(), flags.control_flags.end());
    std::vector<char*> argv_c;
    for (auto& a : args) argv_c.push_back(a.data());
    argv_c.push_back(nullptr);
    execv(flags.halyard.c_str(), argv_c.data());
    std::perror("exec halyard");
    _exit(127);
  }
  std::unique_ptr<halyard::v1::Discovery::Stub> probe;
  const bool up = waitFor(
      [&] {
        if (!probe) {
          if (!fs::exists(ca_dir / "root-cert.pem")) return false;
          trust.root_pem = readAll(ca_dir / "root-cert.pem");
          probe =
              halyard::v1::Discovery::NewStub(tlsChannel(address, trust, grpc::ChannelArguments()));
        }
        grpc::ClientContext c;
        halyard::v1::StatusResponse r;
        return probe->Status(&c, halyard::v1::StatusRequest(), &r).ok();
      },
      30s);
  if (!up) {
    std::fprintf(stderr, "halyard control did not come up\n");
    kill(pid, SIGKILL);
    return 1;
  }
  const ProcStats idle = procStats(pid);
  std::printf("config: %d services (%d objects), control plane RSS %.1f MB after loading\n",
              flags.services, 3 * flags.services + 1, idle.rss_mb);

  const auto connect_start = Clock::now();
  std::vector<std::unique_ptr<BenchProxy>> proxies;
  for (int i = 0; i < flags.proxies; ++i) {
    proxies.push_back(std::make_unique<BenchProxy>(address, i, flags, trust));
  }
  auto allAbove = [&](uint64_t v) {
    return std::all_of(proxies.begin(), proxies.end(), [v](auto& p) { return p->version() > v; });
  };
  if (!waitFor([&] { return allAbove(0); }, 120s)) {
    std::fprintf(stderr, "not every proxy got its first snapshot\n");
    kill(pid, SIGKILL);
    return 1;
  }
  uint64_t first_bytes = 0;
  for (auto& p : proxies) first_bytes += p->bytes();
  const ProcStats connected = procStats(pid);
  const std::string what = flags.sidecars
                               ? (flags.register_workloads ? "registered sidecars" : "sidecars")
                               : "gateways in " + std::to_string(flags.classes) + " classes";
  std::printf("%d %s: first whole snapshot (%.0f KB each) to all in %.0f ms; RSS %.1f MB\n",
              flags.proxies, what.c_str(), static_cast<double>(first_bytes) / flags.proxies / 1024,
              ms(Clock::now() - connect_start), connected.rss_mb);

  // Registrations make generations of their own after the first snapshots: let them end (every
  // proxy at one version, no new one for a second) so the first edit is not measured on top.
  auto newest = [&] {
    uint64_t v = 0;
    for (auto& p : proxies) v = std::max(v, p->version());
    return v;
  };
  // (Not when holding: a proxy whose stream broke never catches up, and nothing is timed here.)
  for (auto settled = Clock::now(); flags.hold_s == 0 && Clock::now() - settled < 1s;) {
    const uint64_t v = newest();
    std::this_thread::sleep_for(50ms);
    if (newest() != v || !allAbove(v - 1)) settled = Clock::now();
  }

  // The proxies hang up, then the control plane is stopped and its directory removed.
  auto stopAll = [&] {
    for (auto& p : proxies) p->cancel();
    waitFor(
        [&] {
          return std::all_of(proxies.begin(), proxies.end(), [](auto& p) { return p->done(); });
        },
        10s);
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    fs::remove_all(dir);
    return 0;
  };
  if (flags.hold_s > 0) {
    std::printf("holding %d proxies: control pid %d\n", flags.proxies, static_cast<int>(pid));
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::seconds(flags.hold_s));
    return stopAll();
  }

  std::vector<double> latencies;
  uint64_t edit_bytes = 0;
  for (auto& p : proxies) edit_bytes -= p->bytes();
  const ProcStats before = procStats(pid);
  for (int e = 1; e <= flags.edits; ++e) {
    const uint64_t current = newest();
    const int svc = (e * 7919) % flags.services;
    const auto t0 = Clock::now();
    if (flags.edit_peers && flags.peers > 0) {
      const int peer = (e * 7919) % flags.peers;
      writeFile(dir / ("peer-" + std::to_string(peer) + ".yaml"), peerPod(peer, e));
    } else {
      writeFile(dir / ("svc-" + std::to_string(svc) + ".yaml"),
                service(svc, flags.sidecars) + "---\n" + virtualService(svc, e, flags.sidecars));
    }
    if (!waitFor([&] { return allAbove(current); }, std::chrono::seconds(flags.edit_timeout_s))) {
      std::fprintf(stderr, "edit %d did not reach every proxy within %d s\n", e,
                   flags.edit_timeout_s);
      kill(pid, SIGKILL);
      return 1;
    }
    Clock::time_point last = t0;
    std::vector<double> each;
    for (auto& p : proxies) {
      last = std::max(last, p->ackedAt());
      each.push_back(ms(p->ackedAt() - t0));
    }
    latencies.push_back(ms(last - t0));
    if (std::getenv("CONTROL_BENCH_VERBOSE")) {
      std::printf("edit %d: all in %.0f ms (first %.0f, median proxy %.0f)\n", e, latencies.back(),
                  percentile(each, 0), percentile(each, 0.5));
    }
    std::this_thread::sleep_for(150ms);  // let the round settle: one edit per generation
  }
  const ProcStats after = procStats(pid);
  for (auto& p : proxies) edit_bytes += p->bytes();
  std::printf("pushed per edit round: %.1f KB to all %d proxies (%.0f bytes per proxy)\n",
              static_cast<double>(edit_bytes) / flags.edits / 1024, flags.proxies,
              static_cast<double>(edit_bytes) / flags.edits / flags.proxies);
  std::printf(
      "%d edits, file change -> all %d ACKs: p50 %.0f ms, p99 %.0f ms, max %.0f ms "
      "(debounce 100 ms included)\n",
      flags.edits, flags.proxies, percentile(latencies, 0.5), percentile(latencies, 0.99),
      *std::max_element(latencies.begin(), latencies.end()));
  std::printf("control plane: RSS %.1f MB (peak %.1f MB), CPU %.1f ms per push round\n",
              after.rss_mb, after.peak_mb, (after.cpu_s - before.cpu_s) * 1000 / flags.edits);

  return stopAll();
}
