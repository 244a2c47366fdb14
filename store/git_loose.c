#include "git_loose.h"
#include "error.h"
#include "object.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* Objects larger than this are refused rather than allocated. */
#define LOOSE_MAX_SIZE ((size_t)1 << 30)

static int slurp(const char *path, unsigned char **data, size_t *len)
{
	struct stat st;
	unsigned char *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		return grove__error_set(grove__error_from_errno(errno), "git: cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) < 0 || st.st_size < 0 || (uint64_t)st.st_size > LOOSE_MAX_SIZE) {
		close(fd);
		return grove__error_set(GROVE_ECORRUPT, "git: loose object %s is unreadable or too large", path);
	}
	buf = grove__malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return GROVE_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	*data = buf;
	*len = got;
	return 0;
}

/* Inflates into dst[0..cap); returns bytes produced, or -1 on damage. */
static int inflate_some(z_stream *zs, unsigned char *dst, size_t cap, int *ended)
{
	int zr;
	zs->next_out = dst;
	zs->avail_out = (uInt)cap;
	zr = inflate(zs, Z_NO_FLUSH);
	*ended = zr == Z_STREAM_END;
	if (zr != Z_OK && zr != Z_STREAM_END && !(zr == Z_BUF_ERROR && zs->avail_out == 0))
		return -1;
	return (int)(cap - zs->avail_out);
}

int grove__git_loose_read(const char *objects_dir, const grove_oid *id, grove_otype *type,
	size_t *size, grove_buf *out)
{
	char hex[GROVE_OID_HEXSZ + 1], path[PATH_MAX];
	unsigned char *file = NULL, hdr[64], *content = NULL;
	size_t file_len = 0, objsize = 0, hlen, have;
	z_stream zs = { 0 };
	grove_otype t;
	int err, ended = 0, n;
	const unsigned char *sp, *nul;

	grove_oid_tohex(hex, id);
	if (snprintf(path, sizeof(path), "%s/%.2s/%s", objects_dir, hex, hex + 2) >= (int)sizeof(path))
		return grove__error_set(GROVE_EINVALID, "git: objects path too long");
	if ((err = slurp(path, &file, &file_len)) != 0)
		return err;
	if (inflateInit(&zs) != Z_OK) {
		free(file);
		return grove__error_oom();
	}
	zs.next_in = file;
	zs.avail_in = (uInt)file_len;
	n = inflate_some(&zs, hdr, sizeof(hdr), &ended);
	if (n <= 0)
		goto corrupt;
	nul = memchr(hdr, '\0', (size_t)n);
	sp = memchr(hdr, ' ', (size_t)n);
	if (!nul || !sp || sp > nul)
		goto corrupt;
	t = grove__otype_from_name((const char *)hdr, (size_t)(sp - hdr));
	if (t == GROVE_OBJ_BAD)
		goto corrupt;
	for (const unsigned char *p = sp + 1; p < nul; p++) {
		if (*p < '0' || *p > '9' || objsize > LOOSE_MAX_SIZE)
			goto corrupt;
		objsize = objsize * 10 + (size_t)(*p - '0');
	}
	if (objsize > LOOSE_MAX_SIZE)
		goto corrupt;
	if (!out)
		goto done;
	hlen = (size_t)(nul - hdr) + 1;
	have = (size_t)n - hlen;
	if (have > objsize)
		goto corrupt;
	content = grove__malloc(objsize + 1);
	if (!content) {
		err = GROVE_ENOMEM;
		goto fail;
	}
	memcpy(content, hdr + hlen, have);
	while (have < objsize && !ended) {
		n = inflate_some(&zs, content + have, objsize - have, &ended);
		if (n < 0 || (n == 0 && !ended && zs.avail_in == 0))
			goto corrupt;
		have += (size_t)n;
	}
	if (have != objsize)
		goto corrupt;
	if (!ended) {
		/* The stream must end exactly here: one more byte would be too long. */
		unsigned char extra;
		n = inflate_some(&zs, &extra, 1, &ended);
		if (n != 0 || !ended)
			goto corrupt;
	}
	content[objsize] = '\0';
	out->data = content;
	out->size = objsize;
	content = NULL;
done:
	inflateEnd(&zs);
	free(file);
	if (type)
		*type = t;
	if (size)
		*size = objsize;
	return 0;
corrupt:
	err = grove__error_set(GROVE_ECORRUPT, "git: loose object %s is damaged or truncated", hex);
fail:
	inflateEnd(&zs);
	free(content);
	free(file);
	return err;
}
