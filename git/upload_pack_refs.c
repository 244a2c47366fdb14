/* upload-pack: the ref snapshot, the v0 advertisement and v2 ls-refs. */
#include "upload_pack_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "object.h"
#include "oid.h"

#define MAX_TAG_CHAIN 64

int grove__up_peel(grove *g, const grove_oid *id, grove_oid *peeled)
{
	grove_oid cur = *id;
	int is_tag = 0;
	for (int depth = 0; depth < MAX_TAG_CHAIN; depth++) {
		grove_otype type;
		size_t size;
		grove_buf buf = { 0 };
		grove__tag tag;
		int rc = g->be->ops->read_header(g->be, &cur, &type, &size);
		if (rc < 0)
			return rc;
		if (type != GROVE_OBJ_TAG) {
			*peeled = cur;
			return is_tag;
		}
		is_tag = 1;
		if ((rc = grove__read(g, &cur, GROVE_OBJ_TAG, &buf)) < 0)
			return rc;
		rc = grove__tag_parse(buf.data, buf.size, &tag);
		grove_buf_dispose(&buf);
		if (rc < 0)
			return rc;
		cur = tag.target;
		grove__tag_dispose(&tag);
	}
	return grove__error_set(GROVE_ECORRUPT, "tag chain longer than %d", MAX_TAG_CHAIN);
}

/*
 * The backend's peeled-ref cache when it has one (no object read: peeling
 * thousands of tags otherwise touches pages all over the store), else the
 * objects themselves.
 */
static int peel_ref(grove *g, up_ref *r)
{
	grove_backend *be = g->be;
	if (be->ops->ref_peeled) {
		int rc = be->ops->ref_peeled(be, r->name, &r->id, &r->peeled);
		if (rc == 0)
			r->peeled = r->id;
		if (rc != GROVE_ENOTFOUND)
			return rc;
		grove_error_clear();
	}
	return grove__up_peel(g, &r->id, &r->peeled);
}

static int collect_ref(const char *name, const grove_oid *id, void *payload)
{
	grove__upload_pack *up = payload;
	up_ref *n = grove__realloc(up->refs, (up->nrefs + 1) * sizeof(*n));
	if (!n)
		return GROVE_ENOMEM;
	up->refs = n;
	memset(&n[up->nrefs], 0, sizeof(n[0]));
	if (!(n[up->nrefs].name = grove__strdup(name)))
		return GROVE_ENOMEM;
	n[up->nrefs].id = *id;
	up->nrefs++;
	return 0;
}

void grove__up_refs_dispose(grove__upload_pack *up)
{
	for (size_t i = 0; i < up->nrefs; i++)
		free(up->refs[i].name);
	free(up->refs);
	up->refs = NULL;
	up->nrefs = 0;
	free(up->head_target);
	up->head_target = NULL;
	up->head_born = 0;
	grove__oidset_dispose(&up->tips);
	up->refs_loaded = 0;
}

/* One consistent look at the refs: what we advertise is what we accept. */
int grove__up_refs_load(grove__upload_pack *up)
{
	int rc;
	char *target = NULL;
	if (up->refs_loaded)
		return 0;
	if ((rc = grove_ref_foreach(up->g, "refs/", collect_ref, up)) < 0)
		goto fail;
	for (size_t i = 0; i < up->nrefs; i++) {
		up_ref *r = &up->refs[i];
		rc = peel_ref(up->g, r);
		if (rc < 0)
			goto fail;
		r->has_peeled = rc == 1;
		if ((rc = grove__oidset_add(&up->tips, &r->id)) < 0 ||
		    (r->has_peeled && (rc = grove__oidset_add(&up->tips, &r->peeled)) < 0))
			goto fail;
	}
	rc = up->g->be->ops->head_read(up->g->be, &target);
	if (rc == 0 && target) {
		up->head_target = target;
		for (size_t i = 0; i < up->nrefs; i++) {
			if (!strcmp(up->refs[i].name, target)) {
				up->head_born = 1;
				up->head_id = up->refs[i].id;
			}
		}
	} else if (rc < 0 && rc != GROVE_ENOTFOUND) {
		goto fail;
	}
	up->refs_loaded = 1;
	return 0;
fail:
	{
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", grove_error_message());
		grove__up_refs_dispose(up);
		return grove__up_fail(up, rc, "upload-pack: reading refs: %s", msg);
	}
}

static int v0_caps(grove__upload_pack *up, grove__sbuf *caps)
{
	int rc = grove__sbuf_puts(caps,
		"multi_ack_detailed no-done side-band-64k side-band ofs-delta thin-pack"
		" include-tag no-progress shallow deepen-since deepen-not deepen-relative"
		" filter allow-tip-sha1-in-want allow-reachable-sha1-in-want");
	if (rc == 0 && up->head_born)
		rc = grove__sbuf_printf(caps, " symref=HEAD:%s", up->head_target);
	if (rc == 0)
		rc = grove__sbuf_puts(caps, " object-format=sha1 agent=" GROVE__GIT_AGENT);
	return rc;
}

int grove__up_advertise_v0(grove__upload_pack *up)
{
	char hex[GROVE_OID_HEXSZ + 1];
	grove__sbuf caps = GROVE_SBUF_INIT;
	int rc, first = 1;

	if ((rc = grove__up_refs_load(up)) < 0)
		return rc;
	if ((rc = v0_caps(up, &caps)) < 0)
		goto done;
	if (up->head_born) {
		rc = grove__pkt_printf(&up->out, "%s HEAD%c%s\n", grove_oid_tohex(hex, &up->head_id), 0, caps.data);
		first = 0;
	}
	for (size_t i = 0; rc == 0 && i < up->nrefs; i++) {
		const up_ref *r = &up->refs[i];
		grove_oid_tohex(hex, &r->id);
		if (first)
			rc = grove__pkt_printf(&up->out, "%s %s%c%s\n", hex, r->name, 0, caps.data);
		else
			rc = grove__pkt_printf(&up->out, "%s %s\n", hex, r->name);
		first = 0;
		if (rc == 0 && r->has_peeled)
			rc = grove__pkt_printf(&up->out, "%s %s^{}\n", grove_oid_tohex(hex, &r->peeled), r->name);
	}
	if (rc == 0 && first)
		rc = grove__pkt_printf(&up->out, "%s capabilities^{}%c%s\n",
			grove_oid_tohex(hex, &grove__oid_zero), 0, caps.data);
	if (rc == 0)
		rc = grove__pkt_flush(&up->out);
done:
	grove__sbuf_dispose(&caps);
	return rc;
}

int grove__up_advertise_v2(grove__upload_pack *up)
{
	int rc = grove__pkt_puts(&up->out, "version 2\n");
	if (rc == 0)
		rc = grove__pkt_puts(&up->out, "agent=" GROVE__GIT_AGENT "\n");
	if (rc == 0)
		rc = grove__pkt_puts(&up->out, "ls-refs=unborn\n");
	if (rc == 0)
		rc = grove__pkt_puts(&up->out, "fetch=shallow filter wait-for-done\n");
	if (rc == 0)
		rc = grove__pkt_puts(&up->out, "server-option\n");
	if (rc == 0)
		rc = grove__pkt_puts(&up->out, "object-format=sha1\n");
	if (rc == 0)
		rc = grove__pkt_puts(&up->out, "object-info\n");
	if (rc == 0)
		rc = grove__pkt_flush(&up->out);
	return rc;
}

static int prefix_match(const grove__upload_pack *up, const char *name)
{
	if (!up->ls_prefix_count || up->ls_prefix_count >= 65536)
		return 1;
	for (size_t i = 0; i < up->ls_prefix_count; i++)
		if (!strncmp(name, up->ls_prefixes[i], strlen(up->ls_prefixes[i])))
			return 1;
	return 0;
}

int grove__up_ls_refs(grove__upload_pack *up)
{
	char hex[GROVE_OID_HEXSZ + 1], hex2[GROVE_OID_HEXSZ + 1];
	int rc = 0;
	if (up->head_target && prefix_match(up, "HEAD")) {
		const char *sym = up->ls_symrefs ? " symref-target:" : "";
		const char *target = up->ls_symrefs ? up->head_target : "";
		if (up->head_born)
			rc = grove__pkt_printf(&up->out, "%s HEAD%s%s\n", grove_oid_tohex(hex, &up->head_id),
				sym, target);
		else if (up->ls_unborn)
			rc = grove__pkt_printf(&up->out, "unborn HEAD%s%s\n", sym, target);
	}
	for (size_t i = 0; rc == 0 && i < up->nrefs; i++) {
		const up_ref *r = &up->refs[i];
		if (!prefix_match(up, r->name))
			continue;
		grove_oid_tohex(hex, &r->id);
		if (up->ls_peel && r->has_peeled)
			rc = grove__pkt_printf(&up->out, "%s %s peeled:%s\n", hex, r->name,
				grove_oid_tohex(hex2, &r->peeled));
		else
			rc = grove__pkt_printf(&up->out, "%s %s\n", hex, r->name);
	}
	return rc < 0 ? rc : grove__pkt_flush(&up->out);
}
