#!/usr/bin/python3
"""dulwich (python3-dulwich, Debian's /usr/bin/python3) as a git client of
grove's servers, for tests/shell/git_clients_dulwich.sh.

  dulwich_client.py clone URL DIR      clone, print HEAD and the refs
  dulwich_client.py fetch DIR          fetch origin, print the refs
  dulwich_client.py push DIR REF [--diverge] [--force]
      commit a new file on top of HEAD (--diverge: on HEAD's parent), push it
      to REF on origin; print "ok REF ID" or "ng REF REASON"

Refs are printed as "ID NAME" lines, sorted, origin's branches named
refs/heads/X so that they compare with the server's own listing; HEAD as
"HEAD ID TARGET".  Credentials for HTTP come from $DULWICH_USER and
$DULWICH_PASS.  Errors go to stderr with exit status 1.
"""
import io
import os
import sys
import time

from dulwich import porcelain
from dulwich.objects import Blob, Commit, Tree
from dulwich.repo import Repo


def auth():
    user = os.environ.get("DULWICH_USER")
    if not user:
        return {}
    return {"username": user, "password": os.environ.get("DULWICH_PASS", "")}


def print_refs(repo):
    lines = []
    for name, sha in repo.get_refs().items():
        name = name.decode()
        if name.startswith("refs/remotes/origin/"):
            branch = name[len("refs/remotes/origin/"):]
            if branch == "HEAD":
                continue
            name = "refs/heads/" + branch
        elif not name.startswith("refs/tags/"):
            continue
        lines.append("%s %s" % (sha.decode(), name))
    for line in sorted(lines):
        print(line)


def cmd_clone(url, path):
    repo = porcelain.clone(url, path, errstream=io.BytesIO(), **auth())
    chain, sha = repo.refs.follow(b"HEAD")
    print("HEAD %s %s" % (sha.decode(), chain[-1].decode()))
    print_refs(repo)


def cmd_fetch(path):
    repo = Repo(path)
    porcelain.fetch(repo, "origin", errstream=io.BytesIO(), **auth())
    print_refs(repo)


def new_commit(repo, parent_id):
    """A commit that adds a file to parent_id's tree."""
    parent = repo[parent_id]
    tree = Tree()
    for entry in repo[parent.tree].items():
        tree.add(entry.path, entry.mode, entry.sha)
    stamp = "%d-%d" % (os.getpid(), time.monotonic_ns())
    blob = Blob.from_string(("written by dulwich " + stamp + "\n").encode())
    tree.add(("dulwich-" + stamp + ".txt").encode(), 0o100644, blob.id)
    c = Commit()
    c.tree = tree.id
    c.parents = [parent_id]
    c.author = c.committer = b"Dulwich <dulwich@example.com>"
    c.author_time = c.commit_time = 1700000000
    c.author_timezone = c.commit_timezone = 0
    c.message = b"from dulwich\n"
    for obj in (blob, tree, c):
        repo.object_store.add_object(obj)
    return c.id


def cmd_push(path, ref, diverge, force):
    repo = Repo(path)
    base = repo.head()
    if diverge:
        base = repo[base].parents[0]
    cid = new_commit(repo, base)
    repo.refs[b"refs/heads/work"] = cid
    err = io.BytesIO()
    spec = b"refs/heads/work:" + ref.encode()
    try:
        porcelain.push(repo, "origin", spec, errstream=err, force=force, **auth())
    except porcelain.DivergedBranches:
        print("ng %s diverged (refused by dulwich)" % ref)
        return
    text = err.getvalue().decode(errors="replace")
    for line in text.splitlines():
        prefix = "Push of ref %s failed: " % ref
        if line.startswith(prefix):
            print("ng %s %s" % (ref, line[len(prefix):]))
            return
    if "Ref %s updated" % ref not in text:
        sys.exit("no status for %s in:\n%s" % (ref, text))
    print("ok %s %s" % (ref, cid.decode()))


def main(argv):
    if len(argv) == 4 and argv[1] == "clone":
        cmd_clone(argv[2], argv[3])
    elif len(argv) == 3 and argv[1] == "fetch":
        cmd_fetch(argv[2])
    elif len(argv) >= 4 and argv[1] == "push" and set(argv[4:]) <= {"--diverge", "--force"}:
        cmd_push(argv[2], argv[3], "--diverge" in argv[4:], "--force" in argv[4:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
