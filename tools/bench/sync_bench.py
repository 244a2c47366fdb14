#!/usr/bin/python3
"""
The sync benchmark (driven by sync_bench.sh).  One `git daemon` (git 2.39,
receive-pack enabled) serves a copy of the git-server benchmark's
repository; against it, in one run:

  transfer  grove's `grove clone URL lmdb:DIR`, `grove fetch` of 100 new
            commits and `grove push` of 100 new commits, and git's
            `git clone --bare`, `git fetch`, `git push` of the same
            commits; wall time of the client command (median of --reps,
            grove and git alternating), ratio grove/git, target <= 1.3x.
            fetch: both clients are clones made while the server's branch
            stood 100 commits back; the branch is then moved to its tip.
            push: the same 100 commits (fast-import onto the tip, as in
            git_server_bench.py) to a new branch, deleted on the server
            between runs; grove gets them from a file:// remote first.
            Each timed fetch/push starts from a fresh copy of the client's
            repository or store, flushed to disk (os.sync) before timing.
  latency   `grove serve --upstream git://.../cal.git --push-delay-ms 200`
            with a DAV calendar; a client (http.client, one keep-alive
            connection, bodies made beforehand) PUTs --rate events a
            second for --seconds; a thread polls the served repository's
            ref file (every 2 ms) and, when it moves, maps the new commits
            to PUTs by their subjects ("PUT /dav/.../evN.ics").  Latency
            of a PUT = the ref change that carried its commit - the PUT's
            response.  p50 and p99, target p99 < 1 s.
Only the Python standard library; run with /usr/bin/python3.
"""
import argparse
import base64
import http.client
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def out(cmd, **kw):
    return run(cmd, stdout=subprocess.PIPE, text=True, **kw).stdout.strip()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_port(port, proc, what):
    for _ in range(400):
        if proc.poll() is not None:
            raise RuntimeError("%s exited at start" % what)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.025)
    raise RuntimeError("%s does not listen on %d" % (what, port))


def timed(cmd):
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(cmd), r.returncode,
                                                  r.stderr.decode(errors="replace")[-2000:]))
    return wall


def push_stream(parent, branch_ref):
    """fast-import input: 100 commits on parent, each editing a few files
    (the same commits as git_server_bench.py's push)."""
    lines = ["reset %s" % branch_ref, "from %s" % parent]
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
        lines.append("commit %s\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n%s%s" % (
            branch_ref, t, len(msg), msg, "\n".join(files)))
    return ("\n".join(lines) + "\n").encode()


def copy_store(src, dst):
    """A fresh copy of a client's repository or store before a timed run.
    The copy is flushed to disk first: otherwise the first fsync of the
    timed command (grove's LMDB commit syncs its whole data file) pays for
    writing back the harness's copy, which no real client would."""
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst, symlinks=True)
    os.sync()


# --- transfer -------------------------------------------------------------

def transfer(a, tmp, base, url, repo, head_ref):
    grove = a.grove
    tip = out(["git", "--git-dir", repo, "rev-parse", head_ref])
    old = out(["git", "--git-dir", repo, "rev-parse", head_ref + "~100"])
    branch = head_ref[len("refs/heads/"):]

    # The push client: the repository plus 100 commits on bench-push.
    push_cl = os.path.join(tmp, "push-client.git")
    shutil.copytree(repo, push_cl, symlinks=True)
    run(["git", "-C", push_cl, "fast-import", "--quiet"], input=push_stream(tip, "refs/heads/bench-push"))

    # Fetch templates: clones of the branch 100 commits back.
    log("  fetch templates (server at %s~100)" % branch)
    run(["git", "--git-dir", repo, "update-ref", head_ref, old])
    tpl_git = os.path.join(tmp, "tpl-fetch.git")
    tpl_grove = os.path.join(tmp, "tpl-fetch.grove")
    run(["git", "clone", "-q", "--bare", url, tpl_git])
    run([grove, "-q", "clone", url, "lmdb:" + tpl_grove])
    run(["git", "--git-dir", repo, "update-ref", head_ref, tip])

    res = {}
    scratch_git = os.path.join(tmp, "c-git.git")
    scratch_grove = os.path.join(tmp, "c-grove")
    push_grove = os.path.join(tmp, "tpl-push.grove")

    samples = {"git": [], "grove": []}
    for rep in range(a.reps):
        log("  clone (rep %d)" % (rep + 1))
        shutil.rmtree(scratch_git, ignore_errors=True)
        samples["git"].append(timed(["git", "clone", "-q", "--bare", url, scratch_git]))
        shutil.rmtree(scratch_grove, ignore_errors=True)
        samples["grove"].append(timed([grove, "-q", "clone", url, "lmdb:" + scratch_grove]))
    res["clone (%s commits)" % a.commits] = samples
    got = out([grove, "-C", "lmdb:" + scratch_grove, "log", "-n1"]).split("\n")[0].split()[-1]
    if got != tip:
        raise RuntimeError("grove clone has %s, the server %s" % (got, tip))
    # The push template: the full clone plus the 100 commits from a file:// remote.
    shutil.move(scratch_grove, push_grove)
    run([grove, "-q", "-C", "lmdb:" + push_grove, "remote", "add", "local", "file://" + push_cl])
    run([grove, "-q", "-C", "lmdb:" + push_grove, "fetch", "local"])

    samples = {"git": [], "grove": []}
    for rep in range(a.reps):
        log("  fetch (rep %d)" % (rep + 1))
        copy_store(tpl_git, scratch_git)
        samples["git"].append(timed(["git", "-C", scratch_git, "fetch", "-q", "origin",
                                     "+refs/heads/*:refs/remotes/origin/*"]))
        copy_store(tpl_grove, scratch_grove)
        samples["grove"].append(timed([grove, "-q", "-C", "lmdb:" + scratch_grove, "fetch"]))
    res["fetch 100 commits"] = samples
    got = out([grove, "-C", "lmdb:" + scratch_grove, "log", "-n1", "refs/remotes/origin/" + branch])
    if tip not in got:
        raise RuntimeError("grove fetch did not bring %s: %s" % (tip, got[:200]))

    pushed = out(["git", "--git-dir", push_cl, "rev-parse", "refs/heads/bench-push"])
    samples = {"git": [], "grove": []}
    for rep in range(a.reps):
        log("  push (rep %d)" % (rep + 1))
        samples["git"].append(timed(["git", "-C", push_cl, "push", "-q", url,
                                     "bench-push:refs/heads/bench-push"]))
        if out(["git", "--git-dir", repo, "rev-parse", "refs/heads/bench-push"]) != pushed:
            raise RuntimeError("git push did not land")
        run(["git", "--git-dir", repo, "update-ref", "-d", "refs/heads/bench-push"])
        copy_store(push_grove, scratch_grove)
        samples["grove"].append(timed([grove, "-q", "-C", "lmdb:" + scratch_grove, "push", "origin",
                                       "refs/remotes/local/bench-push:refs/heads/bench-push"]))
        if out(["git", "--git-dir", repo, "rev-parse", "refs/heads/bench-push"]) != pushed:
            raise RuntimeError("grove push did not land the same commits")
        run(["git", "--git-dir", repo, "update-ref", "-d", "refs/heads/bench-push"])
    res["push 100 commits"] = samples
    shutil.rmtree(scratch_grove, ignore_errors=True)
    shutil.rmtree(scratch_git, ignore_errors=True)

    print("%-24s %9s %9s %7s  %s" % ("operation", "git s", "grove s", "ratio", "verdict (target <= 1.3x)"))
    misses = []
    for name, s in res.items():
        g, o = statistics.median(s["grove"]), statistics.median(s["git"])
        r = g / o if o > 0 else float("inf")
        ok = r <= 1.3
        if not ok:
            misses.append(name)
        print("%-24s %9.2f %9.2f %6.2fx  %s" % (name, o, g, r, "ok" if ok else "MISS"), flush=True)
    return misses


# --- latency --------------------------------------------------------------

ICS = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//grove sync bench//EN\r\nBEGIN:VEVENT\r\n"
       "UID:ev%d-sync-bench\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240110T100000Z\r\n"
       "DTEND:20240110T110000Z\r\nSUMMARY:sync bench event %d\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def read_ref(gitdir, ref):
    try:
        with open(os.path.join(gitdir, ref)) as f:
            return f.read().strip()
    except OSError:
        pass
    try:
        with open(os.path.join(gitdir, "packed-refs")) as f:
            for line in f:
                p = line.split()
                if len(p) == 2 and p[1] == ref:
                    return p[0]
    except OSError:
        pass
    return None


class RefWatch(threading.Thread):
    """Polls a ref file; maps every commit that arrives to its PUT number."""

    def __init__(self, gitdir, ref, start_head):
        super().__init__(daemon=True)
        self.gitdir, self.ref, self.head = gitdir, ref, start_head
        self.arrived = {}   # PUT number -> monotonic time of the ref change
        self.changes = 0
        self.stop = threading.Event()

    def run(self):
        pat = re.compile(r"^PUT \S*/ev(\d+)\.ics$")
        while not self.stop.is_set():
            h = read_ref(self.gitdir, self.ref)
            if h and h != self.head:
                t = time.monotonic()
                rng = h if not self.head else "%s..%s" % (self.head, h)
                subjects = out(["git", "--git-dir", self.gitdir, "log", "--format=%s", rng])
                for s in subjects.splitlines():
                    m = pat.match(s)
                    if m:
                        self.arrived.setdefault(int(m.group(1)), t)
                self.head = h
                self.changes += 1
                continue
            time.sleep(0.002)


def latency(a, tmp, base, port):
    grove = a.grove
    cal = os.path.join(base, "cal.git")
    run(["git", "init", "-q", "--bare", cal])
    htpasswd = os.path.join(tmp, "htpasswd")
    run([grove, "-q", "user", "--htpasswd", htpasswd, "add", "alice", "--password-stdin"],
        input=b"bench-pw\n")
    logf = open(os.path.join(tmp, "serve.log"), "w+")
    srv = subprocess.Popen([grove, "serve", "--store", "lmdb:" + os.path.join(tmp, "cal-store"),
                            "--htpasswd", htpasswd, "--listen", "127.0.0.1:0",
                            "--upstream", "git://127.0.0.1:%d/cal.git" % port,
                            "--push-delay-ms", str(a.push_delay_ms)], stderr=logf)
    try:
        sport = None
        for _ in range(400):
            logf.seek(0)
            m = re.search(r"listening on .* port (\d+)", logf.read())
            if m:
                sport = int(m.group(1))
                break
            if srv.poll() is not None:
                raise RuntimeError("grove serve exited at start")
            time.sleep(0.025)
        if not sport:
            raise RuntimeError("grove serve did not start")
        auth = "Basic " + base64.b64encode(b"alice:bench-pw").decode()
        conn = http.client.HTTPConnection("127.0.0.1", sport, timeout=30)
        coll = "/dav/alice/calendars/bench/"
        conn.request("MKCALENDAR", coll, headers={"Authorization": auth})
        r = conn.getresponse()
        r.read()
        if r.status != 201:
            raise RuntimeError("MKCALENDAR: %d" % r.status)
        # The remote's branch appears with the first push (of the MKCALENDAR).
        ref = None
        for _ in range(500):
            heads = os.path.join(cal, "refs", "heads")
            # (receive-pack's "main.lock" may be there for a moment)
            names = [n for n in os.listdir(heads) if not n.endswith(".lock")] if os.path.isdir(heads) else []
            if names:
                ref = "refs/heads/" + names[0]
                break
            time.sleep(0.01)
        if not ref:
            raise RuntimeError("the MKCALENDAR never reached the remote")
        time.sleep(a.push_delay_ms / 1000.0 + 0.3)
        watch = RefWatch(cal, ref, read_ref(cal, ref))
        watch.start()

        n = int(a.rate * a.seconds)
        bodies = [(ICS % (i, i)).encode() for i in range(n)]
        hdrs = {"Authorization": auth, "Content-Type": "text/calendar"}
        resp_at = [0.0] * n
        req_s = []
        t0 = time.monotonic()
        for i in range(n):
            due = t0 + i / a.rate
            d = due - time.monotonic()
            if d > 0:
                time.sleep(d)
            s = time.monotonic()
            conn.request("PUT", "%sev%d.ics" % (coll, i), body=bodies[i], headers=hdrs)
            r = conn.getresponse()
            r.read()
            resp_at[i] = time.monotonic()
            req_s.append(resp_at[i] - s)
            if r.status != 201:
                raise RuntimeError("PUT ev%d: %d" % (i, r.status))
        elapsed = time.monotonic() - t0
        deadline = time.monotonic() + 30
        while len(watch.arrived) < n and time.monotonic() < deadline:
            time.sleep(0.05)
        watch.stop.set()
        watch.join()
        conn.close()

        lat = sorted(watch.arrived[i] - resp_at[i] for i in range(n) if i in watch.arrived)
        missing = n - len(lat)
        commits = out(["git", "--git-dir", cal, "rev-list", "--count", ref])

        def pct(xs, p):
            return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")
        req_s.sort()
        print("PUTs: %d in %.1f s (%.1f/s offered %g/s), PUT response p50 %.1f ms, p99 %.1f ms" % (
            n, elapsed, n / elapsed, a.rate, pct(req_s, 50) * 1000, pct(req_s, 99) * 1000))
        print("remote: %s commits on %s, %d ref updates seen (pushes)" % (commits, ref, watch.changes))
        print("PUT response -> commit on the remote (push delay %d ms): p50 %.0f ms, p99 %.0f ms, "
              "max %.0f ms%s" % (a.push_delay_ms, pct(lat, 50) * 1000, pct(lat, 99) * 1000,
                                 (lat[-1] if lat else float("nan")) * 1000,
                                 ", %d never arrived" % missing if missing else ""))
        ok = not missing and pct(lat, 99) < 1.0
        print("verdict (target p99 < 1 s): %s" % ("ok" if ok else "MISS"), flush=True)
        return [] if ok else ["sync latency"]
    finally:
        srv.terminate()
        try:
            srv.wait(timeout=20)
        except subprocess.TimeoutExpired:
            srv.kill()
            srv.wait()
        logf.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--grove", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--branch", required=True, help="the branch HEAD should name")
    ap.add_argument("--commits", default="?")
    ap.add_argument("--tmp", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--rate", type=float, default=50)
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--push-delay-ms", type=int, default=200)
    ap.add_argument("--only", default="", help="transfer or latency (default both)")
    a = ap.parse_args()
    a.grove = os.path.abspath(a.grove)
    tmp = os.path.abspath(a.tmp)
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["HOME"] = tmp
    os.environ["GIT_TERMINAL_PROMPT"] = "0"
    for k in ("GROVE_REMOTE_USER", "GROVE_REMOTE_PASSWORD", "GROVE_REMOTE_TOKEN"):
        os.environ.pop(k, None)
    os.environ.setdefault("GROVE_AUTHOR_NAME", "Bench")
    os.environ.setdefault("GROVE_AUTHOR_EMAIL", "bench@example.com")

    base = os.path.join(tmp, "gitbase")
    repo = os.path.join(base, "repo")
    shutil.copytree(a.repo, repo, symlinks=True)
    run(["git", "--git-dir", repo, "symbolic-ref", "HEAD", a.branch])

    port = free_port()
    dlog = open(os.path.join(tmp, "git-daemon.log"), "w")
    gitd = subprocess.Popen(["/usr/lib/git-core/git-daemon", "--export-all", "--base-path=" + base,
                             "--listen=127.0.0.1", "--port=%d" % port, "--reuseaddr",
                             "--enable=receive-pack"], stderr=dlog)
    misses = []
    try:
        wait_port(port, gitd, "git daemon")
        if a.only in ("", "transfer"):
            misses += transfer(a, tmp, base, "git://127.0.0.1:%d/repo" % port, repo, a.branch)
            print()
        if a.only in ("", "latency"):
            misses += latency(a, tmp, base, port)
    finally:
        gitd.terminate()
        gitd.wait()
        dlog.close()
    if misses:
        print("\ntargets missed: " + ", ".join(misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
