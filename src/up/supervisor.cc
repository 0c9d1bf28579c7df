#include "up/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "up/http_probe.h"

namespace halyard::up {

namespace {

using namespace std::chrono_literals;

// A proxy or the control plane that is not ready by then failed to start.
constexpr auto kReadyTimeout = 20s;
constexpr auto kAppListenGrace = 10s;  // start() stops waiting for an app after this
constexpr auto kFirstBackoff = 1s;
constexpr auto kMaxBackoff = 30s;
constexpr auto kHealthyRun = 60s;  // a run this long resets the backoff
constexpr auto kAppStopBound = 5s;
constexpr auto kProxyStopBound = 10s;  // proxies drain requests in flight first
constexpr auto kControlStopBound = 5s;

sigset_t stopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // the terminal went away: stop as for Ctrl-C
  sigaddset(&set, SIGCHLD);
  return set;
}

std::string clockNow() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::localtime_r(&t, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%H:%M:%S", &tm);
  return buf;
}

std::string seconds(std::chrono::steady_clock::duration d) {
  std::ostringstream s;
  s.precision(1);
  s << std::fixed << std::chrono::duration<double>(d).count() << " s";
  return s.str();
}

std::string exitText(int status) {
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    return std::string("was killed by signal ") + std::to_string(WTERMSIG(status)) + " (" +
           ::strsignal(WTERMSIG(status)) + ")";
  }
  return "stopped";
}

}  // namespace

const char* toString(Role role) {
  switch (role) {
    case Role::kControl:
      return "control";
    case Role::kGateway:
      return "gateway";
    case Role::kSidecar:
      return "sidecar";
    case Role::kApp:
      return "app";
  }
  return "app";
}

Supervisor::Supervisor(std::vector<ProcessSpec> specs, std::ostream& out)
    : specs_(std::move(specs)), states_(specs_.size()), runtime_(specs_.size()), out_(out) {}

Supervisor::~Supervisor() {
  stopAll();
}

void Supervisor::blockSignals() {
  sigset_t set = stopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void Supervisor::report(const std::string& line) {
  out_ << "[" << clockNow() << "] " << line << std::endl;
}

std::string Supervisor::logTail(size_t i) const {
  std::ifstream in(specs_[i].log_path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
    if (lines.size() > 10) lines.erase(lines.begin());
  }
  std::string out;
  for (const auto& l : lines) out += "    " + l + "\n";
  return out;
}

bool Supervisor::spawn(size_t i) {
  const ProcessSpec& spec = specs_[i];
  // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : spec.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  int log = ::open(spec.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log < 0) {
    report("cannot open " + spec.log_path + ": " + std::strerror(errno));
    return false;
  }
  std::string header = "--- halyard up: " + clockNow() + " starting";
  for (const auto& a : spec.argv) header += " " + a;
  header += "\n";
  (void)!::write(log, header.data(), header.size());
  int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t parent = ::getpid();
  // Proxies drain on SIGTERM; apps are killed outright when halyard up itself dies.
  const int death_signal = spec.role == Role::kApp ? SIGKILL : SIGTERM;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);  // its own group: a terminal's Ctrl-C reaches only us, we stop it in order
    ::prctl(PR_SET_PDEATHSIG, death_signal);
    if (::getppid() != parent) ::_exit(1);  // we died before prctl took effect
    sigset_t all;
    sigfillset(&all);
    ::sigprocmask(SIG_UNBLOCK, &all, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (devnull >= 0) ::dup2(devnull, 0);
    ::dup2(log, 1);
    ::dup2(log, 2);
    if (::chdir(spec.cwd.c_str()) != 0) {
      const char msg[] = "halyard up: cannot enter the working directory\n";
      (void)!::write(2, msg, sizeof msg - 1);
      ::_exit(126);
    }
    ::execve(spec.program.c_str(), argv.data(), envp.data());
    const char msg[] = "halyard up: exec failed\n";
    (void)!::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  ::close(log);
  if (devnull >= 0) ::close(devnull);
  if (pid < 0) {
    report("cannot start " + spec.name + ": fork: " + std::strerror(errno));
    return false;
  }
  ::setpgid(pid, pid);  // also here, so a signal sent right away already reaches the group
  ProcessState& st = states_[i];
  st.pid = pid;
  st.ready = spec.ready_port == 0;
  st.history.push_back(pid);
  runtime_[i].started = Clock::now();
  runtime_[i].ready_deadline = runtime_[i].started + kReadyTimeout;
  runtime_[i].stopping = false;
  if (on_change) on_change();
  return true;
}

void Supervisor::probe(size_t i) {
  const ProcessSpec& spec = specs_[i];
  ProcessState& st = states_[i];
  if (st.pid == 0 || st.ready) return;
  st.ready = spec.role == Role::kApp ? tcpAccepts(spec.ready_port, 200)
                                     : httpStatus(spec.ready_port, "/ready", 300) == 200;
  if (st.ready && st.restarts > 0)
    report(spec.name + " is back (pid " + std::to_string(st.pid) + ")");
}

void Supervisor::terminate(size_t i, int sig) {
  ProcessState& st = states_[i];
  if (st.pid == 0) return;
  runtime_[i].stopping = true;
  ::kill(-st.pid, sig);
}

void Supervisor::onExit(size_t i, int status, bool starting) {
  const ProcessSpec& spec = specs_[i];
  ProcessState& st = states_[i];
  Runtime& rt = runtime_[i];
  const pid_t pid = st.pid;
  st.pid = 0;
  st.ready = false;
  // Whatever the process left behind in its group (a shell's children) goes with it.
  ::kill(-pid, SIGKILL);
  const auto ran = Clock::now() - rt.started;
  if (on_change) on_change();
  if (rt.stopping || stop_requested_) return;
  if (spec.role == Role::kApp && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    st.done = true;
    report(spec.name + " exited with code 0 after " + seconds(ran) +
           ": it is done; draining its sidecar");
    if (spec.sidecar >= 0) {
      states_[spec.sidecar].done = true;
      terminate(static_cast<size_t>(spec.sidecar), SIGTERM);
    }
    return;
  }
  if (starting && spec.role != Role::kApp) {
    report(spec.name + " " + exitText(status) + " while starting; its log (" + spec.log_path +
           "):\n" + logTail(i));
    failed_ = true;
    return;
  }
  if (ran >= kHealthyRun) rt.backoff = {};
  rt.backoff = rt.backoff == Clock::duration{}
                   ? Clock::duration(kFirstBackoff)
                   : std::min<Clock::duration>(rt.backoff * 2, kMaxBackoff);
  rt.restart_at = Clock::now() + rt.backoff;
  ++st.restarts;
  report(spec.name + " (pid " + std::to_string(pid) + ") " + exitText(status) + " after " +
         seconds(ran) + "; restart " + std::to_string(st.restarts) + " in " + seconds(rt.backoff) +
         " (log: " + spec.log_path + ")");
}

void Supervisor::reap(bool starting) {
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;
    for (size_t i = 0; i < states_.size(); ++i) {
      if (states_[i].pid == pid) onExit(i, status, starting);
    }
  }
}

bool Supervisor::waitSignal(std::chrono::milliseconds timeout) {
  sigset_t set = stopSignals();
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>((timeout.count() % 1000) * 1'000'000)};
  siginfo_t info{};
  int sig = ::sigtimedwait(&set, &info, &ts);
  if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
    if (stop_requested_) {
      kill_now_ = true;
    } else {
      stop_requested_ = true;
      report(std::string("received ") +
             (sig == SIGINT    ? "SIGINT"
              : sig == SIGTERM ? "SIGTERM"
                               : "SIGHUP") +
             ": stopping");
    }
  }
  return stop_requested_;
}

void Supervisor::tick(bool starting) {
  reap(starting);
  const auto now = Clock::now();
  for (size_t i = 0; i < specs_.size(); ++i) {
    ProcessState& st = states_[i];
    if (st.done || failed_) continue;
    if (st.pid != 0) {
      probe(i);
      if (!st.ready && starting && specs_[i].role != Role::kApp &&
          now > runtime_[i].ready_deadline) {
        report(specs_[i].name + " is not ready after " + seconds(kReadyTimeout) + "; its log (" +
               specs_[i].log_path + "):\n" + logTail(i));
        failed_ = true;
      }
      continue;
    }
    const int after = specs_[i].after;
    if (after >= 0 && !states_[after].ready) continue;
    if (now < runtime_[i].restart_at) continue;
    if (!spawn(i) && starting) failed_ = true;
  }
}

bool Supervisor::start() {
  for (;;) {
    tick(true);
    if (failed_ || stop_requested_) {
      stopAll();
      return false;
    }
    bool all = true;
    for (size_t i = 0; i < specs_.size(); ++i) {
      const ProcessState& st = states_[i];
      if (st.ready || st.done) continue;
      // An app gets a grace period (it may be slow, or crash and be restarted); the rest of the
      // mesh need not wait for it.
      if (specs_[i].role == Role::kApp &&
          (st.restarts > 0 ||
           (st.pid != 0 && Clock::now() - runtime_[i].started > kAppListenGrace))) {
        continue;
      }
      all = false;
    }
    if (all) return true;
    if (waitSignal(50ms)) continue;
  }
}

int Supervisor::run() {
  while (!waitSignal(100ms)) tick(false);
  stopAll();
  return 0;
}

bool Supervisor::anyRunning(const std::vector<size_t>& group) const {
  return std::any_of(group.begin(), group.end(), [&](size_t i) { return states_[i].pid != 0; });
}

void Supervisor::stopGroup(const std::vector<size_t>& group, std::chrono::milliseconds bound) {
  for (size_t i : group) terminate(i, SIGTERM);
  const auto deadline = Clock::now() + bound;
  while (anyRunning(group) && Clock::now() < deadline && !kill_now_) {
    waitSignal(50ms);
    reap(false);
  }
  for (size_t i : group) {
    if (states_[i].pid == 0) continue;
    report(specs_[i].name + " did not stop within " + seconds(bound) + ": killing it");
    terminate(i, SIGKILL);
  }
  while (anyRunning(group)) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, 0);
    if (pid < 0 && errno == ECHILD) break;
    for (size_t i = 0; i < states_.size(); ++i) {
      if (states_[i].pid == pid) onExit(i, status, false);
    }
  }
}

void Supervisor::stopAll() {
  stop_requested_ = true;
  std::vector<size_t> apps, proxies, control;
  for (size_t i = 0; i < specs_.size(); ++i) {
    states_[i].done = true;
    (specs_[i].role == Role::kApp       ? apps
     : specs_[i].role == Role::kControl ? control
                                        : proxies)
        .push_back(i);
  }
  if (!anyRunning(apps) && !anyRunning(proxies) && !anyRunning(control)) return;
  stopGroup(apps, kAppStopBound);
  stopGroup(proxies, kProxyStopBound);
  stopGroup(control, kControlStopBound);
}

}  // namespace halyard::up
