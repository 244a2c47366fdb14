/*
 * git_repos.h - which store a network request names, for the git
 * transports (git:// daemon, smart HTTP).
 *
 * Stores live under one base directory.  A request for "name" (or "/name",
 * "a/b") looks at BASE/name:
 *   - a directory holding data.mdb is opened as lmdb:BASE/name;
 *   - a directory holding HEAD and objects/ (a bare git repository) is
 *     opened as git:BASE/name;
 *   - otherwise, when name does not end in ".git", BASE/name.git is tried
 *     as a bare git repository (so /project serves project.git).
 * Names are '/'-separated segments of letters, digits and "._-+", no
 * segment starting with '.', so a request can never leave BASE.
 *
 * Each store is opened once (LMDB allows one environment per process) and
 * kept open until grove__git_repos_free.  Not thread-safe: loop thread only.
 */
#ifndef GROVE_NET_GIT_REPOS_H
#define GROVE_NET_GIT_REPOS_H

#include "grove.h"

typedef struct grove__git_repos grove__git_repos;

/* read_only: open every store read-only (pushes then fail). */
int grove__git_repos_new(grove__git_repos **out, const char *base_dir, int read_only);
void grove__git_repos_free(grove__git_repos *r);

/* GROVE_EINVALID for a bad name, GROVE_ENOTFOUND when no store is there. */
int grove__git_repos_open(grove__git_repos *r, const char *name, grove **out);
/* 0 when name is acceptable (see above), else GROVE_EINVALID. */
int grove__git_repos_name_check(const char *name, size_t len);

#endif
