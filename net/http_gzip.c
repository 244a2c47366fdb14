/* Inflating Content-Encoding: gzip (and zlib "deflate") request bodies with a
 * hard bound on the output, so a small bomb cannot take the memory. */
#include "http_internal.h"
#include "error.h"

#include <stdlib.h>
#include <zlib.h>

int grove__http_inflate(grove__sbuf *body, size_t max)
{
	z_stream z = { 0 };
	/* 32 + MAX_WBITS: accept both gzip and zlib headers. */
	if (inflateInit2(&z, 32 + MAX_WBITS) != Z_OK)
		return grove__error_set(GROVE_ENOMEM, "inflateInit failed");
	grove__sbuf out = GROVE_SBUF_INIT;
	z.next_in = (Bytef *)body->data;
	z.avail_in = (uInt)body->len;
	int rc = 0, zr = Z_OK;
	while (zr != Z_STREAM_END) {
		if (out.len >= max) {
			rc = grove__error_set(GROVE_ENOSPC, "inflated body over %zu bytes", max);
			break;
		}
		size_t room = max - out.len < 65536 ? max - out.len : 65536;
		if (grove__sbuf_grow(&out, room) < 0) {
			rc = GROVE_ENOMEM;
			break;
		}
		z.next_out = (Bytef *)out.data + out.len;
		z.avail_out = (uInt)room;
		zr = inflate(&z, Z_NO_FLUSH);
		out.len += room - z.avail_out;
		if (zr == Z_STREAM_END)
			break;
		if (zr != Z_OK || (z.avail_in == 0 && z.avail_out != 0)) {
			/* corrupt, or the input ended before the stream did */
			if (zr == Z_BUF_ERROR && out.len >= max)
				continue;
			rc = grove__error_set(GROVE_EINVALID, "bad gzip body");
			break;
		}
	}
	if (rc == 0 && z.avail_in != 0)
		rc = grove__error_set(GROVE_EINVALID, "trailing bytes after gzip body");
	inflateEnd(&z);
	if (rc < 0) {
		grove__sbuf_dispose(&out);
		return rc;
	}
	if (grove__sbuf_put(&out, "", 0) < 0) { /* keep it NUL-terminated */
		grove__sbuf_dispose(&out);
		return GROVE_ENOMEM;
	}
	grove__sbuf_dispose(body);
	*body = out;
	return 0;
}
