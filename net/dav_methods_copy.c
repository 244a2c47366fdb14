/* COPY and MOVE (RFC 4918 9.8, 9.9) of objects between collections and of
 * whole collections within the user's home of the same kind; in the files
 * area of resources and collection trees with their dead properties. */
#include "dav_files.h"
#include "dav_internal.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
	grove__dav_ctx *c;
	grove__dav_path *dst;
	int move, overwrite;
	int depth_zero;  /* files: COPY of a collection without its members */
	int existed;
} copy_op;

/* The files area: any resource or collection onto any free (or, with
 * Overwrite: T, replaced) place whose parent collection exists. */
static int copy_files(copy_op *op, grove_txn *txn, grove_view *base)
{
	grove__dav_ctx *c = op->c;
	grove__dav_res src, dst;
	int status = grove__dav_res_load(c, base, &c->path, &src);
	if (status)
		return status;
	status = grove__dav_res_load(c, base, op->dst, &dst);
	if (status) {
		grove__dav_res_dispose(&src);
		return status;
	}
	size_t sl = strlen(src.key);
	char etag[GROVE_OID_HEXSZ + 3];
	grove__dav_etag(etag, &src.id);
	if (!src.exists)
		status = 404;
	else if ((status = grove__dav_preconditions(c->req, etag, 0)) != 0)
		;
	else if (src.type == DAV_R_COLLECTION && strncmp(dst.key, src.key, sl) == 0 &&
		 dst.key[sl] == '/')
		status = 409; /* into itself */
	else if (!dst.coll_exists)
		status = 409; /* RFC 4918 9.8.5: the destination's parent is missing */
	else if (dst.exists && !op->overwrite)
		status = 412; /* RFC 4918 10.6 */
	op->existed = dst.exists;
	if (status == 0 && dst.exists)
		status = grove__dav_files_remove(txn, &dst); /* 9.8.4: delete first */
	if (status == 0)
		status = grove__dav_files_copy(txn, base, &src, &dst, op->depth_zero);
	if (status == 0 && op->move)
		status = grove__dav_files_remove(txn, &src);
	grove__dav_res_dispose(&src);
	grove__dav_res_dispose(&dst);
	return status;
}

static int copy_build(void *arg, grove_txn *txn, grove_view *base)
{
	copy_op *op = arg;
	grove__dav_ctx *c = op->c;
	grove__dav_res src, dst;
	if (c->path.family == DAV_FILES)
		return copy_files(op, txn, base);
	int status = grove__dav_res_load(c, base, &c->path, &src);
	if (status)
		return status;
	status = grove__dav_res_load(c, base, op->dst, &dst);
	if (status) {
		grove__dav_res_dispose(&src);
		return status;
	}
	char etag[GROVE_OID_HEXSZ + 3];
	grove__dav_etag(etag, &src.id);
	if (!src.exists)
		status = 404;
	else if ((status = grove__dav_preconditions(c->req, etag, 0)) != 0)
		;
	else if (src.type == DAV_R_OBJECT && !dst.coll_exists)
		status = 409; /* the destination collection is missing */
	else if (dst.exists && !op->overwrite)
		status = 412;
	op->existed = dst.exists;
	if (status == 0 && dst.exists && grove_txn_remove(txn, dst.key) < 0)
		status = 500;
	if (status == 0) {
		if (src.type == DAV_R_OBJECT) {
			grove_buf data = { 0 };
			if (grove_view_get(base, src.key, &data) < 0 ||
			    grove_txn_set(txn, dst.key, data.data, data.size) < 0)
				status = 500;
			grove_buf_dispose(&data);
		} else if (grove_txn_set_tree_id(txn, dst.key, &src.id) < 0) {
			status = 500;
		}
	}
	if (status == 0 && op->move && grove_txn_remove(txn, src.key) < 0)
		status = 500;
	grove__dav_res_dispose(&src);
	grove__dav_res_dispose(&dst);
	return status;
}

/* The path of a Destination header: an absolute URI or an absolute path. */
static int destination_path(const char *dest, char **decoded, const char **raw)
{
	const char *p = dest;
	const char *scheme = strstr(dest, "://");
	if (scheme) {
		p = strchr(scheme + 3, '/');
		if (!p)
			return -1;
	}
	if (*p != '/')
		return -1;
	size_t n = strcspn(p, "?#");
	*raw = p;
	return grove__http_percent_decode(decoded, p, n);
}

void grove__dav_do_copymove(grove__dav_ctx *c, int move)
{
	if (c->path.type != DAV_R_OBJECT && c->path.type != DAV_R_COLLECTION) {
		grove__dav_send_status(c, 403);
		return;
	}
	const char *dest = grove__http_req_header(c->req, "Destination");
	const char *ow = grove__http_req_header(c->req, "Overwrite");
	const char *depth = grove__http_req_header(c->req, "Depth");
	int depth_zero = depth && strcmp(depth, "0") == 0;
	if (depth && !depth_zero && strcasecmp(depth, "infinity") != 0) {
		grove__dav_send_status(c, 400); /* RFC 4918 9.8.3: 0 or infinity */
		return;
	}
	if (move && depth_zero) {
		grove__dav_send_status(c, 400); /* RFC 4918 9.9.3: MOVE is infinity */
		return;
	}
	char *decoded = NULL;
	const char *raw = NULL;
	if (!dest || destination_path(dest, &decoded, &raw) < 0) {
		free(decoded);
		grove__dav_send_status(c, 400);
		return;
	}
	grove__dav_path dst;
	int status = grove__dav_path_parse(&dst, c->srv->prefix, decoded, raw);
	free(decoded);
	if (status) {
		grove__dav_send_status(c, status == 404 ? 502 : status);
		return;
	}
	if (!dst.user || strcmp(dst.user, c->user) != 0)
		status = 502; /* RFC 4918 9.8.5: a destination we do not serve */
	else if (dst.family != c->path.family)
		status = 409;
	else if (dst.family == DAV_FILES && dst.type == DAV_R_HOME)
		status = 403; /* the files root is not replaced */
	else if (dst.family != DAV_FILES && dst.type != c->path.type)
		status = 409;
	else if (strcmp(dst.key, c->path.key) == 0)
		status = 403; /* source and destination are the same */
	else if (ow && strcasecmp(ow, "T") != 0 && strcasecmp(ow, "F") != 0)
		status = 400;
	if (status) {
		grove__dav_path_dispose(&dst);
		grove__dav_send_status(c, status);
		return;
	}
	copy_op op = { c, &dst, move, !(ow && strcasecmp(ow, "F") == 0), depth_zero, 0 };
	grove__dav_write w = { copy_build, NULL, &op };
	grove__dav_change ch;
	grove__dav_change_init(c, &ch);
	grove__sbuf detail = GROVE_SBUF_INIT;
	if (grove__sbuf_printf(&detail, "Destination: %s", dst.href) == 0)
		ch.detail = detail.data;
	grove_oid commit;
	status = grove__dav_commit(&c->srv->st, &w, &ch, &commit);
	grove__sbuf_dispose(&detail);
	grove__dav_path_dispose(&dst);
	if (status)
		grove__dav_send_status(c, status);
	else
		grove__http_res_send(c->res, op.existed ? 204 : 201, NULL, NULL, 0);
}
