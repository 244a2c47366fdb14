/*
 * LMDB environments for the LMDB backend: opening and sharing them within
 * the process, the pool of reusable read transactions, map growth, write
 * transactions with retry, and the background flusher of GROVE_RELAXED.
 */
#include "lmdb_internal.h"
#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Errors                                                              */
/* ------------------------------------------------------------------ */

static int is_grove_code(int rc)
{
	return rc < 0 && rc >= -100;
}

/* LMDB reports a short write (a disk that filled up mid-write) as EIO. */
static int disk_nearly_full(const grove__lmdb_env *e)
{
	struct statvfs sv;
	if (!e || statvfs(e->path, &sv) != 0)
		return 0;
	return (uint64_t)sv.f_bavail * sv.f_frsize < ((uint64_t)1 << 20);
}

int grove__lmdb_error(const grove__lmdb_env *e, int rc, const char *what)
{
	const char *path = e ? e->path : "";
	int code;

	if (is_grove_code(rc))
		return rc;
	switch (rc) {
	case MDB_NOTFOUND:
		code = GROVE_ENOTFOUND;
		break;
	case MDB_CORRUPTED:
	case MDB_PAGE_NOTFOUND:
	case MDB_INVALID:
	case MDB_VERSION_MISMATCH:
	case MDB_PANIC:
		code = GROVE_ECORRUPT;
		break;
	case MDB_MAP_FULL:
		code = GROVE_ENOSPC;
		break;
	case MDB_READERS_FULL:
		code = GROVE_ELOCKED;
		break;
	case EIO:
		code = disk_nearly_full(e) ? GROVE_ENOSPC : GROVE_EIO;
		break;
	default:
		code = rc > 0 ? grove__error_from_errno(rc) : GROVE_ERROR;
		if (code == GROVE_ENOTFOUND || code == GROVE_EINVALID || code == GROVE_EEXISTS)
			code = rc == ENOENT ? GROVE_ENOTFOUND : GROVE_ERROR;
		break;
	}
	if (code == GROVE_ENOSPC)
		return grove__error_set(code, "lmdb: %s in %s: disk full (%s)", what, path,
			rc == EIO ? "short write, no space left on device" : mdb_strerror(rc));
	return grove__error_set(code, "lmdb: %s in %s: %s", what, path, mdb_strerror(rc));
}

/* ------------------------------------------------------------------ */
/* Registering transactions against map resizes                        */
/* ------------------------------------------------------------------ */

/*
 * A thread that already has a transaction of this env (e.g. a read inside
 * the keep callback of a sweep) must not wait for a pending resize: the
 * resize waits for that transaction.  Track the env this thread is
 * registered with and how deeply.
 */
static _Thread_local grove__lmdb_env *held_env;
static _Thread_local unsigned held_depth;

static int thread_holds(const grove__lmdb_env *e)
{
	return held_depth > 0 && held_env == e;
}

static atomic_uint next_hint;
static _Thread_local unsigned slot_hint; /* 0 = not assigned yet */

static grove__lmdb_slot *slot_take(grove__lmdb_env *e)
{
	unsigned start;

	if (!slot_hint)
		slot_hint = atomic_fetch_add(&next_hint, 1) + 1;
	start = slot_hint;
	for (unsigned i = 0; i < GROVE__LMDB_SLOTS; i++) {
		grove__lmdb_slot *s = &e->slots[(start + i) % GROVE__LMDB_SLOTS];
		int expected = 0;
		if (atomic_load_explicit(&s->busy, memory_order_relaxed) == 0 &&
			atomic_compare_exchange_strong(&s->busy, &expected, 1))
			return s;
	}
	return NULL;
}

static void unregister(grove__lmdb_env *e, grove__lmdb_slot *slot)
{
	if (slot)
		atomic_store(&slot->busy, 0);
	else
		atomic_fetch_sub(&e->active_other, 1);
}

/*
 * Registers a transaction about to start: takes a pool slot when want_slot
 * (NULL when the pool is exhausted) or counts it in active_other.  Returns
 * how the thread-local tracking was changed, for leave().
 */
static int enter(grove__lmdb_env *e, int want_slot, grove__lmdb_slot **slot)
{
	int nested = thread_holds(e);

	for (;;) {
		*slot = want_slot ? slot_take(e) : NULL;
		if (!*slot)
			atomic_fetch_add(&e->active_other, 1);
		/* seq_cst: the resizer raises the flag, then checks registrations;
		 * we register, then check the flag.  One of us sees the other. */
		if (nested || !atomic_load(&e->resizing))
			break;
		unregister(e, *slot);
		pthread_mutex_lock(&e->resize_mu); /* wait out the resize */
		pthread_mutex_unlock(&e->resize_mu);
	}
	if (nested) {
		held_depth++;
		return 1;
	}
	if (held_depth == 0) {
		held_env = e;
		held_depth = 1;
		return 1;
	}
	return 2; /* registered while holding another env: not tracked */
}

static void leave(grove__lmdb_env *e, grove__lmdb_slot *slot, int how)
{
	if (how == 1 && --held_depth == 0)
		held_env = NULL;
	unregister(e, slot);
}

static int anything_registered(grove__lmdb_env *e)
{
	if (atomic_load(&e->active_other) > 0)
		return 1;
	for (int i = 0; i < GROVE__LMDB_SLOTS; i++)
		if (atomic_load(&e->slots[i].busy))
			return 1;
	return 0;
}

/*
 * GROVE_RELAXED opens the map writable (MDB_WRITEMAP): a commit then
 * stores into the page cache through the map instead of one pwrite per
 * page, about a fifth of a small commit's CPU.  A store into a hole of a
 * sparse file on a full disk would be SIGBUS, not an error, so the file
 * space behind the whole map is reserved first (posix_fallocate); where
 * that fails the store falls back to written pages, which report a full
 * disk as ENOSPC.
 */
static int reserve_map(grove__lmdb_env *e)
{
	MDB_envinfo info;
	mdb_filehandle_t fd;

	if (!e->writemap)
		return 0;
	if (mdb_env_info(e->env, &info) || mdb_env_get_fd(e->env, &fd))
		return EIO;
	return posix_fallocate(fd, 0, (off_t)info.me_mapsize);
}

/*
 * Changes the map size: to what another process set (failed_size 0, after
 * MDB_MAP_RESIZED) or to at least twice failed_size (after MDB_MAP_FULL).
 * Waits until no transaction of this env is active in the process.
 */
static int map_resize(grove__lmdb_env *e, size_t failed_size)
{
	MDB_envinfo info, before;
	int rc;

	if (thread_holds(e))
		return grove__error_set(GROVE_ERROR,
			"lmdb: cannot resize the map of %s while this thread has a transaction open", e->path);
	pthread_mutex_lock(&e->resize_mu);
	atomic_store(&e->resizing, 1);
	while (anything_registered(e)) {
		struct timespec pause = { 0, 20000 };
		nanosleep(&pause, NULL);
	}
	atomic_fetch_add(&e->map_gen, 1); /* segment caches may point into the old map */
	mdb_env_info(e->env, &before);
	rc = mdb_env_set_mapsize(e->env, 0); /* adopt a size another process set */
	if (rc == 0 && failed_size) {
		mdb_env_info(e->env, &info);
		if (info.me_mapsize <= failed_size) {
			if (failed_size > SIZE_MAX / 2)
				rc = ENOMEM;
			else
				rc = mdb_env_set_mapsize(e->env, failed_size * 2);
		}
	}
	if (rc == 0 && e->writemap) {
		int frc = reserve_map(e);
		if (frc) {
			/* Growth we chose is taken back, so no page lies in an
			 * unreserved hole; a size another process set must stay
			 * (its data is there), and this write fails instead. */
			if (failed_size)
				mdb_env_set_mapsize(e->env, before.me_mapsize);
			rc = frc;
		}
	}
	atomic_store(&e->resizing, 0);
	pthread_mutex_unlock(&e->resize_mu);
	if (rc)
		return grove__lmdb_error(e, rc, "growing the map");
	return 0;
}

/* ------------------------------------------------------------------ */
/* Read transactions                                                   */
/* ------------------------------------------------------------------ */

int grove__lmdb_read_begin(grove__lmdb_env *e, grove__lmdb_rtxn *rt)
{
	for (int attempt = 0;; attempt++) {
		int rc;

		rt->registered = enter(e, 1, &rt->slot);
		rt->txn = NULL;
		if (rt->slot && rt->slot->txn) {
			rc = mdb_txn_renew(rt->slot->txn);
			if (rc == 0)
				rt->txn = rt->slot->txn;
			else if (rc != MDB_MAP_RESIZED) {
				/* A txn that cannot be renewed is dropped. */
				mdb_txn_abort(rt->slot->txn);
				rt->slot->txn = NULL;
			}
		} else {
			rc = mdb_txn_begin(e->env, NULL, MDB_RDONLY, &rt->txn);
			if (rc == 0 && rt->slot)
				rt->slot->txn = rt->txn;
		}
		if (rc == 0) {
			rt->segcache = NULL;
			if (rt->slot) {
				grove__lmdb_slot *s = rt->slot;
				size_t id = mdb_txn_id(rt->txn);
				unsigned gen = atomic_load_explicit(&e->map_gen, memory_order_relaxed);
				if (s->cache_txnid != id || s->cache_gen != gen) {
					memset(s->cache, 0, sizeof(s->cache));
					s->cache_txnid = id;
					s->cache_gen = gen;
				}
				rt->segcache = s->cache;
			}
			return 0;
		}
		leave(e, rt->slot, rt->registered);
		if (rc == MDB_MAP_RESIZED && attempt < 8) {
			if ((rc = map_resize(e, 0)) < 0)
				return rc;
			continue;
		}
		return grove__lmdb_error(e, rc, "starting a read transaction");
	}
}

/*
 * The map's resident pages.  Every page of data.mdb a process touched
 * stays mapped, and counts in its RSS, until the map goes: a server that
 * has read its whole store looks as big as the store, though the pages are
 * the kernel's page cache, which it reclaims as it likes (a server reading
 * files with read() shows none of it).  So every DROP_EVERY_MS, after at
 * least DROP_MIN_TXNS transactions, the mapping's pages are dropped
 * (MADV_DONTNEED: for a shared file mapping the page cache keeps them,
 * dirty ones included, and the next touch maps them again for a minor
 * fault).  This runs while the caller is registered, so no resize can move
 * the map meanwhile.  Not in a writable map (GROVE_RELAXED): there every
 * page dropped is written again through a fault costlier than the memory
 * it frees, and W1 lost a sixth of its commits to it (measured).
 */
#define DROP_EVERY_MS 100
#define DROP_MIN_TXNS 64

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Finds data.mdb's mapping in /proc/self/maps by device and inode (LMDB
 * does not say where it mapped the file unless asked for a fixed map). */
static void find_map(grove__lmdb_env *e)
{
	char line[4608];
	mdb_filehandle_t fd;
	struct stat st;
	FILE *f;

	e->map_addr = NULL;
	e->map_addr_gen = atomic_load(&e->map_gen);
	if (mdb_env_get_fd(e->env, &fd) || fstat(fd, &st) != 0 ||
		!(f = fopen("/proc/self/maps", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi, ino;
		unsigned maj, mi;
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &mi, &ino) == 5 &&
			ino == (unsigned long)st.st_ino && maj == major(st.st_dev) &&
			mi == minor(st.st_dev)) {
			e->map_addr = (void *)lo;
			e->map_len = hi - lo;
			break;
		}
	}
	fclose(f);
}

static void maybe_drop_map_pages(grove__lmdb_env *e)
{
	uint64_t n, now, last;

	if (e->writemap)
		return;
	n = atomic_fetch_add(&e->txns_since_drop, 1) + 1;
	if (n < DROP_MIN_TXNS)
		return;
	now = now_ms();
	last = atomic_load(&e->last_drop_ms);
	if (now - last < DROP_EVERY_MS || !atomic_compare_exchange_strong(&e->last_drop_ms, &last, now))
		return;
	atomic_store(&e->txns_since_drop, 0);
	pthread_mutex_lock(&e->drop_mu);
	if (!e->map_addr || e->map_addr_gen != atomic_load(&e->map_gen))
		find_map(e);
	if (e->map_addr)
		madvise(e->map_addr, e->map_len, MADV_DONTNEED);
	pthread_mutex_unlock(&e->drop_mu);
}

void grove__lmdb_read_end(grove__lmdb_env *e, grove__lmdb_rtxn *rt)
{
	/* The txn must be inactive before the slot is released. */
	if (rt->slot)
		mdb_txn_reset(rt->txn);
	else
		mdb_txn_abort(rt->txn);
	rt->txn = NULL;
	maybe_drop_map_pages(e);
	leave(e, rt->slot, rt->registered);
}

/* ------------------------------------------------------------------ */
/* Write transactions                                                  */
/* ------------------------------------------------------------------ */

int grove__lmdb_sync(grove__lmdb_env *e)
{
	int rc;
	/* Without MDB_NOSYNC every commit was synced already. */
	if (e->read_only || !e->nosync)
		return 0;
	uint_fast64_t seen = atomic_load(&e->commits);
	if (seen == atomic_load(&e->synced))
		return 0;
	rc = mdb_env_sync(e->env, 1);
	if (rc)
		return grove__lmdb_error(e, rc, "syncing");
	/* Only move forward: a concurrent flusher may have synced later. */
	uint_fast64_t old = atomic_load(&e->synced);
	while (old < seen && !atomic_compare_exchange_weak(&e->synced, &old, seen))
		;
	return 0;
}

int grove__lmdb_write_txn(grove__lmdb *h, grove__lmdb_write_fn fn, void *arg, const char *what)
{
	grove__lmdb_env *e = h->e;
	int rc;

	if (h->read_only)
		return grove__error_set(GROVE_EREADONLY, "lmdb: %s: store %s is open read-only", what, e->path);
	for (int attempt = 0;; attempt++) {
		MDB_txn *txn = NULL;
		size_t map_size = 0;
		grove__lmdb_slot *none;
		int how = enter(e, 0, &none);

		rc = mdb_txn_begin(e->env, NULL, 0, &txn);
		if (rc == 0) {
			rc = fn(e, txn, arg);
			if (rc == 0)
				rc = mdb_txn_commit(txn);
			else
				mdb_txn_abort(txn);
		}
		if (rc == MDB_MAP_FULL) {
			/* Still under the lock: the size this attempt ran out of. */
			MDB_envinfo info;
			mdb_env_info(e->env, &info);
			map_size = info.me_mapsize;
		}
		if (rc == 0)
			maybe_drop_map_pages(e);
		leave(e, none, how);
		if (rc == 0)
			break;
		if (is_grove_code(rc))
			return rc;
		if ((rc == MDB_MAP_FULL || rc == MDB_MAP_RESIZED) && attempt < 64) {
			int grc = map_resize(e, map_size);
			if (grc < 0)
				return grc;
			continue;
		}
		return grove__lmdb_error(e, rc, what);
	}
	if (e->nosync) {
		atomic_fetch_add(&e->commits, 1);
		if (h->durable)
			return grove__lmdb_sync(e);
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* The flusher of GROVE_RELAXED                                        */
/* ------------------------------------------------------------------ */

static void *flusher_main(void *arg)
{
	grove__lmdb_env *e = arg;
	struct timespec deadline;

	pthread_mutex_lock(&e->flush_mu);
	while (!e->flush_stop) {
		clock_gettime(CLOCK_MONOTONIC, &deadline);
		deadline.tv_sec += e->sync_interval_ms / 1000;
		deadline.tv_nsec += (long)(e->sync_interval_ms % 1000) * 1000000L;
		if (deadline.tv_nsec >= 1000000000L) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000L;
		}
		while (!e->flush_stop &&
			pthread_cond_timedwait(&e->flush_cv, &e->flush_mu, &deadline) != ETIMEDOUT)
			;
		if (e->flush_stop)
			break;
		uint_fast64_t seen = atomic_load(&e->commits);
		if (seen == atomic_load(&e->synced))
			continue;
		pthread_mutex_unlock(&e->flush_mu);
		int rc = mdb_env_sync(e->env, 1);
		if (rc)
			atomic_store(&e->sync_error, rc);
		else {
			uint_fast64_t old = atomic_load(&e->synced);
			while (old < seen && !atomic_compare_exchange_weak(&e->synced, &old, seen))
				;
		}
		pthread_mutex_lock(&e->flush_mu);
	}
	pthread_mutex_unlock(&e->flush_mu);
	return NULL;
}

static int flusher_start(grove__lmdb_env *e)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&e->flush_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return grove__error_set(GROVE_ERROR, "lmdb: cannot create flusher: %s", strerror(rc));
	rc = pthread_create(&e->flusher, NULL, flusher_main, e);
	if (rc) {
		pthread_cond_destroy(&e->flush_cv);
		return grove__error_set(GROVE_ERROR, "lmdb: cannot start flusher thread: %s", strerror(rc));
	}
	e->flusher_running = 1;
	return 0;
}

static void flusher_stop(grove__lmdb_env *e)
{
	if (!e->flusher_running)
		return;
	pthread_mutex_lock(&e->flush_mu);
	e->flush_stop = 1;
	pthread_cond_signal(&e->flush_cv);
	pthread_mutex_unlock(&e->flush_mu);
	pthread_join(e->flusher, NULL);
	pthread_cond_destroy(&e->flush_cv);
	e->flusher_running = 0;
}

/* ------------------------------------------------------------------ */
/* Opening and the process-wide registry                               */
/* ------------------------------------------------------------------ */

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static grove__lmdb_env *registry;

static int put_u32(MDB_txn *txn, MDB_dbi dbi, const char *key, uint32_t v, unsigned flags)
{
	unsigned char b[4] = { v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, v >> 24 };
	MDB_val k = { strlen(key), (void *)key }, d = { sizeof(b), b };
	int rc = mdb_put(txn, dbi, &k, &d, flags);
	return rc == MDB_KEYEXIST ? 0 : rc;
}

static int dbs_missing(grove__lmdb_env *e)
{
	return grove__error_set(GROVE_ECORRUPT, "lmdb: %s is not a grove store (missing DBs)", e->path);
}

/* Opens the DBs (creating them and the meta defaults when allowed) after
 * checking the format version, so an old store is refused untouched. */
static int open_dbs(grove__lmdb_env *e, int may_create)
{
	MDB_txn *txn;
	MDB_val k, v;
	int rc, upgrade = 0;
	unsigned flags = may_create ? MDB_CREATE : 0;

	rc = mdb_txn_begin(e->env, NULL, may_create ? 0 : MDB_RDONLY, &txn);
	if (rc)
		return grove__lmdb_error(e, rc, "opening");
	if ((rc = mdb_dbi_open(txn, "meta", flags, &e->meta))) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? dbs_missing(e) : grove__lmdb_error(e, rc, "opening DBs");
	}
	if (may_create) {
		k.mv_data = "HEAD";
		k.mv_size = 4;
		v.mv_data = GROVE__LMDB_DEFAULT_HEAD;
		v.mv_size = strlen(GROVE__LMDB_DEFAULT_HEAD);
		rc = mdb_put(txn, e->meta, &k, &v, MDB_NOOVERWRITE);
		if (rc == MDB_KEYEXIST)
			rc = 0;
		if (!rc)
			rc = put_u32(txn, e->meta, "format", GROVE__LMDB_FORMAT, MDB_NOOVERWRITE);
		if (rc) {
			mdb_txn_abort(txn);
			return grove__lmdb_error(e, rc, "initialising");
		}
	}
	k.mv_data = "format";
	k.mv_size = 6;
	rc = mdb_get(txn, e->meta, &k, &v);
	if (rc == 0) {
		const unsigned char *p = v.mv_data;
		uint32_t fmt = v.mv_size == 4 ? (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			(uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
		/* Format 4 is format 5 with an empty journal. */
		upgrade = fmt == 4 && may_create;
		if (fmt != GROVE__LMDB_FORMAT && fmt != 4) {
			mdb_txn_abort(txn);
			return grove__error_set(GROVE_EUNSUPPORTED,
				"lmdb: %s has store format %u, this grove reads format %u only "
				"(no migration: re-create the store and import or push the data again)",
				e->path, (unsigned)fmt, (unsigned)GROVE__LMDB_FORMAT);
		}
	} else if (rc != MDB_NOTFOUND) {
		mdb_txn_abort(txn);
		return grove__lmdb_error(e, rc, "reading the format version");
	}
	if ((rc = mdb_dbi_open(txn, "objects", flags, &e->objects)) ||
		(rc = mdb_dbi_open(txn, "refs", flags, &e->refs)) ||
		(rc = mdb_dbi_open(txn, "segments", flags, &e->segments))) {
		mdb_txn_abort(txn);
		return rc == MDB_NOTFOUND ? dbs_missing(e) : grove__lmdb_error(e, rc, "opening DBs");
	}
	if (upgrade) {
		/* Every existing segment already has its pointers. */
		uint64_t next;
		if ((rc = grove__lmdb_next_segment(e, txn, &next)) ||
			(rc = grove__lmdb_journal_set_indexed(e, txn, next - 1)) ||
			(rc = put_u32(txn, e->meta, "format", GROVE__LMDB_FORMAT, 0))) {
			mdb_txn_abort(txn);
			return grove__lmdb_error(e, rc, "upgrading the store format");
		}
	}
	/* Committing (even a read txn) keeps the DB handles for the env. */
	rc = mdb_txn_commit(txn);
	if (rc)
		return grove__lmdb_error(e, rc, "opening DBs");
	return 0;
}

static void env_free(grove__lmdb_env *e)
{
	if (!e)
		return;
	flusher_stop(e);
	if (e->env) {
		for (int i = 0; i < GROVE__LMDB_SLOTS; i++)
			if (e->slots[i].txn)
				mdb_txn_abort(e->slots[i].txn);
		if (e->nosync && !e->read_only)
			mdb_env_sync(e->env, 1);
		mdb_env_close(e->env);
	}
	pthread_mutex_destroy(&e->resize_mu);
	pthread_mutex_destroy(&e->flush_mu);
	pthread_mutex_destroy(&e->drop_mu);
	grove__lmdb_jindex_free(e->jindex);
	free(e->path);
	free(e);
}

static int env_open(grove__lmdb_env **out, const char *path, const struct stat *dir,
	const grove_options *opts)
{
	grove__lmdb_env *e;
	char data_path[4096];
	struct stat st;
	int rc, data_exists;
	unsigned flags = MDB_NOTLS | MDB_NORDAHEAD;
	size_t map_size = opts->lmdb_map_size ? opts->lmdb_map_size : GROVE__LMDB_DEFAULT_MAP;

	if ((size_t)snprintf(data_path, sizeof(data_path), "%s/data.mdb", path) >= sizeof(data_path))
		return grove__error_set(GROVE_EINVALID, "lmdb: path too long: %s", path);
	data_exists = stat(data_path, &st) == 0;
	if (!data_exists && (!opts->create || opts->read_only))
		return grove__error_set(GROVE_ENOTFOUND, "lmdb: no store at %s", path);

	e = grove__calloc(1, sizeof(*e));
	if (!e)
		return GROVE_ENOMEM;
	e->pid = getpid();
	e->dev = dir->st_dev;
	e->ino = dir->st_ino;
	e->read_only = opts->read_only != 0;
	e->nosync = opts->durability == GROVE_RELAXED && !e->read_only;
	e->sync_interval_ms = opts->sync_interval_ms ? opts->sync_interval_ms : 100;
	pthread_mutex_init(&e->resize_mu, NULL);
	pthread_mutex_init(&e->flush_mu, NULL);
	pthread_mutex_init(&e->drop_mu, NULL);
	if (!(e->path = grove__strdup(path))) {
		env_free(e);
		return GROVE_ENOMEM;
	}
	if ((rc = grove__lmdb_jindex_new(&e->jindex)) < 0) {
		env_free(e);
		return rc;
	}

	if (e->read_only)
		flags |= MDB_RDONLY;
	if (e->nosync)
		flags |= MDB_NOSYNC;
	e->writemap = e->nosync;
reopen:
	if ((rc = mdb_env_create(&e->env))) {
		env_free(e);
		return grove__lmdb_error(NULL, rc, "creating environment");
	}
	mdb_env_set_maxdbs(e->env, 8);
	mdb_env_set_maxreaders(e->env, GROVE__LMDB_MAX_READERS);
	/* An existing store keeps the map size recorded in it (it may have
	 * grown); only a new one starts from the configured size. */
	if (!data_exists)
		mdb_env_set_mapsize(e->env, map_size);
	rc = mdb_env_open(e->env, path, flags | (e->writemap ? MDB_WRITEMAP : 0), 0644);
	if (rc) {
		mdb_env_close(e->env);
		e->env = NULL;
		if (rc == EACCES || rc == EROFS || rc == EPERM)
			rc = grove__error_set(GROVE_EREADONLY,
				"lmdb: cannot open %s%s: %s", path,
				e->read_only ? " read-only (its lock file is not usable)" : " for writing",
				mdb_strerror(rc));
		else
			rc = grove__lmdb_error(e, rc, "opening");
		env_free(e);
		return rc;
	}
	if (data_exists) {
		MDB_envinfo info;
		mdb_env_info(e->env, &info);
		if (info.me_mapsize < map_size)
			mdb_env_set_mapsize(e->env, map_size);
	}
	if (e->writemap && reserve_map(e) != 0) {
		/* No room to back the whole map: pages are written instead. */
		mdb_env_close(e->env);
		e->env = NULL;
		e->writemap = 0;
		data_exists = 1;
		goto reopen;
	}
	/* Free reader slots left by processes that died. */
	int dead;
	mdb_reader_check(e->env, &dead);

	if ((rc = open_dbs(e, !e->read_only)) < 0) {
		env_free(e);
		return rc;
	}
	if (e->nosync && (rc = flusher_start(e)) < 0) {
		env_free(e);
		return rc;
	}
	*out = e;
	return 0;
}

int grove__lmdb_env_acquire(grove__lmdb_env **out, const char *path, const grove_options *opts)
{
	grove__lmdb_env *e;
	struct stat st;
	int rc = 0;

	if (stat(path, &st) != 0) {
		if (errno != ENOENT)
			return grove__error_set(grove__error_from_errno(errno), "lmdb: cannot open %s: %s",
				path, strerror(errno));
		if (!opts->create || opts->read_only)
			return grove__error_set(GROVE_ENOTFOUND, "lmdb: no store at %s", path);
		if (mkdir(path, 0777) != 0 && errno != EEXIST)
			return grove__error_set(grove__error_from_errno(errno), "lmdb: cannot create %s: %s",
				path, strerror(errno));
		if (stat(path, &st) != 0)
			return grove__error_set(grove__error_from_errno(errno), "lmdb: cannot open %s: %s",
				path, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return grove__error_set(GROVE_EINVALID, "lmdb: %s is not a directory", path);

	pthread_mutex_lock(&registry_mu);
	for (e = registry; e; e = e->next)
		if (e->dev == st.st_dev && e->ino == st.st_ino && e->pid == getpid())
			break;
	if (e) {
		if (e->read_only && !opts->read_only)
			rc = grove__error_set(GROVE_EREADONLY,
				"lmdb: %s is already open read-only in this process", path);
		else
			e->refcount++;
	} else if ((rc = env_open(&e, path, &st, opts)) == 0) {
		e->refcount = 1;
		e->next = registry;
		registry = e;
	}
	pthread_mutex_unlock(&registry_mu);
	if (rc == 0)
		*out = e;
	return rc;
}

void grove__lmdb_env_release(grove__lmdb_env *e)
{
	grove__lmdb_env **pp;
	int last;

	pthread_mutex_lock(&registry_mu);
	last = --e->refcount == 0;
	if (last)
		for (pp = &registry; *pp; pp = &(*pp)->next)
			if (*pp == e) {
				*pp = e->next;
				break;
			}
	pthread_mutex_unlock(&registry_mu);
	if (last)
		env_free(e);
}
