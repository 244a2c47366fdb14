#!/usr/bin/python3
"""Driver and checker for tests/shell/sync_converge.sh (standard library only).

  seed DIR MANIFEST            writes the seeded calendar into the git work
                               tree DIR and its contents into MANIFEST
  drive 1|2 A B AUTH LEDGER    phase 1: 190 edits per server, both servers at
                               once (2 threads each); phase 2: 10 edits per
                               server of the contested events (the remote is
                               down, so both sides change them unseen).  Every
                               acknowledged operation is appended to LEDGER.
  wait A B REMOTE TOKEN SECS   polls until both servers are idle with nothing
                               pending and their heads equal the remote's,
                               posting the webhook meanwhile
  check A B AUTH REMOTE MANIFEST LEDGER
                               the assertions (see check())

Event names: a-*/b-* are made by one server only; sh* (ordered shared: the
designated winner writes last, after a barrier, with the highest version)
and c* (contested: written on both sides while the remote is down, the
winner by the documented rule whatever the order) are edited on both.
"""
import base64
import hashlib
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

COLL = "alice/calendars/work"
DAV = "/dav/" + COLL + "/"
SEEDS = ["seed%02d" % i for i in range(1, 11)]          # never edited
ORDERED = ["sh%02d" % i for i in range(1, 21)]          # sh01-10: A wins, sh11-20: B wins
CONTESTED_SEEDED = ["c1", "c2", "c3", "c5"]             # c4 is created on both sides
CONTESTED = ["c1", "c2", "c3", "c4", "c5"]


def ics(uid, summary, seq=None, stamp="20240101T000000Z", modified=None):
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//grove tests//EN", "BEGIN:VEVENT",
             "UID:" + uid, "DTSTAMP:" + stamp, "DTSTART:20240110T100000Z", "DTEND:20240110T110000Z",
             "SUMMARY:" + summary]
    if seq is not None:
        lines.append("SEQUENCE:%d" % seq)
    if modified:
        lines.append("LAST-MODIFIED:" + modified)
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(lines) + "\r\n").encode()


def blob_id(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


# ---- the version rule (README "When is a write safe?": SEQUENCE, then
# LAST-MODIFIED, then DTSTAMP), for the events this test writes ----------

def version(data):
    text = data.decode()
    def field(name):
        m = re.search(r"^" + name + r":(.*?)\r?$", text, re.M)
        return m.group(1) if m else None
    seq = field("SEQUENCE")
    return (int(seq) if seq is not None else -1, field("LAST-MODIFIED") or "", field("DTSTAMP") or "")


def beats(x, y):
    """True when version x wins over y by the rule (bytes only on a full tie)."""
    vx, vy = version(x), version(y)
    return vx > vy if vx != vy else x > y


# ---- seed ------------------------------------------------------------------

def seed(workdir, manifest):
    d = os.path.join(workdir, COLL)
    os.makedirs(d)
    with open(os.path.join(d, ".props"), "w") as f:
        f.write("# grove collection properties\ntype: calendar\n")
    files = {}
    for uid in SEEDS + ORDERED + CONTESTED_SEEDED:
        files[uid] = ics(uid, "seed " + uid, seq=0)
    for uid, data in files.items():
        with open(os.path.join(d, uid + ".ics"), "wb") as f:
            f.write(data)
    with open(manifest, "w") as f:
        json.dump({COLL + "/" + u + ".ics": v.decode() for u, v in files.items()}, f)


# ---- HTTP ------------------------------------------------------------------

class Client:
    def __init__(self, base, auth=None, token=None):
        self.base = base
        self.headers = {}
        if auth:
            self.headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
        if token:
            self.headers["X-Grove-Token"] = token

    def request(self, method, path, body=None, ctype=None):
        h = dict(self.headers)
        if ctype:
            h["Content-Type"] = ctype
        req = urllib.request.Request(self.base + path, data=body, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()
        except (urllib.error.URLError, OSError) as e:
            return 0, {}, str(e).encode()   # no answer: status 0, the reason as body


# ---- drive -----------------------------------------------------------------

def plan_phase1(server):
    """Per stage, per thread: op lists (per-UID order kept).  An op is
    (method, uid, body or None, note)."""
    me, other = server, "b" if server == "a" else "a"
    stage = [{}, {}]   # uid -> [ops]
    def add(st, uid, op):
        stage[st].setdefault(uid, []).append(op)
    for i in range(1, 101):                    # created once
        uid = "%s-u%03d" % (me, i)
        add(0 if i <= 60 else 1, uid, ("PUT", uid, ics(uid, "%s made %s" % (me, uid)), "create"))
    for i in range(1, 21):                     # created, then edited
        uid = "%s-e%02d" % (me, i)
        add(0, uid, ("PUT", uid, ics(uid, "%s made %s" % (me, uid)), "create"))
        add(1, uid, ("PUT", uid, ics(uid, "%s edited %s" % (me, uid), seq=1), "edit"))
    for i in range(1, 6):                      # created, then deleted
        uid = "%s-d%02d" % (me, i)
        add(0, uid, ("PUT", uid, ics(uid, "%s made %s" % (me, uid)), "create"))
        add(1, uid, ("DELETE", uid, None, "delete"))
    for n, uid in enumerate(ORDERED, 1):
        winner = "a" if n <= 10 else "b"
        tie = {9: "modified", 10: "modified", 19: "stamp", 20: "stamp"}.get(n)
        if me == winner:
            # One early edit, then after the barrier the final version:
            # above every other version of this UID by the rule.
            add(0, uid, ("PUT", uid, ics(uid, "%s early %s" % (me, uid), seq=1), "early"))
            if tie == "modified":
                body = ics(uid, "%s final %s" % (me, uid), seq=3, modified="20240301T000000Z")
            elif tie == "stamp":
                body = ics(uid, "%s final %s" % (me, uid), seq=3, stamp="20240301T000000Z")
            else:
                body = ics(uid, "%s final %s" % (me, uid), seq=10)
            add(1, uid, ("PUT", uid, body, "final"))
        else:
            # Two edits before the barrier, both below the winner's final.
            add(0, uid, ("PUT", uid, ics(uid, "%s first %s" % (me, uid), seq=2), "loser"))
            if tie == "modified":
                body = ics(uid, "%s second %s" % (me, uid), seq=3, modified="20240201T000000Z")
            elif tie == "stamp":
                body = ics(uid, "%s second %s" % (me, uid), seq=3, stamp="20240201T000000Z")
            else:
                body = ics(uid, "%s second %s" % (me, uid), seq=3)
            add(0, uid, ("PUT", uid, body, "loser"))
    return stage


def plan_phase2(server):
    """The contested events: both servers write them while the remote is
    down.  c1: A higher SEQUENCE; c2: B higher SEQUENCE; c3: equal SEQUENCE,
    A newer LAST-MODIFIED; c4: made on both sides, equal SEQUENCE, B newer
    DTSTAMP; c5: A edits, B edits then deletes (the modification is kept)."""
    a = server == "a"
    me = server
    ops = {}
    def put(uid, n, **kw):
        ops.setdefault(uid, []).append(("PUT", uid, ics(uid, "%s contested %s v%d" % (me, uid, n), **kw), "contested"))
    put("c1", 1, seq=5 if a else 2); put("c1", 2, seq=6 if a else 3)
    put("c2", 1, seq=2 if a else 5); put("c2", 2, seq=3 if a else 6)
    put("c3", 1, seq=1); put("c3", 2, seq=4, modified="20240301T000000Z" if a else "20240201T000000Z")
    put("c4", 1, seq=1); put("c4", 2, seq=2, stamp="20240201T000000Z" if a else "20240301T000000Z")
    put("c5", 1, seq=1)
    if a:
        put("c5", 2, seq=2)
    else:
        ops["c5"].append(("DELETE", "c5", None, "contested"))
    return ops


def interleave(per_uid, rng):
    """One sequence of all ops, per-UID order kept, UIDs shuffled."""
    tokens = [u for u, l in per_uid.items() for _ in l]
    rng.shuffle(tokens)
    pos = {u: 0 for u in per_uid}
    out = []
    for u in tokens:
        out.append(per_uid[u][pos[u]])
        pos[u] += 1
    return out


def drive(phase, base_a, base_b, auth, ledger_path):
    bases = {"a": base_a, "b": base_b}
    threads_per_server = 2 if phase == 1 else 1
    work = []   # (server, thread no, [stage ops...])
    for server in ("a", "b"):
        rng = random.Random("%s-%d" % (server, phase))
        stages = plan_phase1(server) if phase == 1 else [plan_phase2(server)]
        for t in range(threads_per_server):
            mine = []
            for st in stages:
                part = {u: l for u, l in sorted(st.items())
                        if int(hashlib.md5(u.encode()).hexdigest(), 16) % threads_per_server == t}
                mine.append(interleave(part, rng))
            work.append((server, t, mine))
    nstages = len(work[0][2])
    barrier = threading.Barrier(len(work))
    ledger, lock, errors = [], threading.Lock(), []

    def run(server, t, stages):
        c = Client(bases[server], auth=auth)
        n = 0
        for st, ops in enumerate(stages):
            for method, uid, body, note in ops:
                path = DAV + uid + ".ics"
                t0 = time.time()
                status, headers, _ = c.request(method, path, body, "text/calendar" if body else None)
                e = {"phase": phase, "server": server, "thread": t, "n": n, "stage": st, "method": method,
                     "uid": uid, "path": COLL + "/" + uid + ".ics", "note": note, "status": status,
                     "time": t0, "ms": round((time.time() - t0) * 1000, 1)}
                n += 1
                if body is not None:
                    e["body"] = body.decode()
                    e["blob"] = blob_id(body)
                    e["etag"] = headers.get("ETag", "")
                    e["sequence"], e["modified"], e["stamp"] = version(body)
                    e["marker"] = re.search(r"SUMMARY:(.*?)\r", e["body"]).group(1)
                ok = status in ((201, 204) if method == "PUT" else (204, 200))
                with lock:
                    if ok:
                        ledger.append(e)
                    else:
                        errors.append(e)
            if st + 1 < nstages:
                barrier.wait(timeout=120)

    # The stores' sync state while the edits run (token from the
    # environment): what the pushes and merges did, and any error.
    token = os.environ.get("GROVE_HOOK_TOKEN")
    done = threading.Event()
    seen = {"a": {}, "b": {}}
    def sample():
        cs = {s: Client(bases[s], token=token) for s in bases}
        while not done.is_set():
            for s, c in cs.items():
                status, _, body = c.request("GET", "/hooks/sync")
                if status == 200:
                    st = json.loads(body)
                    seen[s]["last"] = st
                    if st.get("last_error"):
                        seen[s].setdefault("errors", set()).add(st["last_error"])
            done.wait(0.1)
    ths = [threading.Thread(target=run, args=w) for w in work]
    t0 = time.time()
    sampler = threading.Thread(target=sample) if token else None
    if sampler:
        sampler.start()
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    elapsed = time.time() - t0
    done.set()
    if sampler:
        sampler.join()
        for s in ("a", "b"):
            st = seen[s].get("last", {})
            print("  store %s at the end: %s, pushes %s merges %s failures %s backlog %s%s" % (
                s.upper(), st.get("state"), st.get("pushes"), st.get("merges"), st.get("failures"),
                st.get("backlog"), "".join("\n    error seen: " + e for e in sorted(seen[s].get("errors", ())))))
    old = []
    if os.path.exists(ledger_path):
        with open(ledger_path) as f:
            old = json.load(f)
    with open(ledger_path, "w") as f:
        json.dump(old + ledger, f, indent=0)
    per = {s: sum(1 for e in ledger if e["server"] == s) for s in ("a", "b")}
    ms = sorted(e["ms"] for e in ledger)
    print("phase %d: %d ops acknowledged (A %d, B %d) in %.1f s, latency p50 %.0f ms max %.0f ms"
          % (phase, len(ledger), per["a"], per["b"], elapsed, ms[len(ms) // 2] if ms else 0, ms[-1] if ms else 0))
    if errors:
        for e in errors[:10]:
            print("  not acknowledged: %s %s on %s -> %s" % (e["method"], e["uid"], e["server"], e["status"]),
                  file=sys.stderr)
        fail("%d operations were not acknowledged (no retry: blind PUT/DELETE never needs one)" % len(errors))
    bad = [e for e in ledger if "blob" in e and e["etag"].strip('"') != e["blob"]]
    if bad:
        fail("ETag is not the blob of the bytes PUT for %s" % ", ".join(e["uid"] for e in bad[:5]))


# ---- wait ------------------------------------------------------------------

def git(remote, *args):
    return subprocess.run(["git", "-C", remote] + list(args), check=True, capture_output=True).stdout


def wait(base_a, base_b, remote, token, secs):
    clients = {"A": Client(base_a, token=token), "B": Client(base_b, token=token)}
    deadline = time.time() + secs
    t0 = time.time()
    last_hook = 0
    states = {}
    while True:
        head = git(remote, "rev-parse", "main").decode().strip()
        for name, c in clients.items():
            status, _, body = c.request("GET", "/hooks/sync")
            states[name] = json.loads(body) if status == 200 else {"http": status}
        if all(s.get("state") == "idle" and s.get("backlog") == 0 and s.get("local") == head
               and s.get("pushed") == head for s in states.values()):
            print("converged in %.1f s on %s; A: pushes %d fetches %d merges %d failures %d; "
                  "B: pushes %d fetches %d merges %d failures %d" % (
                      time.time() - t0, head[:12],
                      *(states["A"][k] for k in ("pushes", "fetches", "merges", "failures")),
                      *(states["B"][k] for k in ("pushes", "fetches", "merges", "failures"))))
            return
        if time.time() > deadline:
            fail("no convergence within %d s: remote main %s\n  A %s\n  B %s" % (
                secs, head, json.dumps(states["A"]), json.dumps(states["B"])))
        if time.time() - last_hook > 0.5:
            for c in clients.values():
                c.request("POST", "/hooks/sync")
            last_hook = time.time()
        time.sleep(0.1)


# ---- check -----------------------------------------------------------------

def expected_state(manifest, ledger):
    """path -> bytes: what the remote must hold after convergence; also
    returns the contested losers (path -> blob that must be named)."""
    exp = {p: v.encode() for p, v in manifest.items()}
    losers = {}
    by_uid = {}
    for e in sorted(ledger, key=lambda e: (e["phase"], e["server"], e["thread"], e["n"])):
        by_uid.setdefault(e["uid"], []).append(e)
    for uid, ops in by_uid.items():
        path = COLL + "/" + uid + ".ics"
        if uid.startswith(("a-", "b-")):
            last = ops[-1]    # one server, one thread: this is the order they ran in
            if last["method"] == "DELETE":
                exp.pop(path, None)
            else:
                exp[path] = last["body"].encode()
        elif uid in ORDERED:
            finals = [e for e in ops if e["note"] == "final"]
            if len(finals) != 1:
                fail("%s: %d final versions in the ledger" % (uid, len(finals)))
            win = finals[0]["body"].encode()
            for e in ops:
                if e is not finals[0] and not beats(win, e["body"].encode()):
                    fail("test data: %s's final version does not beat %s's %s" % (uid, e["server"], e["note"]))
            exp[path] = win
        elif uid in CONTESTED:
            last = {}
            for e in ops:
                last[e["server"]] = e
            a, b = last["a"], last["b"]
            if a["method"] == "DELETE" or b["method"] == "DELETE":
                kept = b if a["method"] == "DELETE" else a
                exp[path] = kept["body"].encode()
            else:
                ab, bb = a["body"].encode(), b["body"].encode()
                exp[path], lose = (ab, bb) if beats(ab, bb) else (bb, ab)
                losers[path] = blob_id(lose)
        else:
            fail("unknown UID %s in the ledger" % uid)
    return exp, losers


def check(base_a, base_b, auth, remote, manifest_path, ledger_path):
    with open(manifest_path) as f:
        manifest = json.load(f)
    with open(ledger_path) as f:
        ledger = json.load(f)
    per = {s: sum(1 for e in ledger if e["server"] == s) for s in ("a", "b")}
    if per != {"a": 200, "b": 200}:
        fail("the ledger holds %s acknowledged edits, not 200 per server" % per)
    exp, losers = expected_state(manifest, ledger)
    head = git(remote, "rev-parse", "main").decode().strip()

    # The remote's tree: exactly the expected events, byte for byte.
    tree = {}
    for line in git(remote, "ls-tree", "-r", "main", COLL + "/").decode().splitlines():
        meta, path = line.split("\t", 1)
        if path.endswith(".ics"):
            tree[path] = meta.split()[2]
    missing = sorted(set(exp) - set(tree))
    extra = sorted(set(tree) - set(exp))
    if missing or extra:
        fail("remote tree: %d .ics, expected %d; missing %s; unexpected %s" % (
            len(tree), len(exp), missing[:8], extra[:8]))
    wrong = [p for p in exp if tree[p] != blob_id(exp[p])]
    if wrong:
        details = []
        for p in wrong[:6]:
            got = git(remote, "cat-file", "blob", tree[p]).decode()
            details.append("%s: has '%s', expected '%s'" % (
                p, re.search(r"SUMMARY:(.*?)\r", got).group(1), re.search(r"SUMMARY:(.*?)\r", exp[p].decode()).group(1)))
        fail("%d events hold the wrong version on the remote:\n  %s" % (len(wrong), "\n  ".join(details)))

    # Every acknowledged PUT is in the remote's history.
    reachable = set(l.split()[0] for l in git(remote, "rev-list", "--objects", "main").decode().splitlines())
    lost = [e for e in ledger if "blob" in e and e["blob"] not in reachable]
    if lost:
        fail("%d acknowledged PUTs are not in the remote's history: %s" % (
            len(lost), ", ".join("%s %s %s" % (e["server"], e["uid"], e["note"]) for e in lost[:8])))

    # Every decision a merge commit names: the other blob exists, and the
    # version kept beats it by the rule.
    log = git(remote, "log", "--merges", "--format=%x00%H%n%B", "main").decode()
    decisions = 0
    named = {}
    mod_del = set()
    for chunk in log.split("\0")[1:]:
        commit, _, msg = chunk.partition("\n")
        for m in re.finditer(r"^(\S+): UID (\S+) changed on both sides: (ours|theirs) kept \(([^)]*)\), "
                             r"the other version is blob ([0-9a-f]{40})$", msg, re.M):
            path, uid, side, why, other = m.groups()
            decisions += 1
            named.setdefault(path, set()).add(other)
            if subprocess.run(["git", "-C", remote, "cat-file", "-e", other]).returncode:
                fail("merge %s names blob %s for %s, which the remote lacks" % (commit[:12], other, path))
            kept = git(remote, "cat-file", "blob", "%s:%s" % (commit, path))
            if not beats(kept, git(remote, "cat-file", "blob", other)):
                fail("merge %s kept a version of %s that loses by the rule (%s): kept %s, other %s" % (
                    commit[:12], path, why, version(kept), version(git(remote, "cat-file", "blob", other))))
        for m in re.finditer(r"^(\S+): modified on (ours|theirs), deleted on (ours|theirs): the modification is kept$",
                             msg, re.M):
            mod_del.add(m.group(1))
    for path, blob in losers.items():
        if blob not in named.get(path, ()):
            fail("no merge commit names the losing version %s of %s (named: %s)" % (
                blob, path, sorted(named.get(path, ()))))
    if COLL + "/c5.ics" not in mod_del:
        fail("no merge commit says c5.ics was modified on one side, deleted on the other")

    # Both servers serve exactly that (both asked at once).
    deleted = set(e["path"] for e in ledger if e["method"] == "DELETE") - set(exp)
    problems = []
    def serves(name, base):
        c = Client(base, auth=auth)
        for p, data in exp.items():
            status, _, body = c.request("GET", "/dav/" + p)
            if status != 200 or body != data:
                problems.append("%s serves %s as %s %r, expected the remote's version" % (name, p, status, body[:200]))
                return
        for p in deleted:
            status, _, _ = c.request("GET", "/dav/" + p)
            if status != 404:
                problems.append("%s: deleted %s answers %s" % (name, p, status))
                return
    ths = [threading.Thread(target=serves, args=a) for a in (("A", base_a), ("B", base_b))]
    for th in ths:
        th.start()
    for th in ths:
        th.join()
    if problems:
        fail("\n  ".join(problems))
    print("checked: remote %s holds %d events (%d deleted, %d contested losers named), %d merge decisions "
          "all by the rule, %d acknowledged edits all in history; A and B serve the same" % (
              head[:12], len(exp), len(deleted), len(losers), decisions, len(ledger)))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "seed":
        seed(*args)
    elif cmd == "drive":
        drive(int(args[0]), *args[1:])
    elif cmd == "wait":
        wait(args[0], args[1], args[2], args[3], int(args[4]))
    elif cmd == "check":
        check(*args)
    else:
        fail("unknown command " + cmd)


if __name__ == "__main__":
    main()
