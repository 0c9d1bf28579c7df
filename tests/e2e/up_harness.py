"""Running `halyard up` in end-to-end tests: the process, what it wrote about itself
(state.json), and small HTTP helpers to talk to what it started."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import time

from conftest import BIN, ROOT
from proxy_harness import free_port


class Mesh:
    """One `halyard up` process and what it wrote about itself (state.json)."""

    def __init__(self, tmp, config_dir, extra_args=()):
        self.port = free_port()
        self.log_dir = tmp / "logs"
        self.out_path = tmp / "up.out"
        self.out = open(self.out_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "halyard"), "up", str(config_dir), "--port-map", "80=%d" % self.port,
             "--base-port", "0", "--log-dir", str(self.log_dir), *extra_args],
            stdout=self.out, stderr=subprocess.STDOUT)

    def output(self):
        return self.out_path.read_text(errors="replace")

    def wait_running(self, timeout=60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if "is running" in self.output():
                return
            if self.proc.poll() is not None:
                raise AssertionError("halyard up exited with %d:\n%s\n%s" % (
                    self.proc.returncode, self.output(), self.logs()))
            time.sleep(0.1)
        raise AssertionError("halyard up did not report running:\n%s\n%s" % (
            self.output(), self.logs()))

    def logs(self):
        text = ""
        for log in sorted(self.log_dir.glob("*.log")):
            text += "==> %s\n%s\n" % (log.name, log.read_text(errors="replace")[-3000:])
        return text

    def state(self):
        return json.loads((self.log_dir / "state.json").read_text())

    def process(self, name):
        return next(p for p in self.state()["processes"] if p["name"] == name)

    def workload(self, name):
        return next(w for w in self.state()["workloads"] if w["name"] == name)

    def all_pids(self):
        return [pid for p in self.state()["processes"] for pid in p["pids"]]

    def stop(self, sig=signal.SIGINT, timeout=40):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.out.close()
        return self.proc.returncode


def get(port, path, host, timeout=5):
    """One request on a fresh connection: (status, parsed JSON body or text)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Host": host})
        r = conn.getresponse()
        body = r.read().decode(errors="replace")
        try:
            return r.status, json.loads(body)
        except ValueError:
            return r.status, body
    finally:
        conn.close()


def admin(address, path):
    host, port = address.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("GET", path)
    return conn.getresponse().read().decode(errors="replace")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for our purposes only once reaped; halyard up reaps its children.
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def copy_samples(tmp):
    """samples/ into tmp (the workloads' commands name ../apps/echo_app.py), so edits stay there."""
    shutil.copytree(ROOT / "samples", tmp / "samples")
    return tmp / "samples" / "pirata"
