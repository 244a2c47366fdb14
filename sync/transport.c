/* The libgit2 client session behind fetch and push (design: transport.h).
 * libgit2 now serves http and https (and file:// or local paths when git
 * is not on PATH); git://, file:// and every ssh URL go through grove's own
 * client (native.h), ssh by way of the OpenSSH program (native_ssh.c). */
#include "transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "lg2_odb.h"
#include "lg2_stream.h"
#include "native.h"
#include <git2/sys/repository.h>
#include "store.h"
#include "sync_internal.h"
#include "tls_verify.h"

struct grove__transport {
	grove *g;
	const grove_sync_opts *opts;
	char *what;          /* "fetch from 'origin'" for messages */
	char *shown_url;     /* redacted */
	git_repository *repo;
	git_odb *odb;
	git_remote *remote;
	git_remote_callbacks cb;
	grove__lg2_sink sink;
	grove__lg2_stream_ctx streams; /* timeout and cancel of its sockets */
	int lg2_inited;

	/* Credentials: one user/password pair (ssh is not spoken here). */
	char *url_user, *url_pass;
	const char *user, *pass;
	int userpass_tried, auth_failed, cancelled;
	const char *secrets[4];

	grove__remote_ref *refs;
	size_t nrefs;
	char *head;

	grove__push_cmd *push_cmds;
	size_t npush;

	grove__nfetch *native; /* git://, file://, ssh fetch: grove's own client, no libgit2 */
};

static const grove_sync_opts default_opts = GROVE_SYNC_OPTIONS_INIT;

/* --- errors -------------------------------------------------------------- */

/* Sets a redacted "WHAT (URL): message" error and returns code. */
static int fail_msg(grove__transport *t, int code, const char *msg)
{
	char *clean = grove__redact_text(msg, t->secrets, 4);
	if (!clean)
		return GROVE_ENOMEM;
	grove__error_set(code, "%s (%s): %s", t->what, t->shown_url, clean);
	free(clean);
	return code;
}

/* Maps a libgit2 failure to a grove code and a redacted message. */
static int lg2_fail(grove__transport *t, int lgerr)
{
	const git_error *e = git_error_last();
	const char *m = e && e->message ? e->message : "unknown libgit2 error";
	/* Before libgit2's message: TLS reports our read's failure as its own. */
	if (__atomic_load_n(&t->streams.cancelled, __ATOMIC_ACQUIRE))
		return fail_msg(t, GROVE_ERROR, "cancelled");
	if (__atomic_load_n(&t->streams.timed_out, __ATOMIC_ACQUIRE))
		return fail_msg(t, GROVE_EIO, t->streams.message);
	if (t->sink.failed_code && t->sink.failed_code != GROVE_ERROR)
		return fail_msg(t, t->sink.failed_code, t->sink.failed_msg ? t->sink.failed_msg : m);
	if (t->cancelled || t->sink.failed_code == GROVE_ERROR)
		return fail_msg(t, GROVE_ERROR, "cancelled");
	if (t->auth_failed || lgerr == GIT_EAUTH)
		return fail_msg(t, GROVE_EIO, t->userpass_tried ?
			"authentication failed" : "authentication required (set GROVE_REMOTE_USER and "
			"GROVE_REMOTE_PASSWORD or GROVE_REMOTE_TOKEN)");
	if (lgerr == GIT_ENONFASTFORWARD)
		return fail_msg(t, GROVE_ENOTFF, m);
	if (lgerr == GIT_ECERTIFICATE)
		return fail_msg(t, GROVE_EIO, m);
	return fail_msg(t, GROVE_EIO, m);
}

static int check_cancel(grove__transport *t)
{
	if (t->opts->cancel && *t->opts->cancel) {
		t->cancelled = 1;
		git_error_set_str(GIT_ERROR_NONE, "cancelled");
		return GIT_EUSER;
	}
	return 0;
}

static int report(grove__transport *t, grove_sync_stage stage, uint64_t cur, uint64_t total, uint64_t bytes)
{
	grove_sync_progress p;
	if (check_cancel(t))
		return GIT_EUSER;
	if (!t->opts->progress)
		return 0;
	p.stage = stage;
	p.current = cur;
	p.total = total;
	p.bytes = bytes;
	if (t->opts->progress(&p, t->opts->progress_payload)) {
		t->cancelled = 1;
		git_error_set_str(GIT_ERROR_NONE, "cancelled");
		return GIT_EUSER;
	}
	return 0;
}

static int sink_progress(void *payload, grove_sync_stage stage, uint64_t cur, uint64_t total, uint64_t bytes)
{
	return report(payload, stage, cur, total, bytes) ? 1 : 0;
}

/* --- libgit2 callbacks ----------------------------------------------------- */

static int cb_credentials(git_credential **out, const char *url, const char *username_from_url,
	unsigned int allowed, void *payload)
{
	grove__transport *t = payload;
	(void)url;
	if (check_cancel(t))
		return GIT_EUSER;
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		if (!t->userpass_tried && t->user && t->pass) {
			t->userpass_tried = 1;
			return git_credential_userpass_plaintext_new(out, t->user, t->pass);
		}
	} else if (allowed & GIT_CREDENTIAL_USERNAME) {
		return git_credential_username_new(out, t->user ? t->user :
			username_from_url ? username_from_url : "git");
	}
	t->auth_failed = 1;
	git_error_set_str(GIT_ERROR_NET, "authentication failed");
	return GIT_EAUTH;
}

static int cb_certificate(git_cert *cert, int valid, const char *host, void *payload)
{
	grove__transport *t = payload;
	char why[256];
	/* ssh goes through OpenSSH (native_ssh.c), which checks known_hosts;
	 * libssh2 here would check nothing, so a host key is never accepted
	 * (a URL that reaches libgit2's ssh only by a way native.h missed). */
	if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
		git_error_set_str(GIT_ERROR_SSH, "ssh through libgit2 is not supported (its host key is not verified)");
		return GIT_ECERTIFICATE;
	}
	if (valid)
		return 0;
	if (cert->cert_type != GIT_CERT_X509 || !t->opts->ca_file)
		return GIT_PASSTHROUGH;
	{
		git_cert_x509 *x = (git_cert_x509 *)cert;
		if (grove__tls_verify_der(x->data, x->len, host, t->opts->ca_file, why, sizeof(why)) == 0)
			return 0;
	}
	git_error_set_str(GIT_ERROR_SSL, why);
	return GIT_ECERTIFICATE;
}

static int cb_transfer(const git_indexer_progress *stats, void *payload)
{
	(void)stats;
	return check_cancel(payload);
}

static int cb_sideband(const char *str, int len, void *payload)
{
	(void)str;
	(void)len;
	return check_cancel(payload);
}

static int cb_pack_progress(int stage, uint32_t current, uint32_t total, void *payload)
{
	return report(payload, stage == GIT_PACKBUILDER_ADDING_OBJECTS ? GROVE_SYNC_COUNTING :
		GROVE_SYNC_COMPRESSING, current, stage == GIT_PACKBUILDER_ADDING_OBJECTS ? 0 : total, 0);
}

static int cb_push_transfer(unsigned int current, unsigned int total, size_t bytes, void *payload)
{
	return report(payload, GROVE_SYNC_WRITING, current, total, bytes);
}

static int cb_push_update(const char *refname, const char *status, void *payload)
{
	grove__transport *t = payload;
	for (size_t i = 0; i < t->npush; i++) {
		if (strcmp(t->push_cmds[i].dst, refname))
			continue;
		free(t->push_cmds[i].status);
		t->push_cmds[i].status = NULL;
		if (status && !(t->push_cmds[i].status = strdup(status)))
			return -1;
	}
	return 0;
}

/* --- session ---------------------------------------------------------------- */

static int load_refs(grove__transport *t)
{
	const git_remote_head **heads;
	git_buf buf = { 0 };
	size_t n, k = 0;
	int err;
	if ((err = git_remote_ls(&heads, &n, t->remote)) < 0)
		return lg2_fail(t, err);
	if (n && !(t->refs = grove__calloc(n, sizeof(*t->refs))))
		return GROVE_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(heads[i]->name);
		if (len > 3 && !strcmp(heads[i]->name + len - 3, "^{}"))
			continue;
		if (!(t->refs[k].name = grove__strdup(heads[i]->name)))
			return GROVE_ENOMEM;
		memcpy(t->refs[k].id.id, heads[i]->oid.id, GROVE_OID_RAWSZ);
		k++;
	}
	t->nrefs = k;
	if (git_remote_default_branch(&buf, t->remote) == 0) {
		t->head = grove__strdup(buf.ptr);
		git_buf_dispose(&buf);
		if (!t->head)
			return GROVE_ENOMEM;
	}
	git_error_clear();
	return 0;
}

int grove__transport_connect(grove__transport **out, grove *g, const char *url, int push,
	const char *what, const grove_sync_opts *opts)
{
	grove__transport *t = grove__calloc(1, sizeof(*t));
	git_odb_backend *be = NULL;
	git_remote_create_options ro;
	int err, rc;

	if (!t)
		return GROVE_ENOMEM;
	t->g = g;
	t->opts = opts ? opts : &default_opts;
	if (!push && grove__native_handles(url)) {
		if ((rc = grove__native_fetch_connect(&t->native, g, url, what, opts)) < 0) {
			free(t);
			return rc;
		}
		*out = t;
		return 0;
	}
	t->sink.g = g;
	t->sink.progress = sink_progress;
	t->sink.payload = t;
	if (!(t->what = grove__strdup(what)) || (rc = grove_url_redact(url, &t->shown_url)) < 0 ||
	    (rc = grove__url_userinfo(url, &t->url_user, &t->url_pass)) < 0) {
		rc = GROVE_ENOMEM;
		goto fail;
	}
	t->user = t->opts->username ? t->opts->username : t->url_user ? t->url_user : getenv("GROVE_REMOTE_USER");
	t->pass = t->opts->password ? t->opts->password : t->opts->token ? t->opts->token :
		t->url_pass ? t->url_pass : getenv("GROVE_REMOTE_PASSWORD");
	if (!t->pass)
		t->pass = getenv("GROVE_REMOTE_TOKEN");
	if (t->pass && !t->user)
		t->user = "x-access-token";
	t->secrets[0] = t->pass;
	t->secrets[1] = t->url_pass;
	t->secrets[2] = getenv("GROVE_REMOTE_PASSWORD");
	t->secrets[3] = getenv("GROVE_REMOTE_TOKEN");

	git_libgit2_init();
	t->lg2_inited = 1;
	t->streams.timeout_ms = grove__sync_opts_timeout_ms(t->opts);
	t->streams.cancel = t->opts->cancel;
	if ((err = grove__lg2_stream_register()) < 0) {
		rc = lg2_fail(t, err);
		goto fail;
	}
	/* The store's objects are checked when stored; libgit2 need not hash
	 * every object it reads back (the pack builder reads many). */
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 0);
	/* An in-memory repository: objects from the store, refs in a table
	 * (lg2_refdb.c), the user's and system git config as an on-disk
	 * repository would read them.  Nothing is created in $TMPDIR. */
	if ((err = git_repository_new(&t->repo)) < 0 || (err = git_odb_new(&t->odb)) < 0) {
		rc = lg2_fail(t, err);
		goto fail;
	}
	if ((rc = grove__lg2_odb_backend_new(&be, g, &t->sink)) < 0)
		goto fail;
	if ((err = git_odb_add_backend(t->odb, be, 1)) < 0) {
		be->free(be);
		rc = lg2_fail(t, err);
		goto fail;
	}
	git_repository_set_odb(t->repo, t->odb);
	{
		git_refdb *refdb = NULL;
		git_refdb_backend *rb = NULL;
		git_config *cfg = NULL;
		if ((rc = grove__lg2_refdb_backend_new(&rb, push ? NULL : g)) < 0)
			goto fail;
		if ((err = git_refdb_new(&refdb, t->repo)) < 0 || (err = git_refdb_set_backend(refdb, rb)) < 0) {
			rb->free(rb); /* not taken by the refdb on failure */
			git_refdb_free(refdb);
			rc = lg2_fail(t, err);
			goto fail;
		}
		git_repository_set_refdb(t->repo, refdb);
		git_refdb_free(refdb);
		if (git_config_open_default(&cfg) < 0 && (err = git_config_new(&cfg)) < 0) {
			rc = lg2_fail(t, err);
			goto fail;
		}
		git_error_clear();
		git_repository_set_config(t->repo, cfg);
		git_config_free(cfg);
	}

	git_remote_init_callbacks(&t->cb, GIT_REMOTE_CALLBACKS_VERSION);
	t->cb.credentials = cb_credentials;
	/* Always: also to refuse any ssh host key (cb_certificate). */
	t->cb.certificate_check = cb_certificate;
	t->cb.transfer_progress = cb_transfer;
	t->cb.sideband_progress = cb_sideband;
	t->cb.pack_progress = cb_pack_progress;
	t->cb.push_transfer_progress = cb_push_transfer;
	t->cb.push_update_reference = cb_push_update;
	t->cb.payload = t;
	/* url.<base>.insteadOf rewrites are skipped: libgit2 1.5 leaks pcre2
	 * match data on that path, and grove's remotes are full URLs. */
	git_remote_create_options_init(&ro, GIT_REMOTE_CREATE_OPTIONS_VERSION);
	ro.repository = t->repo;
	ro.flags = GIT_REMOTE_CREATE_SKIP_INSTEADOF | GIT_REMOTE_CREATE_SKIP_DEFAULT_FETCHSPEC;
	if ((err = git_remote_create_with_opts(&t->remote, url, &ro)) < 0) {
		rc = lg2_fail(t, err);
		goto fail;
	}
	if (report(t, GROVE_SYNC_CONNECTING, 0, 0, 0)) {
		rc = lg2_fail(t, GIT_EUSER);
		goto fail;
	}
	grove__lg2_stream_use(&t->streams);
	err = git_remote_connect(t->remote, push ? GIT_DIRECTION_PUSH : GIT_DIRECTION_FETCH, &t->cb, NULL, NULL);
	grove__lg2_stream_use(NULL);
	if (err < 0) {
		rc = lg2_fail(t, err);
		goto fail;
	}
	if ((rc = load_refs(t)) < 0)
		goto fail;
	*out = t;
	return 0;
fail:
	grove__transport_close(t);
	return rc;
}

int grove__transport_refs(grove__transport *t, const grove__remote_ref **refs, size_t *count,
	const char **head)
{
	if (t->native) {
		grove__native_fetch_refs(t->native, refs, count, head);
		return 0;
	}
	*refs = t->refs;
	*count = t->nrefs;
	*head = t->head;
	return 0;
}

int grove__transport_download(grove__transport *t, const grove__object **objects, size_t *count)
{
	static char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	git_strarray arr = { specs, 2 };
	git_fetch_options fo;
	int err;
	if (t->native)
		return grove__native_fetch_download(t->native, objects, count);
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks = t->cb;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	grove__lg2_stream_use(&t->streams);
	err = git_remote_download(t->remote, &arr, &fo);
	grove__lg2_stream_use(NULL);
	if (err < 0)
		return lg2_fail(t, err);
	if (t->sink.failed_code)
		return lg2_fail(t, -1);
	*objects = t->sink.recs;
	*count = t->sink.n;
	return 0;
}

/* The remote already has dst at cmd's id (as advertised).  Deletes are
 * always sent: the remote says whether the ref existed. */
static int push_is_noop(const grove__transport *t, const grove__push_cmd *cmd)
{
	if (grove_oid_is_zero(&cmd->src))
		return 0;
	for (size_t i = 0; i < t->nrefs; i++)
		if (!strcmp(t->refs[i].name, cmd->dst))
			return grove_oid_cmp(&t->refs[i].id, &cmd->src) == 0;
	return 0;
}

int grove__transport_push(grove__transport *t, grove__push_cmd *cmds, size_t count)
{
	git_push_options po;
	git_strarray arr = { NULL, 0 };
	int err, rc = 0;

	t->push_cmds = cmds;
	t->npush = count;
	if (!(arr.strings = grove__calloc(count ? count : 1, sizeof(char *))))
		return GROVE_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		char local[64];
		git_reference *ref = NULL;
		git_oid oid;
		/* Up to date: like git, send nothing (libgit2 would send the
		 * command and an empty pack, which costs the server a full
		 * receive-pack run, ~50 ms with git daemon). */
		if (push_is_noop(t, &cmds[i]))
			continue;
		snprintf(local, sizeof(local), "refs/grove-push/%zu", i);
		if (!grove_oid_is_zero(&cmds[i].src)) {
			memcpy(oid.id, cmds[i].src.id, GROVE_OID_RAWSZ);
			if ((err = git_reference_create(&ref, t->repo, local, &oid, 1, NULL)) < 0) {
				rc = lg2_fail(t, err);
				goto out;
			}
			git_reference_free(ref);
		} else {
			local[0] = '\0';
		}
		if (asprintf(&arr.strings[arr.count], "%s%s:%s", cmds[i].force ? "+" : "", local, cmds[i].dst) < 0) {
			arr.strings[arr.count] = NULL;
			rc = grove__error_oom();
			goto out;
		}
		arr.count++;
	}
	if (!arr.count)
		goto out;
	git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
	po.callbacks = t->cb;
	po.pb_parallelism = 1;
	grove__lg2_stream_use(&t->streams);
	err = git_remote_upload(t->remote, &arr, &po);
	grove__lg2_stream_use(NULL);
	if (err < 0)
		rc = lg2_fail(t, err);
out:
	for (size_t i = 0; i < arr.count; i++)
		free(arr.strings[i]);
	free(arr.strings);
	return rc;
}

void grove__transport_close(grove__transport *t)
{
	if (!t)
		return;
	grove__native_fetch_close(t->native);
	if (t->remote) {
		grove__lg2_stream_use(&t->streams);
		git_remote_disconnect(t->remote);
		grove__lg2_stream_use(NULL);
		git_remote_free(t->remote);
	}
	git_repository_free(t->repo);
	git_odb_free(t->odb);
	grove__lg2_sink_dispose(&t->sink);
	for (size_t i = 0; i < t->nrefs; i++)
		free(t->refs[i].name);
	free(t->refs);
	free(t->head);
	free(t->url_user);
	free(t->url_pass);
	free(t->what);
	free(t->shown_url);
	if (t->lg2_inited)
		git_libgit2_shutdown();
	free(t);
}
