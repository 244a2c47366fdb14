/* PUT preconditions of CalDAV (RFC 4791 5.3.2.1) and CardDAV (RFC 6352
 * 6.3.2.1) beyond validation: max-resource-size and no-uid-conflict.  The
 * UIDs of the members come from a per-collection UID map
 * (grove__dav_uid_map_find): a probe when the collection did not change,
 * else a listing and the summaries of the changed members only. */
#include "dav_report_index.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>

int grove__dav_put_size_check(size_t len)
{
	return len > DAV_MAX_RESOURCE_SIZE ? 403 : 0;
}

int grove__dav_put_uid_check(grove__dav_ctx *c, grove_view *base, const char *data, size_t len,
			     char **conflict_href)
{
	*conflict_href = NULL;
	grove *g = c->srv->st.g;
	grove__dav_family fam = c->path.family;
	grove_oid blob;
	grove__dav_summary mine;
	if (grove_object_hash(GROVE_OBJ_BLOB, data, len, &blob) < 0 ||
	    grove__dav_summary_get(g, &blob, fam, data, len, &mine) < 0)
		return 500;
	if (!mine.uid) {
		grove__dav_summary_dispose(&mine);
		return 0;
	}
	grove__sbuf key = GROVE_SBUF_INIT;
	char *other = NULL;
	int status = 0;
	int found = 0;
	if (grove__sbuf_printf(&key, "%s/%s/%s", c->path.user, grove__dav_family_dir(fam),
			       c->path.coll) < 0)
		status = 500;
	else
		found = grove__dav_uid_map_find(g, base, fam, key.data, mine.uid, c->path.name,
						&other);
	if (found < 0)
		status = 500;
	if (found > 0) {
		/* the href of the resource that holds the UID already */
		grove__sbuf h = GROVE_SBUF_INIT;
		size_t plen = strlen(c->path.href) - strlen(c->path.name);
		if (grove__sbuf_put(&h, c->path.href, plen) < 0 ||
		    grove__dav_href_segment(&h, other) < 0 ||
		    !(*conflict_href = grove__sbuf_detach(&h, NULL)))
			status = 500;
		else
			status = 403;
		grove__sbuf_dispose(&h);
	}
	free(other);
	grove__sbuf_dispose(&key);
	grove__dav_summary_dispose(&mine);
	return status;
}

void grove__dav_send_uid_conflict(grove__dav_ctx *c, const char *href)
{
	const char *ns = c->path.family == DAV_CAL ? DAV_NS_CALDAV : DAV_NS_CARDDAV;
	grove__dav_xw w;
	grove__dav_xw_init(&w);
	grove__dav_xw_root(&w, DAV_NS_DAV, "error");
	grove__dav_xw_open(&w, ns, "no-uid-conflict");
	grove__dav_xw_leaf(&w, DAV_NS_DAV, "href", href);
	grove__dav_xw_close(&w);
	grove__dav_xw_close(&w);
	grove__dav_send_xml(c, 403, &w);
	grove__dav_xw_dispose(&w);
}
