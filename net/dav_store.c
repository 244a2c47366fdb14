/* Writes of the DAV layer: one optimistic transaction per request, with
 * rebase-and-recheck when another writer moved the branch meanwhile. */
#include "dav_store.h"
#include "dav_journal.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAV_MAX_ATTEMPTS 32

void grove__dav_etag(char out[GROVE_OID_HEXSZ + 3], const grove_oid *blob)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove_oid_tohex(hex, blob);
	snprintf(out, GROVE_OID_HEXSZ + 3, "\"%s\"", hex);
}

int grove__dav_view(grove__dav_store *st, grove_view **out)
{
	return grove_view_open(out, st->g, st->branch);
}

static int store_status(int rc)
{
	if (rc == GROVE_ENOSPC)
		return 507;
	if (rc == GROVE_EREADONLY)
		return 403;
	return 500;
}

static int view_at(grove__dav_store *st, const grove_oid *commit, grove_view **out)
{
	if (grove_oid_is_zero(commit))
		return grove_view_open(out, st->g, st->branch); /* unborn: empty */
	return grove_view_open_commit(out, st->g, commit);
}

/* Runs fn against a view of the transaction's base. */
static int check_base(grove__dav_store *st, grove_txn *txn,
		      int (*fn)(void *, grove_txn *, grove_view *),
		      int (*refn)(void *, grove_view *), void *arg)
{
	grove_view *v;
	if (view_at(st, grove_txn_base(txn), &v) < 0)
		return 500;
	int status = fn ? fn(arg, txn, v) : refn(arg, v);
	grove_view_free(v);
	return status;
}

static int message(grove__sbuf *m, const grove__dav_change *c)
{
	int rc = grove__sbuf_printf(m, "%s %s\n\nDAV-User: %s\n", c->method, c->resource, c->user);
	if (rc == 0 && c->detail)
		rc = grove__sbuf_printf(m, "%s\n", c->detail);
	if (rc == 0 && c->user_agent) {
		/* keep the header's text on one line */
		rc = grove__sbuf_puts(m, "User-Agent: ");
		for (const char *p = c->user_agent; *p && rc == 0; p++)
			rc = grove__sbuf_putc(m, (*p == '\n' || *p == '\r') ? ' ' : *p);
		if (rc == 0)
			rc = grove__sbuf_putc(m, '\n');
	}
	return rc;
}

int grove__dav_commit(grove__dav_store *st, const grove__dav_write *w,
		      const grove__dav_change *change, grove_oid *commit_out)
{
	grove__sbuf msg = GROVE_SBUF_INIT, email = GROVE_SBUF_INIT;
	if (message(&msg, change) < 0 ||
	    grove__sbuf_printf(&email, "%s@%s", change->user,
			       st->mail_domain ? st->mail_domain : "localhost") < 0) {
		grove__sbuf_dispose(&msg);
		grove__sbuf_dispose(&email);
		return 500;
	}
	grove_signature sig = { change->user, email.data, 0, 0 };
	grove_commit_opts co = { &sig, NULL, msg.data };
	grove_txn *txn = NULL;
	int status = 503;
	for (int attempt = 0; attempt < DAV_MAX_ATTEMPTS; attempt++) {
		if (!txn) {
			if (grove_txn_begin(&txn, st->g, st->branch) < 0) {
				status = store_status(grove_error_code());
				break;
			}
			status = check_base(st, txn, w->build, NULL, w->arg);
			if (status)
				break;
		}
		int rc = grove_txn_commit(txn, &co, commit_out);
		if (rc == 0) {
			status = 0;
			/* what this commit changed, for sync-collection (dav_journal.h) */
			if (commit_out && grove__dav_journal_record(st->g, commit_out) < 0)
				grove_error_clear();
			break;
		}
		if (rc != GROVE_EHEADMOVED) {
			status = store_status(rc);
			break;
		}
		/* Someone else committed first: replay onto their head and check
		 * our preconditions again there, or start over. */
		if (w->recheck && grove_txn_rebase(txn) == 0) {
			status = check_base(st, txn, NULL, w->recheck, w->arg);
			if (status)
				break;
		} else {
			grove_txn_free(txn);
			txn = NULL;
		}
		status = 503;
	}
	grove_txn_free(txn);
	grove__sbuf_dispose(&msg);
	grove__sbuf_dispose(&email);
	return status;
}
