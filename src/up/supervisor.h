// Runs and watches the processes of `halyard up`: each in its own process group, killed if we
// die (PR_SET_PDEATHSIG), logging to its own file. A process starts once the one it depends on
// is ready (an app after its sidecar); one that exits unexpectedly is restarted with backoff
// (1 s doubling to 30 s) and reported; an app that exits with 0 is done and its sidecar is
// drained. SIGINT/SIGTERM/SIGHUP stop everything in order: apps, then proxies, then the control
// plane.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

namespace halyard::up {

enum class Role { kControl, kGateway, kSidecar, kApp };

struct ProcessSpec {
  std::string name;  // "control-plane", "istio-ingressgateway", "items-api", "items-api.sidecar"
  Role role = Role::kApp;
  std::string program;            // path to execute
  std::vector<std::string> argv;  // argv[0] included
  std::vector<std::string> env;   // the whole environment, "K=V"
  std::string cwd;
  std::string log_path;
  // Ready when GET /ready on this port answers 200 (proxies, control plane) or, for apps, when
  // the port accepts connections. 0: ready once started.
  uint16_t ready_port = 0;
  int after = -1;    // index of the process that must be ready before this one starts
  int sidecar = -1;  // apps: index of their sidecar, drained when the app is done
};

struct ProcessState {
  pid_t pid = 0;  // 0 when not running
  bool ready = false;
  bool done = false;  // stopped for good: not restarted
  int restarts = 0;
  std::vector<pid_t> history;  // every pid it ever had
};

class Supervisor {
 public:
  Supervisor(std::vector<ProcessSpec> specs, std::ostream& out);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  // Blocks SIGINT, SIGTERM, SIGHUP and SIGCHLD in the calling thread (call before any thread
  // starts).
  static void blockSignals();

  // Starts everything in dependency order and returns once every process is ready (apps: or
  // have had 10 s), true; false when a mesh process (control plane, gateway, sidecar) failed to
  // start or a stop was requested — then everything started is already stopped.
  bool start();
  // Supervises until SIGINT/SIGTERM/SIGHUP, then stops everything. Returns the exit code (0).
  int run();

  // After start() returned false: true when a process failed, false when a stop was requested.
  bool failed() const { return failed_; }
  const std::vector<ProcessSpec>& specs() const { return specs_; }
  const std::vector<ProcessState>& states() const { return states_; }
  // Called after every start or exit of a process (the CLI rewrites its state file).
  std::function<void()> on_change;

 private:
  using Clock = std::chrono::steady_clock;
  struct Runtime {
    Clock::time_point started{};
    Clock::time_point restart_at{};
    Clock::duration backoff{};
    Clock::time_point ready_deadline{};
    bool stopping = false;  // we sent it SIGTERM: its exit is expected
  };

  void tick(bool starting);
  bool waitSignal(std::chrono::milliseconds timeout);  // true when a stop was requested
  void reap(bool starting);
  void onExit(size_t i, int status, bool starting);
  bool spawn(size_t i);
  void probe(size_t i);
  void terminate(size_t i, int sig);
  void stopAll();
  void stopGroup(const std::vector<size_t>& group, std::chrono::milliseconds bound);
  bool anyRunning(const std::vector<size_t>& group) const;
  void report(const std::string& line);
  std::string logTail(size_t i) const;

  std::vector<ProcessSpec> specs_;
  std::vector<ProcessState> states_;
  std::vector<Runtime> runtime_;
  std::ostream& out_;
  bool stop_requested_ = false;
  bool kill_now_ = false;  // a second Ctrl-C while stopping
  bool failed_ = false;    // a mesh process failed during start
};

const char* toString(Role role);

}  // namespace halyard::up
