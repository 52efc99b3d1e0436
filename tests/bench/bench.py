#!/usr/bin/env python3
"""`make bench`: web_server against nginx, on the same machine, in one run.

Both servers serve the same generated document root from 127.0.0.1, each pinned to one CPU
(`taskset -c 0`) with one worker; the load generator (wrk, and this script for the idle test)
runs on another CPU (`taskset -c 1`). For every workload and repetition the two servers are
measured back to back (web_server, nginx, web_server, nginx, ...), each from a fresh process,
after a short warm-up. Per workload it prints requests/s, p50 and p99 latency, the server's CPU
time per request (utime + stime from /proc/PID/stat, before and after, divided by the requests
wrk counted: the figure that stays honest when wrk itself is the bottleneck), its peak RSS
(VmHWM), and the ratio web_server/nginx of each.

Python 3 standard library only. Settings, all from the environment (docs/performance.md):

    BENCH_SECONDS    measured seconds per run (default 10)
    BENCH_REPS       repetitions of every (workload, server) pair (default 3)
    BENCH_WARMUP     warm-up seconds before each measured run (default 2)
    BENCH_WORKLOADS  space- or comma-separated subset (default: all, in the order below)
    BENCH_IDLE       connections the idle test opens (default 10000)
    BENCH_SERVER_CPU / BENCH_CLIENT_CPU   CPUs for the servers and the client (default 0 / 1)
    BENCH_WORKDIR    where the docroot, configs, logs and results go (default: a new temp dir)
    BENCH_BUILD      0 skips `cargo build --release` (default 1)
    CARGO            the cargo to build with (default cargo)

Exit status: 0 when every run produced a measurement, 1 when a run was broken (a server did
not start or died, wrk failed), 2 when the tools are missing or cannot be installed. A missed
performance target is never a failure: targets are for people (docs/performance.md).
"""

import gzip
import http.client
import json
import os
import random
import re
import resource
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------------------------------------
# Workloads
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    """One line of the table: what wrk asks for, and what a correct answer looks like."""

    name: str
    about: str
    path: str = "/1k.bin"
    headers: tuple = ()
    status: int = 200
    conns: int = 64
    gzip: bool = False
    # The idle test is not a wrk run: it opens connections and measures memory.
    idle: bool = False


WORKLOADS = [
    Workload("ka1k", "1 KiB file, keep-alive, 64 connections"),
    Workload("close1k", "1 KiB file, `Connection: close` (a new connection per request)",
             headers=("Connection: close",)),
    Workload("ka64k", "64 KiB file, keep-alive", path="/64k.bin"),
    Workload("ka1m", "1 MiB file, keep-alive", path="/1m.bin"),
    Workload("gzip1k", "1 KiB text file, `Accept-Encoding: gzip`", path="/1k.txt",
             headers=("Accept-Encoding: gzip",), gzip=True),
    Workload("404", "a missing file", path="/missing.txt", status=404),
    Workload("idle10k", "idle keep-alive connections, each after one GET: resident bytes each",
             idle=True),
    Workload("c1000", "1 KiB file, keep-alive, 1,000 connections", conns=1000),
]
BY_NAME = {w.name: w for w in WORKLOADS}

# The generated document root: name -> size. `1k.txt` is text (compressible), the rest random.
FILES = {"1k.bin": 1024, "64k.bin": 64 * 1024, "1m.bin": 1024 * 1024, "1k.txt": 1024}


def connection_limit(workload, idle_conns):
    """server.max_connections for web_server and worker_connections for nginx: the same for
    both, and no larger than the workload needs (nginx preallocates per slot)."""
    if workload.idle:
        return idle_conns + 1024
    return max(1024, 2 * workload.conns)


# ---------------------------------------------------------------------------------------------
# Settings and small helpers
# ---------------------------------------------------------------------------------------------


def env_int(name, default):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        die(f"{name} must be an integer, found {raw!r}", 2)


def say(*parts):
    print(*parts, flush=True)


def die(message, code):
    print(f"bench: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fmt_ms(ms):
    if ms != ms:
        return "-"
    return f"{ms * 1000:.0f} µs" if ms < 1 else f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms"


def fmt_ratio(a, b):
    if a != a or b != b or not b:
        return "-"
    return f"{a / b:.2f}"


def median(values):
    values = [v for v in values if v == v]
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------------------------------------
# Tools: wrk, nginx, taskset; the web_server binary
# ---------------------------------------------------------------------------------------------


def find_nginx():
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)


def ensure_tools():
    """wrk and nginx, installed with apt-get when missing and we are root."""
    missing = [name for name, found in (("wrk", shutil.which("wrk")), ("nginx", find_nginx()))
               if not found]
    if missing:
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            die(f"missing {' and '.join(missing)}; install them with\n"
                "    sudo apt-get update && sudo apt-get install -y nginx-light wrk\n"
                "and run `make bench` again", 2)
        say(f"bench: installing {' and '.join(missing)}: apt-get install -y nginx-light wrk")
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "nginx-light", "wrk"]):
            if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
                die(f"`{' '.join(cmd)}` failed", 2)
    for tool in ("wrk", "taskset"):
        if not shutil.which(tool):
            die(f"{tool} not found (taskset is in util-linux)", 2)
    if not find_nginx():
        die("nginx not found after installing it", 2)


def build_web_server():
    """`cargo build --release --bin web_server`; returns the binary's path."""
    cargo = os.environ.get("CARGO", "cargo")
    if os.environ.get("BENCH_BUILD", "1") != "0":
        say("bench: cargo build --release --bin web_server")
        if subprocess.run([cargo, "build", "--release", "--bin", "web_server"], cwd=REPO).returncode:
            die("the release build failed", 1)
    meta = subprocess.run([cargo, "metadata", "--format-version", "1", "--no-deps"], cwd=REPO,
                          capture_output=True, text=True)
    target = json.loads(meta.stdout)["target_directory"] if meta.returncode == 0 else \
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
    binary = os.path.join(target, "release", "web_server")
    if not os.access(binary, os.X_OK):
        die(f"no web_server binary at {binary}", 1)
    return binary


def other_builds():
    """cargo/rustc processes running besides us: they would share the servers' CPUs."""
    found = []
    for name in ("cargo", "rustc"):
        out = subprocess.run(["pgrep", "-x", name], capture_output=True, text=True).stdout.split()
        found += [f"{name}:{pid}" for pid in out]
    return found


def raise_fd_limit(wanted):
    """Raises this process's descriptor limit (inherited by the servers and wrk) to `wanted`,
    or as far as the hard limit allows; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted:
        try:  # root may raise the hard limit too
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        except (ValueError, OSError):
            pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------------------------
# The document root
# ---------------------------------------------------------------------------------------------


def make_docroot(root):
    """The same files for both servers; deterministic, so runs are comparable."""
    os.makedirs(root, exist_ok=True)
    rng = random.Random(8)
    words = ("static file server keep alive request response header cache actor supervisor "
             "worker connection nginx latency throughput gzip compress bytes socket").split()
    text = ""
    while len(text) < FILES["1k.txt"]:
        text += rng.choice(words) + (" " if rng.random() > 0.1 else ".\n")
    text = text[: FILES["1k.txt"] - 1] + "\n"
    with open(os.path.join(root, "1k.txt"), "w") as f:
        f.write(text)
    for name in ("1k.bin", "64k.bin", "1m.bin"):
        with open(os.path.join(root, name), "wb") as f:
            f.write(bytes(rng.getrandbits(8) for _ in range(FILES[name])))
    for name in FILES:
        os.chmod(os.path.join(root, name), 0o644)
    os.chmod(root, 0o755)


# ---------------------------------------------------------------------------------------------
# /proc
# ---------------------------------------------------------------------------------------------


def proc_stat(pid):
    """(parent pid, utime + stime in clock ticks) of one process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def proc_tree(root):
    """root and all its descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(proc_stat(int(entry))[0], []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            total += proc_stat(pid)[1]
        except OSError:
            pass
    return total


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            match = re.search(rf"^{key}:\s+(\d+) kB", f.read(), re.M)
        return int(match.group(1)) if match else 0
    except OSError:
        return 0


# ---------------------------------------------------------------------------------------------
# The two servers
# ---------------------------------------------------------------------------------------------


class Broken(Exception):
    """A run that produced no measurement: the server did not start or died, wrk failed."""


class Server:
    """One server process, started fresh for each run and stopped after it."""

    name = "?"

    def __init__(self, workdir, docroot, cpu, idle_conns):
        self.workdir, self.docroot, self.cpu, self.idle_conns = workdir, docroot, cpu, idle_conns
        self.port = free_port()
        self.proc = None
        self.log = os.path.join(workdir, "logs", f"{self.name}.log")

    def command(self, workload):
        raise NotImplementedError

    def environment(self, workload):
        return dict(os.environ)

    def serving_pid(self):
        """The process that answers requests (nginx: its worker)."""
        return self.proc.pid

    def start(self, workload):
        cmd = ["taskset", "-c", str(self.cpu)] + self.command(workload)
        with open(self.log, "a") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} {workload.name}: {' '.join(cmd)}\n")
            log.flush()
            self.proc = subprocess.Popen(cmd, env=self.environment(workload), stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise Broken(f"{self.name} exited with {self.proc.returncode} at startup "
                             f"(see {self.log})")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.5).close()
                if self.ready():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise Broken(f"{self.name} did not listen on port {self.port} within 15 s (see {self.log})")

    def ready(self):
        return True

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.proc = None


class WebServer(Server):
    name = "web_server"

    def __init__(self, binary, *args):
        self.binary = binary
        super().__init__(*args)

    def command(self, workload):
        # The prod profile (what a deployment runs) with the overrides below.
        return [self.binary, "--profile", "prod", "--config-dir", os.path.join(REPO, "config"),
                "--docroot", self.docroot, "--bind", f"127.0.0.1:{self.port}", "--workers", "1"]

    def environment(self, workload):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("WEB_SERVER") and k != "RUST_LOG"}
        env.update({
            "WEB_SERVER__ADMIN__BIND": "",                   # no admin listener
            "WEB_SERVER__LOG__ACCESS_LOG": "false",          # nginx: access_log off
            "WEB_SERVER__LOG__LEVEL": "warn",
            "WEB_SERVER__SERVER__MAX_CONNECTIONS": str(connection_limit(workload, self.idle_conns)),
            "WEB_SERVER__CACHE__REVALIDATE_MS": "1000",      # nginx: open_file_cache_valid 1s
            "WEB_SERVER__TIMEOUTS__KEEPALIVE_MS": "65000",   # nginx: keepalive_timeout 65s
            "WEB_SERVER__LIMITS__MAX_KEEPALIVE_REQUESTS": "1000",  # nginx: keepalive_requests
        })
        return env


class Nginx(Server):
    name = "nginx"

    def __init__(self, binary, *args):
        self.binary = binary
        super().__init__(*args)
        self.prefix = os.path.join(self.workdir, "nginx")
        os.makedirs(os.path.join(self.prefix, "tmp"), exist_ok=True)
        with open(os.path.join(HERE, "nginx.conf.in")) as f:
            self.template = f.read()
        self.worker = None

    def config(self, workload):
        limit = connection_limit(workload, self.idle_conns)
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        values = {"PREFIX": self.prefix, "DOCROOT": self.docroot, "PORT": str(self.port),
                  "CONNECTIONS": str(limit), "NOFILE": str(min(nofile, 2 * limit + 64)),
                  "GZIP": "on" if workload.gzip else "off"}
        text = re.sub(r"@([A-Z]+)@", lambda m: values[m.group(1)], self.template)
        path = os.path.join(self.prefix, f"nginx-{workload.name}.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def command(self, workload):
        self.worker = None
        return [self.binary, "-p", self.prefix + "/", "-c", self.config(workload),
                "-e", os.path.join(self.prefix, "error.log"), "-g", "daemon off;"]

    def ready(self):
        # The master listens before it forks its worker: wait for the worker.
        workers = [pid for pid in proc_tree(self.proc.pid) if pid != self.proc.pid]
        if workers:
            self.worker = workers[0]
        return self.worker is not None

    def serving_pid(self):
        return self.worker or self.proc.pid


# ---------------------------------------------------------------------------------------------
# Correctness probe: the same answer from both, or the comparison means nothing
# ---------------------------------------------------------------------------------------------


def probe(server, docroot):
    """One request per workload; returns the mismatches (empty when all answers are right)."""
    wrong = []
    for workload in WORKLOADS:
        if workload.idle:
            continue
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            headers = dict(h.split(": ", 1) for h in workload.headers)
            conn.request("GET", workload.path, headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            conn.close()
        except OSError as err:
            raise Broken(f"{server.name} did not answer {workload.path}: {err}")
        if reply.status != workload.status:
            wrong.append(f"{workload.name}: status {reply.status}, expected {workload.status}")
            continue
        if workload.status != 200:
            continue
        expected = open(os.path.join(docroot, workload.path.lstrip("/")), "rb").read()
        encoding = reply.getheader("Content-Encoding")
        if workload.gzip:
            if encoding != "gzip":
                wrong.append(f"{workload.name}: not gzip-encoded ({encoding or 'identity'})")
            elif gzip.decompress(body) != expected:
                wrong.append(f"{workload.name}: gzip body does not decompress to the file")
        elif body != expected:
            wrong.append(f"{workload.name}: body differs from the file ({len(body)} bytes)")
    return wrong


# ---------------------------------------------------------------------------------------------
# wrk runs
# ---------------------------------------------------------------------------------------------


def wrk_command(cpu, workload, port, seconds):
    cmd = ["taskset", "-c", str(cpu), "wrk", "-t1", f"-c{workload.conns}", f"-d{seconds}s",
           "--latency"]
    for header in workload.headers:
        cmd += ["-H", header]
    return cmd + [f"http://127.0.0.1:{port}{workload.path}"]


def to_ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text or "")
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def parse_wrk(text):
    def grab(pattern):
        match = re.search(pattern, text, re.M)
        return match.group(1) if match else None

    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    return {
        "requests": int(grab(r"^\s+(\d+) requests in") or 0),
        "rps": float(grab(r"^Requests/sec:\s+([\d.]+)") or "nan"),
        "p50_ms": to_ms(grab(r"^\s+50%\s+(\S+)")),
        "p99_ms": to_ms(grab(r"^\s+99%\s+(\S+)")),
        "non_2xx_3xx": int(grab(r"Non-2xx or 3xx responses: (\d+)") or 0),
        "socket_errors": dict(zip(("connect", "read", "write", "timeout"),
                                  map(int, errors.groups()))) if errors else {},
    }


def measure_wrk(server, workload, settings):
    """Warm-up, then one measured wrk run; the server's CPU and memory around it."""
    if settings["warmup"] > 0:
        subprocess.run(wrk_command(settings["client_cpu"], workload, server.port,
                                   settings["warmup"]),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pids = proc_tree(server.proc.pid)
    ticks_before = cpu_ticks(pids)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.time()
    cmd = wrk_command(settings["client_cpu"], workload, server.port, settings["seconds"])
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.time() - started
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    ticks_after = cpu_ticks(pids)
    if not server.alive():
        raise Broken(f"{server.name} died during {workload.name} (see {server.log})")
    with open(os.path.join(settings["workdir"], "raw",
                           f"{workload.name}-{server.name}-rep{settings['rep']}.txt"), "w") as f:
        f.write(" ".join(cmd) + "\n" + done.stdout + done.stderr)
    result = parse_wrk(done.stdout)
    if done.returncode != 0 or result["requests"] == 0:
        raise Broken(f"wrk failed against {server.name} on {workload.name} "
                     f"(exit {done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
    server_cpu_s = (ticks_after - ticks_before) / os.sysconf("SC_CLK_TCK")
    wrk_cpu_s = (children_after.ru_utime + children_after.ru_stime
                 - children_before.ru_utime - children_before.ru_stime)
    result.update({
        "cpu_us_per_req": server_cpu_s * 1e6 / result["requests"],
        # Server and client together: on loopback, part of the work of delivering a response
        # runs in whichever process the kernel happens to be in (see docs/performance.md,
        # ka1m), so this is the figure no shift between the two can flatter.
        "total_us_per_req": (server_cpu_s + wrk_cpu_s) * 1e6 / result["requests"],
        "server_cpu_pct": 100 * server_cpu_s / elapsed,
        "wrk_cpu_pct": 100 * wrk_cpu_s / elapsed,
        "hwm_kb": status_kb(server.serving_pid(), "VmHWM"),
        "loadavg": open("/proc/loadavg").read().split()[0],
    })
    return result


# ---------------------------------------------------------------------------------------------
# The idle test: many keep-alive connections, each after one request, then nothing
# ---------------------------------------------------------------------------------------------


REQUEST = "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def open_idle(port, count, path, window=256, limit_s=120):
    """Opens `count` connections (at most `window` in progress at once), sends one GET on each
    and reads its whole answer; returns the sockets, left open and idle."""
    request = REQUEST.format(path=path).encode()
    selector = selectors.DefaultSelector()
    idle, started, failed = [], 0, 0
    deadline = time.time() + limit_s

    def begin():
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        selector.register(sock, selectors.EVENT_WRITE, {"sent": False, "got": b""})

    while len(idle) + failed < count and time.time() < deadline:
        while started < count and len(selector.get_map()) < window:
            begin()
            started += 1
        for key, _ in selector.select(timeout=1):
            sock, state = key.fileobj, key.data
            try:
                if not state["sent"]:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        raise OSError("connect failed")
                    sock.sendall(request)
                    state["sent"] = True
                    selector.modify(sock, selectors.EVENT_READ, state)
                    continue
                chunk = sock.recv(65536)
                if not chunk:
                    raise OSError("closed by the server")
                state["got"] += chunk
                head, sep, body = state["got"].partition(b"\r\n\r\n")
                length = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if sep and length and len(body) >= int(length.group(1)):
                    selector.unregister(sock)
                    idle.append(sock)
            except OSError:
                selector.unregister(sock)
                sock.close()
                failed += 1
    for key in list(selector.get_map().values()):
        selector.unregister(key.fileobj)
        key.fileobj.close()
        failed += 1
    selector.close()
    return idle, failed


def still_open(sock):
    try:
        return sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def measure_idle(server, workload, settings):
    """Resident memory of the serving process before and after `BENCH_IDLE` idle connections."""
    count = settings["idle"]
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    conn.request("GET", workload.path)
    conn.getresponse().read()
    conn.close()
    time.sleep(1)
    pid = server.serving_pid()
    before = status_kb(pid, "VmRSS")
    began = time.time()
    sockets, failed = open_idle(server.port, count, workload.path)
    opened_s = time.time() - began
    time.sleep(1)  # let anything the server does after the last answer settle
    after = status_kb(pid, "VmRSS")
    hwm = status_kb(pid, "VmHWM")
    alive = sum(1 for s in sockets if still_open(s))
    for s in sockets:
        s.close()
    if not server.alive():
        raise Broken(f"{server.name} died during {workload.name} (see {server.log})")
    if alive == 0:
        raise Broken(f"no idle connection to {server.name} survived ({failed} failed)")
    return {
        "opened": len(sockets), "failed": failed, "alive": alive, "open_s": round(opened_s, 1),
        "rss_before_kb": before, "rss_after_kb": after, "hwm_kb": hwm,
        "bytes_per_conn": (after - before) * 1024 / alive,
    }


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------


def summarise(runs, workloads, names):
    """The markdown table: per workload one row per server (medians over repetitions, peak RSS
    the largest) and one row of ratios web_server/nginx."""
    ours, theirs = names
    lines = [
        "| workload | server | requests/s | p50 | p99 | CPU µs/req | with wrk's | peak RSS | wrk CPU |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    idle_lines = [
        "| server | connections kept | RSS before | RSS after | bytes per connection |",
        "|---|---:|---:|---:|---:|",
    ]
    client_bound = []
    for workload in workloads:
        rows = {n: [r for r in runs if r["workload"] == workload.name and r["server"] == n]
                for n in names}
        if workload.idle:
            per_conn = {}
            for n in names:
                if not rows[n]:
                    continue
                per_conn[n] = median([r["bytes_per_conn"] for r in rows[n]])
                idle_lines.append(
                    f"| {n} | {min(r['alive'] for r in rows[n]):,} "
                    f"| {median([r['rss_before_kb'] for r in rows[n]]) / 1024:.1f} MiB "
                    f"| {median([r['rss_after_kb'] for r in rows[n]]) / 1024:.1f} MiB "
                    f"| {per_conn[n]:,.0f} B |")
            idle_lines.append(
                f"| ratio | | | | {fmt_ratio(per_conn.get(ours, float('nan')), per_conn.get(theirs, float('nan')))} |")
            continue
        stats = {}
        for n in names:
            if not rows[n]:
                continue
            stats[n] = {k: median([r[k] for r in rows[n]])
                        for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_req", "total_us_per_req",
                                  "wrk_cpu_pct")}
            stats[n]["hwm_kb"] = max(r["hwm_kb"] for r in rows[n])
            stats[n]["reps"] = [round(r["rps"]) for r in rows[n]]
        for i, n in enumerate(names):
            if n not in stats:
                lines.append(f"| {workload.name if i == 0 else ''} | {n} | (no run) | | | | | | |")
                continue
            s = stats[n]
            star = "*" if s["wrk_cpu_pct"] >= 90 else ""
            if star:
                client_bound.append(f"{workload.name}/{n}")
            lines.append(
                f"| {workload.name if i == 0 else ''} | {n} | {s['rps']:,.0f} | {fmt_ms(s['p50_ms'])} "
                f"| {fmt_ms(s['p99_ms'])} | {s['cpu_us_per_req']:.1f} | {s['total_us_per_req']:.1f} "
                f"| {s['hwm_kb'] / 1024:.1f} MiB "
                f"| {s['wrk_cpu_pct']:.0f} %{star} |")
        if len(stats) == 2:
            a, b = stats[ours], stats[theirs]
            lines.append(
                f"| | **{ours}/{theirs}** | **{fmt_ratio(a['rps'], b['rps'])}** "
                f"| {fmt_ratio(a['p50_ms'], b['p50_ms'])} | **{fmt_ratio(a['p99_ms'], b['p99_ms'])}** "
                f"| **{fmt_ratio(a['cpu_us_per_req'], b['cpu_us_per_req'])}** "
                f"| {fmt_ratio(a['total_us_per_req'], b['total_us_per_req'])} "
                f"| {fmt_ratio(a['hwm_kb'], b['hwm_kb'])} | |")
    out = "\n".join(lines)
    if any(w.idle for w in workloads):
        out += "\n\nidle keep-alive connections (resident memory of the serving process):\n\n"
        out += "\n".join(idle_lines)
    notes = []
    if client_bound:
        notes.append("`*` wrk used ≥ 90 % of its CPU: the client was the limit, so requests/s "
                     "understates the server; compare CPU µs/req (" + ", ".join(client_bound) + ").")
    spreads = []
    for workload in workloads:
        for n in names:
            values = [r["rps"] for r in runs if r["workload"] == workload.name
                      and r["server"] == n and "rps" in r]
            if len(values) > 1 and min(values) > 0 and (max(values) - min(values)) / median(values) > 0.1:
                spreads.append(f"{workload.name}/{n} {[round(v) for v in values]}")
    contended = [f"{r['workload']}/{r['server']} rep{r['rep']}" for r in runs if r.get("contended")]
    if contended:
        notes.append("cargo or rustc was running at the end of these runs (CPU contention): "
                     + ", ".join(contended) + ".")
    if spreads:
        notes.append("requests/s varied by more than 10 % between repetitions: "
                     + "; ".join(spreads) + ".")
    if notes:
        out += "\n\n" + "\n".join(notes)
    return out


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), "unknown CPU")
    nginx = subprocess.run([find_nginx(), "-v"], capture_output=True, text=True).stderr.strip()
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    wrk = (wrk.stdout + wrk.stderr).splitlines()[0] if (wrk.stdout + wrk.stderr) else "wrk"
    return (f"{os.cpu_count()} CPUs ({model}), Linux {os.uname().release}; "
            f"{nginx.replace('nginx version: ', '')}; {wrk.split(' Copyright')[0]}")


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------


def main():
    settings = {
        "seconds": env_int("BENCH_SECONDS", 10),
        "reps": env_int("BENCH_REPS", 3),
        "warmup": env_int("BENCH_WARMUP", 2),
        "idle": env_int("BENCH_IDLE", 10_000),
        "server_cpu": env_int("BENCH_SERVER_CPU", 0),
        "client_cpu": env_int("BENCH_CLIENT_CPU", 1),
    }
    chosen = os.environ.get("BENCH_WORKLOADS", "").replace(",", " ").split()
    unknown = [w for w in chosen if w not in BY_NAME]
    if unknown:
        die(f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(BY_NAME)}", 2)
    workloads = [w for w in WORKLOADS if not chosen or w.name in chosen]
    if settings["seconds"] < 1 or settings["reps"] < 1:
        die("BENCH_SECONDS and BENCH_REPS must be at least 1", 2)

    ensure_tools()
    binary = build_web_server()
    available = os.sched_getaffinity(0)
    for key in ("server_cpu", "client_cpu"):
        if settings[key] not in available:
            die(f"CPU {settings[key]} is not available (have {sorted(available)}); "
                "set BENCH_SERVER_CPU / BENCH_CLIENT_CPU", 2)
    if settings["server_cpu"] == settings["client_cpu"]:
        say("bench: WARNING: servers and client share one CPU; figures will be pessimistic")
    # This script is part of the client (it runs the idle test): keep it off the servers' CPU.
    os.sched_setaffinity(0, {settings["client_cpu"]})
    fds = raise_fd_limit(settings["idle"] + 4096)
    if fds < settings["idle"] + 256:
        settings["idle"] = max(fds - 256, 0)
        say(f"bench: WARNING: descriptor limit {fds}: the idle test opens only {settings['idle']}")

    workdir = os.environ.get("BENCH_WORKDIR") or tempfile.mkdtemp(prefix="web_server-bench.")
    os.makedirs(workdir, exist_ok=True)
    os.chmod(workdir, 0o755)  # nginx's worker (nobody) must reach the docroot
    for sub in ("logs", "raw"):
        os.makedirs(os.path.join(workdir, sub), exist_ok=True)
    docroot = os.path.join(workdir, "docroot")
    make_docroot(docroot)
    settings["workdir"] = workdir

    common = (workdir, docroot, settings["server_cpu"], settings["idle"])
    servers = [WebServer(binary, *common), Nginx(find_nginx(), *common)]
    names = [s.name for s in servers]

    header = [
        f"# make bench, {time.strftime('%Y-%m-%d %H:%M:%S %Z')}",
        f"machine: {machine()}",
        f"servers on CPU {settings['server_cpu']}, one worker each; client on CPU "
        f"{settings['client_cpu']}: wrk -t1 -c64 (c1000: -c1000) -d{settings['seconds']}s "
        f"--latency after a {settings['warmup']} s warm-up; {settings['reps']} repetition(s); "
        f"idle test: {settings['idle']:,} connections",
        f"workdir: {workdir}",
    ]
    busy = other_builds()
    if busy:
        header.append(f"WARNING: other builds were running at the start ({', '.join(busy)}): "
                      "the servers shared their CPU with them")
    say("\n".join(header))

    broken = []
    say("\nprobe (one request per workload, compared with the files):")
    for server in servers:
        try:
            server.start(BY_NAME["gzip1k"])
            wrong = probe(server, docroot)
            say(f"  {server.name}: " + ("every answer right" if not wrong else
                                        "WRONG: " + "; ".join(wrong)))
        except Broken as err:
            broken.append(str(err))
            say(f"  {server.name}: BROKEN: {err}")
        finally:
            server.stop()

    runs = []
    say("\nruns:")
    runs_file = os.path.join(workdir, "runs.jsonl")
    for rep in range(1, settings["reps"] + 1):
        settings["rep"] = rep
        for workload in workloads:
            for server in servers:
                row = {"rep": rep, "workload": workload.name, "server": server.name}
                try:
                    server.start(workload)
                    measure = measure_idle if workload.idle else measure_wrk
                    row.update(measure(server, workload, settings))
                except Broken as err:
                    broken.append(str(err))
                    say(f"  rep{rep} {workload.name:8} {server.name:10} BROKEN: {err}")
                    continue
                finally:
                    server.stop()
                # Another build on this machine during the run takes CPU from the servers.
                row["contended"] = other_builds()
                runs.append(row)
                with open(runs_file, "a") as f:
                    f.write(json.dumps(row) + "\n")
                if workload.idle:
                    say(f"  rep{rep} {workload.name:8} {server.name:10} {row['alive']:>7,} kept  "
                        f"RSS {row['rss_before_kb'] / 1024:.1f} -> {row['rss_after_kb'] / 1024:.1f} MiB  "
                        f"{row['bytes_per_conn']:,.0f} B/conn  (opened in {row['open_s']} s"
                        + (f", {row['failed']} failed" if row["failed"] else "") + ")"
                        + ("  CONTENDED" if row["contended"] else ""))
                else:
                    errors = sum(row["socket_errors"].values())
                    unexpected = row["non_2xx_3xx"] if workload.status < 400 else 0
                    say(f"  rep{rep} {workload.name:8} {server.name:10} {row['rps']:>9,.0f} req/s  "
                        f"p50 {fmt_ms(row['p50_ms']):>8}  p99 {fmt_ms(row['p99_ms']):>8}  "
                        f"{row['cpu_us_per_req']:6.1f} µs/req ({row['total_us_per_req']:6.1f} with wrk's)  HWM {row['hwm_kb'] / 1024:5.1f} MiB  "
                        f"server CPU {row['server_cpu_pct']:3.0f} %  wrk CPU {row['wrk_cpu_pct']:3.0f} %"
                        + (f"  socket errors {errors}" if errors else "")
                        + (f"  non-2xx {unexpected}" if unexpected else "")
                        + ("  CONTENDED" if row["contended"] else ""))
                time.sleep(0.5)

    table = summarise(runs, workloads, names)
    report = "\n".join(header) + "\n\n" + table + "\n"
    with open(os.path.join(workdir, "results.md"), "w") as f:
        f.write(report)
    say("\n" + table)
    say(f"\nresults: {workdir}/results.md   every run: {runs_file}   wrk output: {workdir}/raw/")
    if broken:
        say("\nbroken runs:\n  " + "\n  ".join(broken))
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
