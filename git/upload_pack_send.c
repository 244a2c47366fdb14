/*
 * upload-pack: the pack step.  Enumerates the objects, then streams the
 * pack from grove__pack_write straight out, wrapped in side-band band-1
 * pkt-lines (full packets: fewer writes) or raw when no side-band.
 */
#include "upload_pack_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "pack.h"

typedef struct {
	grove__upload_pack *up;
	int sideband;
	size_t max_data;
	char *buf;       /* 5-byte header room, then data */
	size_t len;      /* data bytes in buf */
	size_t total;
} band_writer;

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int bw_emit(band_writer *bw)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = bw->len + 5;
	int rc;
	if (!bw->len)
		return 0;
	bw->buf[0] = digits[(n >> 12) & 15];
	bw->buf[1] = digits[(n >> 8) & 15];
	bw->buf[2] = digits[(n >> 4) & 15];
	bw->buf[3] = digits[n & 15];
	bw->buf[4] = 1;
	rc = bw->up->write(bw->up->write_payload, bw->buf, n);
	bw->len = 0;
	if (rc != 0)
		return rc < 0 ? rc : grove__error_set(GROVE_EIO, "upload-pack: output closed (%d)", rc);
	return 0;
}

static int bw_write(void *payload, const void *data, size_t len)
{
	band_writer *bw = payload;
	const char *p = data;
	int rc;
	bw->total += len;
	if (!bw->sideband) {
		rc = bw->up->write(bw->up->write_payload, data, len);
		return rc == 0 ? 0 : rc < 0 ? rc : grove__error_set(GROVE_EIO, "upload-pack: output closed");
	}
	while (len) {
		size_t n = bw->max_data - bw->len;
		if (n > len)
			n = len;
		memcpy(bw->buf + 5 + bw->len, p, n);
		bw->len += n;
		p += n;
		len -= n;
		if (bw->len == bw->max_data && (rc = bw_emit(bw)) < 0)
			return rc;
	}
	return 0;
}

static int client_has_cb(void *payload, const grove_oid *id)
{
	return grove__oidset_contains(payload, id);
}

int grove__up_send_pack(grove__upload_pack *up)
{
	up_oids ids = { 0 };
	grove__oidset client = GROVE__OIDSET_INIT;
	grove__pack_write_opts po;
	grove__pack_write_stats st;
	band_writer bw;
	int thin = (up->r.caps & UP_THIN_PACK) != 0;
	double t0 = now_seconds(), t1;
	int rc;

	memset(&bw, 0, sizeof(bw));
	bw.up = up;
	bw.sideband = grove__up_sideband_on(up);
	bw.max_data = (up->o.version == GROVE__PROTOCOL_V2 || (up->r.caps & UP_SIDE_BAND_64K)) ?
		GROVE__SIDEBAND64K_DATA_MAX : GROVE__SIDEBAND_DATA_MAX;
	up->sideband_live = bw.sideband;

	if ((rc = grove__up_flush_out(up)) < 0)
		goto out;
	rc = grove__up_enumerate(up, &ids, thin ? &client : NULL);
	if (rc < 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", grove_error_message());
		rc = grove__up_fail(up, rc, "upload-pack: enumerating objects: %s", msg);
		goto out;
	}
	t1 = now_seconds();
	up->sum.enumerate_seconds = t1 - t0;
	if ((rc = grove__up_progress(up, "Enumerating objects: %zu, done.\n", ids.count)) < 0)
		goto out;

	if (bw.sideband && !(bw.buf = grove__malloc(GROVE__PKT_MAX))) {
		rc = GROVE_ENOMEM;
		goto out;
	}
	memset(&po, 0, sizeof(po));
	po.write = bw_write;
	po.write_payload = &bw;
	po.allow_thin = thin;
	po.client_has = thin ? client_has_cb : NULL;
	po.client_payload = &client;
	po.compression_level = 1;
	rc = grove__pack_write(up->g->be, ids.ids, ids.count, &po, &st);
	if (rc == 0)
		rc = bw_emit(&bw);
	if (rc < 0) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s", grove_error_message());
		rc = grove__up_fail(up, rc, "upload-pack: writing the pack: %s", msg);
		goto out;
	}
	up->sum.wants = up->r.wants.count;
	up->sum.haves = up->r.haves;
	up->sum.common = up->r.common.count;
	up->sum.objects = st.object_count;
	up->sum.reused_deltas = st.reused_deltas;
	up->sum.pack_bytes = bw.total;
	up->sum.pack_seconds = now_seconds() - t1;
	rc = grove__up_progress(up, "Total %zu (delta %zu), reused %zu (delta %zu), pack-reused 0\n",
		st.object_count, st.reused_deltas, st.reused_deltas + st.reused_zlib, st.reused_deltas);
out:
	free(bw.buf);
	grove__oidvec_dispose(&ids);
	grove__oidset_dispose(&client);
	return rc;
}
