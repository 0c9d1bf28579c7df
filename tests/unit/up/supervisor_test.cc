#include "up/supervisor.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "up/port_allocator.h"

namespace halyard::up {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// Running, or killed but not yet reaped by whoever inherited it (a zombie counts as gone).
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(") ");
  return paren != std::string::npos && text.size() > paren + 2 && text[paren + 2] != 'Z';
}

// Polls until `pid` has exited (or is a zombie), at most `limit`.
bool goneWithin(pid_t pid, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (alive(pid)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

class SupervisorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Supervisor::blockSignals();  // before any thread: the SIGTERM below is taken by sigtimedwait
    dir_ = fs::temp_directory_path() /
           ("halyard-supervisor-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  ProcessSpec shell(const std::string& name, Role role, const std::string& script, int after = -1) {
    ProcessSpec p;
    p.name = name;
    p.role = role;
    p.program = "/bin/sh";
    p.argv = {"sh", "-c", script};
    p.env = {"PATH=/usr/bin:/bin", "DIR=" + dir_.string()};
    p.cwd = dir_.string();
    p.log_path = (dir_ / (name + ".log")).string();
    p.after = after;
    return p;
  }
  // A long-running process that writes a file when it gets SIGTERM (a proxy draining).
  ProcessSpec server(const std::string& name, Role role, int after = -1) {
    return shell(name, role,
                 "trap 'echo drained > $DIR/" + name +
                     ".drained; exit 0' TERM; "
                     "while :; do sleep 0.05; done",
                 after);
  }
  // SIGTERM to this process (the signal stays pending until run() waits for it) once `file` has
  // `lines` lines (or after 20 s), and `then` more: a bound on what has happened rather than on
  // time, so a loaded machine cannot make the test miss it.
  std::thread stopAfterLines(fs::path file, size_t lines, std::chrono::milliseconds then) {
    return std::thread([file, lines, then] {
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (std::chrono::steady_clock::now() < deadline) {
        std::ifstream in(file);
        size_t n = 0;
        for (std::string line; std::getline(in, line);) ++n;
        if (n >= lines) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      std::this_thread::sleep_for(then);
      ::kill(::getpid(), SIGTERM);
    });
  }

  fs::path dir_;
};

TEST_F(SupervisorTest, CrashingAppIsRestartedWithBackoffAndStopLeavesNothing) {
  std::vector<ProcessSpec> specs;
  // The "control plane" starts a grandchild in its own group; stopping must take it too.
  specs.push_back(shell("control", Role::kControl,
                        "sleep 100 & echo $! > $DIR/grandchild; "
                        "trap 'exit 0' TERM; while :; do sleep 0.05; done"));
  specs.push_back(server("sidecar", Role::kSidecar, 0));
  ProcessSpec app = shell("app", Role::kApp, "echo run >> $DIR/runs; exit 3", 1);
  app.sidecar = 1;
  specs.push_back(app);
  std::ostringstream out;
  Supervisor sup(specs, out);
  ASSERT_TRUE(sup.start()) << out.str();
  // The second run's exit is reported with "restart 2 in 2.0 s" right after it.
  auto stopper = stopAfterLines(dir_ / "runs", 2, 500ms);
  EXPECT_EQ(sup.run(), 0);
  stopper.join();
  const std::string log = out.str();
  EXPECT_NE(log.find("app (pid "), std::string::npos) << log;
  EXPECT_NE(log.find("exited with code 3"), std::string::npos) << log;
  EXPECT_NE(log.find("restart 1 in 1.0 s"), std::string::npos) << log;
  EXPECT_NE(log.find("restart 2 in 2.0 s"), std::string::npos) << log;
  EXPECT_NE(log.find("received SIGTERM: stopping"), std::string::npos) << log;
  EXPECT_GE(sup.states()[2].history.size(), 2u);
  for (const auto& st : sup.states()) {
    EXPECT_EQ(st.pid, 0);
    for (pid_t pid : st.history) EXPECT_FALSE(alive(pid)) << pid;
  }
  EXPECT_TRUE(fs::exists(dir_ / "sidecar.drained"));  // stopped with SIGTERM, not killed
  pid_t grandchild = 0;
  std::ifstream(dir_ / "grandchild") >> grandchild;
  ASSERT_GT(grandchild, 0);
  // The group's signal is delivered asynchronously: on a loaded machine the grandchild may still
  // be exiting when run() returns. It must be gone soon after, not necessarily at that instant.
  EXPECT_TRUE(goneWithin(grandchild, 2s)) << grandchild;
}

TEST_F(SupervisorTest, AppStartsAfterItsSidecarIsReadyAndItsExitDrainsTheSidecar) {
  std::vector<ProcessSpec> specs;
  // The sidecar answers /ready with 503 for half a second, then 200 (and notes that it did).
  const uint16_t port = PortAllocator(0).take().value();
  ProcessSpec sidecar = shell("sidecar", Role::kSidecar, "");
  sidecar.program = "/usr/bin/python3";
  sidecar.argv = {"python3", "-c", R"(
import http.server, os, signal, sys, time
start = time.time()
def term(*_):
    open(os.environ["DIR"] + "/sidecar.drained", "w").close()
    sys.exit(0)
signal.signal(signal.SIGTERM, term)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ready = time.time() - start > 0.5
        if ready:
            open(os.environ["DIR"] + "/ready", "w").close()
        self.send_response(200 if ready else 503)
        self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
)",
                  std::to_string(port)};
  sidecar.ready_port = port;
  specs.push_back(sidecar);
  ProcessSpec app =
      shell("app", Role::kApp, "test -f $DIR/ready && echo yes > $DIR/order; sleep 0.2; exit 0", 0);
  app.sidecar = 0;
  specs.push_back(app);
  std::ostringstream out;
  Supervisor sup(specs, out);
  ASSERT_TRUE(sup.start()) << out.str();
  bool drained_before_stop = false;
  std::thread stopper([&] {
    std::this_thread::sleep_for(1500ms);
    drained_before_stop = fs::exists(dir_ / "sidecar.drained");
    ::kill(::getpid(), SIGTERM);
  });
  EXPECT_EQ(sup.run(), 0);
  stopper.join();
  EXPECT_TRUE(drained_before_stop) << out.str();
  EXPECT_NE(out.str().find("app exited with code 0"), std::string::npos) << out.str();
  EXPECT_TRUE(sup.states()[0].done && sup.states()[1].done);
  EXPECT_EQ(sup.states()[1].restarts, 0);
  EXPECT_TRUE(fs::exists(dir_ / "order"));
}

TEST_F(SupervisorTest, AMeshProcessFailingAtStartStopsEverything) {
  std::vector<ProcessSpec> specs;
  specs.push_back(server("control", Role::kControl));
  specs.push_back(shell("gateway", Role::kGateway, "echo 'cannot bind 0.0.0.0:80' >&2; exit 2", 0));
  specs.back().ready_port = PortAllocator(0).take().value();  // never answers: it exits first
  std::ostringstream out;
  Supervisor sup(specs, out);
  EXPECT_FALSE(sup.start());
  EXPECT_NE(out.str().find("gateway exited with code 2 while starting"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("cannot bind 0.0.0.0:80"), std::string::npos) << out.str();
  for (const auto& st : sup.states()) {
    for (pid_t pid : st.history) EXPECT_FALSE(alive(pid));
  }
}

}  // namespace
}  // namespace halyard::up
