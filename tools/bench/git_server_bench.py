#!/usr/bin/python3
"""
The git-server benchmark (driven by git_server_bench.sh): one repository
served four ways -- `grove daemon` and `grove serve` on an lmdb store it was
imported into, git 2.39's `git daemon` and `git http-backend` (CGI behind
lighttpd) on a copy of the repository -- and the same client operations
against each: full clone with protocol v0 and v2, clone --depth 1,
clone --filter=blob:none, a fetch of the last 100 commits, a push of 100
new commits.

Every measurement starts a fresh server, so its CPU and peak memory belong
to that one operation:
  wall      the client command, start to exit
  srv cpu   utime+stime+cutime+cstime of the server process (/proc/PID/stat)
            after its children are reaped: grove serves on threads, git
            daemon forks per connection (daemon child -> upload-pack ->
            pack-objects, each waiting for its children) and lighttpd forks
            the CGI, so exited children are folded into the parent's cutime
  srv rss   the larger of two figures: the peak over samples (every 1 ms in
            the first second, then every 10 ms) of the
            sum of VmHWM of the server process and all its live
            descendants (for grove: its VmHWM), and the kernel's peak RSS
            of the largest single process of the server's tree (ru_maxrss
            as GNU time reports it when the stopped server exits), which git
            children living less than a sample interval cannot escape;
            this counts file pages mapped from the store / pack and shared
            libraries, so "(anon)" adds the peak of the summed RssAnon.
            File pages count by folio: a fault maps the whole page-cache
            folio around it (Linux 6.18), so how a file was written (large
            folios from big writes, small ones from a copy) changes the
            figure for the same pages read; both data sets are therefore
            written the same way, by a copy (see prepare, --store-as-imported)
            For requests of a few ms, git's figures remain lower bounds: the
            second figure counts the largest git process, not the sum of
            the processes alive together
Only the Python standard library; run with /usr/bin/python3.
"""
import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def git(*args, cwd=None, env=None, quiet_err=False):
    return run(["git"] + list(args), cwd=cwd, env=env, stdout=subprocess.PIPE,
               stderr=subprocess.DEVNULL if quiet_err else None, text=True).stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# --- /proc ----------------------------------------------------------------

def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        data = f.read()
    rest = data[data.rindex(")") + 2:].split()
    # fields from 3 (state): ppid = rest[1], utime = rest[11] ... cstime = rest[14]
    return int(rest[1]), sum(int(x) for x in rest[11:15])


def children_map():
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid, _ = proc_stat(int(name))
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(name))
    return kids


def direct_children(pid):
    """Children of every thread of pid (/proc/PID/task/TID/children)."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def descendants(pid):
    if not os.path.exists("/proc/self/task/%d/children" % os.getpid()):
        kids = children_map()  # kernels without CONFIG_PROC_CHILDREN
        get = lambda p: kids.get(p, [])
    else:
        get = direct_children
    out, todo = [], list(get(pid))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(get(p))
    return out


def status_kb(pid, field):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def vm_hwm_kb(pid):
    return status_kb(pid, "VmHWM:")


def cpu_seconds(pid):
    return proc_stat(pid)[1] / TICK


class RssSampler(threading.Thread):
    """Peak of the summed VmHWM of a process tree, sampled every 1 ms for
    the first second (git's children for a small request live a few ms),
    then every 10 ms (so a long clone's client keeps its CPU)."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.anon, self.stop = pid, 0, 0, threading.Event()

    def sample(self):
        tree = [self.pid] + descendants(self.pid)
        self.peak = max(self.peak, sum(vm_hwm_kb(p) for p in tree))
        # anonymous memory only (heap, stacks): no shared libraries, no
        # file pages mapped from the store or the pack
        self.anon = max(self.anon, sum(status_kb(p, "RssAnon:") for p in tree))

    def run(self):
        start = time.monotonic()
        while not self.stop.is_set():
            self.sample()
            self.stop.wait(0.001 if time.monotonic() - start < 1.0 else 0.01)


# --- servers --------------------------------------------------------------

class Server:
    """A server started under GNU time, which reports the kernel's peak RSS
    of the largest process of the server's tree when it is reaped.  (Not
    wait4 from here: a process forked from Python keeps Python's own peak
    RSS in that figure, exec or not; time's is a megabyte.)"""

    def __init__(self, name, cmd, port, url, env=None, logpath=None):
        self.name, self.cmd, self.port, self.url = name, cmd, port, url
        self.env, self.logpath, self.proc, self.pid = env, logpath, None, None

    def start(self):
        self.log = open(self.logpath, "ab")
        self.maxrss_path = self.logpath + ".maxrss"
        self.proc = subprocess.Popen(["/usr/bin/time", "-f", "%M", "-o", self.maxrss_path] + self.cmd,
                                     stdout=self.log, stderr=self.log, env=self.env)
        self.pid = None
        for _ in range(400):
            if self.pid is None:
                kids = descendants(self.proc.pid)
                self.pid = kids[0] if kids else None
            try:
                if self.pid is not None:
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited at start, see %s" % (self.name, self.logpath))
            time.sleep(0.025)
        raise RuntimeError("%s did not start" % self.name)

    def quiesce(self, timeout=15):
        """Waits until the server has no children left (all reaped)."""
        end = time.time() + timeout
        while time.time() < end:
            if not descendants(self.pid):
                return True
            time.sleep(0.02)
        return False

    def stop(self):
        """Stops and reaps the server; returns the kernel's peak RSS in KiB
        of the largest process of its tree (itself or a reaped descendant)."""
        os.kill(self.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        try:
            with open(self.maxrss_path) as f:
                return int(f.read().split()[-1])
        except (OSError, ValueError, IndexError):
            return 0


def make_servers(a, tmp):
    user, pw = "bench", "bench-pw"
    htpasswd = os.path.join(tmp, "htpasswd")
    h = run(["openssl", "passwd", "-6", "-salt", "benchsal", pw], stdout=subprocess.PIPE,
            text=True).stdout.strip()
    with open(htpasswd, "w") as f:
        f.write("%s:%s\n" % (user, h))

    p1, p2, p3, p4 = (free_port() for _ in range(4))
    gitbase = os.path.join(tmp, "gitbase")
    conf = os.path.join(tmp, "lighttpd.conf")
    with open(conf, "w") as f:
        f.write("""server.modules = ("mod_alias", "mod_cgi", "mod_setenv")
server.bind = "127.0.0.1"
server.port = %d
server.document-root = "%s"
server.errorlog = "%s/lighttpd.err"
server.max-request-size = 0
server.stream-request-body = 2
server.stream-response-body = 2
alias.url = ("/git/" => "/usr/lib/git-core/git-http-backend/")
$HTTP["url"] =~ "^/git/" {
    cgi.assign = ("" => "")
    setenv.set-environment = ("GIT_PROJECT_ROOT" => "%s", "GIT_HTTP_EXPORT_ALL" => "1")
}
""" % (p4, gitbase, tmp, gitbase))
    logs = os.path.join(tmp, "logs")
    os.makedirs(logs, exist_ok=True)
    return [
        Server("grove daemon", [a.grove, "daemon", "--listen", "127.0.0.1", "--port", str(p1),
                                "--base-path", os.path.join(tmp, "stores"),
                                "--enable-receive-pack"],
               p1, "git://127.0.0.1:%d/repo" % p1, logpath=os.path.join(logs, "grove-daemon.log")),
        Server("git daemon", ["/usr/lib/git-core/git-daemon", "--export-all",
                              "--base-path=" + gitbase, "--listen=127.0.0.1", "--port=%d" % p3,
                              "--reuseaddr", "--enable=receive-pack"],
               p3, "git://127.0.0.1:%d/repo" % p3, logpath=os.path.join(logs, "git-daemon.log")),
        Server("grove serve", [a.grove, "serve", "--listen", "127.0.0.1:%d" % p2,
                               "--stores", os.path.join(tmp, "stores"), "--htpasswd", htpasswd,
                               "--anonymous-read"],
               p2, "http://%s:%s@127.0.0.1:%d/git/repo" % (user, pw, p2),
               logpath=os.path.join(logs, "grove-serve.log")),
        Server("git http-backend", ["/usr/sbin/lighttpd", "-D", "-f", conf],
               p4, "http://127.0.0.1:%d/git/repo" % p4, logpath=os.path.join(logs, "lighttpd.log")),
    ]


# --- data -----------------------------------------------------------------

def push_stream(parent, branch_ref):
    """fast-import input: 100 commits on parent, each editing a few files."""
    out = ["reset %s" % branch_ref, "from %s" % parent]
    text = ["line %d of the benchmark's pushed history" % i for i in range(200)]
    t = 1700000000
    for i in range(100):
        t += 3600
        text[(i * 7) % 200] = "edited in push commit %d" % i
        files = []
        for k in range(3):
            body = "\n".join(text[k * 60:k * 60 + 80 + i]) + "\n"
            files.append("M 100644 inline bench-push/file%d.txt\ndata %d\n%s" % (k, len(body.encode()), body))
        msg = "bench push commit %d\n" % i
        out.append("commit %s\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s%s" % (
            branch_ref, t, len(msg), msg, "\n".join(files)))
    return ("\n".join(out) + "\n").encode()


def prepare(a, tmp):
    # Both servers get the same copy, HEAD pointing at the benchmark branch.
    head_ref = a.branch
    repo = os.path.join(tmp, "gitbase", "repo")
    shutil.copytree(a.repo, repo, symlinks=True)
    run(["git", "--git-dir", repo, "symbolic-ref", "HEAD", head_ref])
    run(["git", "--git-dir", repo, "config", "http.receivepack", "true"])
    env = dict(os.environ, GIT_DIR=repo)
    tip = run(["git", "rev-parse", "HEAD"], env=env, stdout=subprocess.PIPE, text=True).stdout.strip()
    old = run(["git", "rev-parse", "HEAD~100"], env=env, stdout=subprocess.PIPE,
              text=True).stdout.strip()

    t0 = time.time()
    stores = os.path.join(tmp, "stores")
    os.makedirs(stores)
    run([a.grove, "-q", "init", "lmdb:" + os.path.join(stores, "repo")])
    run([a.grove, "-C", "lmdb:" + os.path.join(stores, "repo"), "import", repo],
        stdout=subprocess.DEVNULL)
    import_s = time.time() - t0
    if a.store_copy:
        # The git side serves a copy of the repository (copytree above), so
        # its files sit in the page cache as a copy leaves them: small
        # folios.  LMDB's own page writes during the import leave large
        # folios, and Linux 6.18 maps a whole large folio on a fault, so the
        # same pages touched cost grove several times the resident file
        # memory they cost git.  Copying the store the same way puts both in
        # the same state (--store-as-imported measures it as left).
        store = os.path.join(stores, "repo")
        shutil.copytree(store, store + ".copy")
        shutil.rmtree(store)
        os.rename(store + ".copy", store)

    # fetch: a client holding the branch at HEAD~100 (objects up to there only)
    fetch_tpl = os.path.join(tmp, "fetch-template")
    run(["git", "init", "-q", "--bare", fetch_tpl])
    run(["git", "-C", fetch_tpl, "-c", "protocol.version=2", "fetch", "-q", "--no-tags",
         "file://" + os.path.abspath(repo), "%s:refs/remotes/origin/%s" % (old, head_ref[11:])])
    # push: that client brought to HEAD, plus 100 new commits
    push_cl = os.path.join(tmp, "push-client")
    shutil.copytree(fetch_tpl, push_cl, symlinks=True)
    run(["git", "-C", push_cl, "fetch", "-q", "--no-tags", "file://" + os.path.abspath(repo),
         "%s:refs/heads/base" % head_ref])
    run(["git", "-C", push_cl, "fast-import", "--quiet"],
        input=push_stream(tip, "refs/heads/bench-push"))
    return head_ref, import_s, fetch_tpl, push_cl


# --- operations -----------------------------------------------------------

def op_list(head_ref, fetch_tpl, push_cl):
    branch = head_ref[11:]

    def clone(*flags):
        def go(url, dst):
            return ["git"] + list(flags[:2]) + ["clone", "-q", "--bare"] + list(flags[2:]) + [url, dst]
        return go

    def fetch(url, dst):
        shutil.copytree(fetch_tpl, dst, symlinks=True)
        return ["git", "-C", dst, "fetch", "-q", "--no-tags", url,
                "+%s:refs/remotes/origin/%s" % (head_ref, branch)]

    def push(url, dst):
        return ["git", "-C", push_cl, "push", "-q", url, "bench-push:refs/heads/bench-push"]

    def unpush(url):
        run(["git", "-C", push_cl, "push", "-q", url, "--delete", "refs/heads/bench-push"],
            stderr=subprocess.DEVNULL)

    return [
        ("clone v0", clone("-c", "protocol.version=0"), None),
        ("clone v2", clone("-c", "protocol.version=2"), None),
        ("clone --depth 1", clone("-c", "protocol.version=2", "--depth", "1"), None),
        ("clone --filter=blob:none", clone("-c", "protocol.version=2", "--filter=blob:none"), None),
        ("fetch 100 commits", fetch, None),
        ("push 100 commits", push, unpush),
    ]


def measure(server, cmd_for, after, tmp, tag):
    dst = os.path.join(tmp, "client-" + tag)
    shutil.rmtree(dst, ignore_errors=True)
    server.start()
    try:
        cmd = cmd_for(server.url, dst)
        server.quiesce()
        cpu0 = cpu_seconds(server.pid)
        sampler = RssSampler(server.pid)
        sampler.start()
        t0 = time.monotonic()
        r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall = time.monotonic() - t0
        if r.returncode != 0:
            raise RuntimeError("%s: %s failed: %s" % (server.name, " ".join(cmd),
                                                     r.stderr.decode(errors="replace")[-2000:]))
        if not server.quiesce():
            log("warning: %s still has children after the request" % server.name)
        sampler.stop.set()
        sampler.join()
        sampler.sample()
        cpu = cpu_seconds(server.pid) - cpu0
    finally:
        maxrss = server.stop()
        shutil.rmtree(dst, ignore_errors=True)
    rss = max(sampler.peak, maxrss) / 1024.0
    anon = sampler.anon / 1024.0
    if after:
        # Undone on a server of its own, so its work counts in no figure.
        server.start()
        try:
            after(server.url)
        finally:
            server.stop()
    return wall, cpu, rss, anon


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grove", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--branch", required=True, help="the branch HEAD should name")
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--only", default="", help="comma-separated op name prefixes")
    ap.add_argument("--store-as-imported", dest="store_copy", action="store_false",
                    help="serve the store as the import left it (not a copy like the git side)")
    a = ap.parse_args()
    a.grove = os.path.abspath(a.grove)
    tmp = os.path.abspath(a.tmp)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["HOME"] = tmp
    os.environ["GIT_TERMINAL_PROMPT"] = "0"

    head_ref, import_s, fetch_tpl, push_cl = prepare(a, tmp)
    print("import into lmdb: %.1f s" % import_s)
    print("page cache: %s" % ("grove's store copied like the git repository after the import "
                              "(both files written by the same copy)" if a.store_copy else
                              "grove's store as the import left it (LMDB's writes: large folios), "
                              "the git repository a copy (small folios)"))
    servers = make_servers(a, tmp)
    ops = op_list(head_ref, fetch_tpl, push_cl)
    if a.only:
        want = [w.strip() for w in a.only.split(",")]
        ops = [o for o in ops if any(o[0].startswith(w) for w in want)]

    print("%-26s %-18s %8s %9s %10s %11s" % ("operation", "server", "wall s", "srv cpu s", "srv rss MB",
                                           "(anon MB)"))
    results = {}
    failures = []
    for name, cmd_for, after in ops:
        samples = {s.name: [] for s in servers}
        for rep in range(a.reps):
            # alternate grove and git so load drifts hit both alike
            for s in servers:
                log("  %s / %s (rep %d)" % (name, s.name, rep + 1))
                samples[s.name].append(measure(s, cmd_for, after, tmp, "x"))
        for s in servers:
            xs = samples[s.name]
            m = tuple(statistics.median(x[i] for x in xs) for i in range(4))
            results[(name, s.name)] = m
            print("%-26s %-18s %8.2f %9.2f %10.1f %11.1f" % (name, s.name, m[0], m[1], m[2], m[3]),
                  flush=True)

    print()
    print("ratios grove/git (targets: wall <= 1.2x, push wall <= 1.2x, server cpu <= 1.5x, "
          "server rss < 1.0x)")
    print("%-26s %-22s %8s %9s %9s  %s" % ("operation", "pair", "wall", "srv cpu", "srv rss", "verdict"))
    for name, _, _ in ops:
        for g, o in (("grove daemon", "git daemon"), ("grove serve", "git http-backend")):
            rg, ro = results[(name, g)], results[(name, o)]
            r = [rg[i] / ro[i] if ro[i] > 0 else float("inf") for i in range(3)]
            miss = []
            if r[0] > 1.2:
                miss.append("wall")
            if r[1] > 1.5 and rg[1] - ro[1] > 0.05:  # sub-50 ms differences are noise
                miss.append("cpu")
            if r[2] >= 1.0:
                miss.append("rss")
            verdict = "ok" if not miss else "MISS " + ",".join(miss)
            if miss:
                failures.append("%s (%s)" % (name, g))
            print("%-26s %-22s %7.2fx %8.2fx %8.2fx  %s" % (
                name, g.split()[1] + "/" + o.split()[1], r[0], r[1], r[2], verdict))
    print()
    print("targets met: %d of %d pairs" % (2 * len(ops) - len(failures), 2 * len(ops)))


if __name__ == "__main__":
    main()
