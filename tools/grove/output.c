/* Text and JSON renderings of commits, entries and diffs. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void out_format_date(char *buf, size_t len, int64_t t, int tz_offset)
{
	time_t local = (time_t)(t + (int64_t)tz_offset * 60);
	struct tm tm;
	char stamp[64];
	int off = tz_offset < 0 ? -tz_offset : tz_offset;
	if (!gmtime_r(&local, &tm)) {
		snprintf(buf, len, "@%" PRId64, t);
		return;
	}
	/* git's default format: "Thu Apr 7 15:13:13 2005 -0700". */
	strftime(stamp, sizeof(stamp), "%a %b ", &tm);
	snprintf(buf, len, "%s%d %02d:%02d:%02d %d %c%02d%02d", stamp, tm.tm_mday, tm.tm_hour,
		tm.tm_min, tm.tm_sec, tm.tm_year + 1900, tz_offset < 0 ? '-' : '+', off / 60, off % 60);
}

void out_commit_header(const grove_commit *commit)
{
	char hex[GROVE_OID_HEXSZ + 1], date[96];
	const char *m = commit->message ? commit->message : "";
	printf("commit %s\n", grove_oid_tohex(hex, &commit->id));
	if (commit->parent_count > 1) {
		fputs("Merge:", stdout);
		for (size_t i = 0; i < commit->parent_count; i++)
			printf(" %.7s", grove_oid_tohex(hex, &commit->parents[i]));
		fputc('\n', stdout);
	}
	printf("Author: %s <%s>\n", commit->author.name ? commit->author.name : "",
		commit->author.email ? commit->author.email : "");
	out_format_date(date, sizeof(date), commit->author.time, commit->author.tz_offset);
	printf("Date:   %s\n\n", date);
	/* The message indented by four spaces, as git log does. */
	while (*m) {
		const char *nl = strchr(m, '\n');
		size_t n = nl ? (size_t)(nl - m) : strlen(m);
		if (n)
			printf("    %.*s\n", (int)n, m);
		else
			fputc('\n', stdout);
		m += n + (nl ? 1 : 0);
	}
}

void out_json_person(json_writer *w, const char *key, const grove_person *p)
{
	char date[96];
	json_key(w, key);
	json_object_begin(w);
	json_kv_string(w, "name", p->name ? p->name : "");
	json_kv_string(w, "email", p->email ? p->email : "");
	json_kv_int(w, "time", p->time);
	json_kv_int(w, "tz_offset", p->tz_offset);
	out_format_date(date, sizeof(date), p->time, p->tz_offset);
	json_kv_string(w, "date", date);
	json_object_end(w);
}

void out_json_commit(json_writer *w, const grove_commit *commit)
{
	char hex[GROVE_OID_HEXSZ + 1];
	json_kv_string(w, "id", grove_oid_tohex(hex, &commit->id));
	json_kv_string(w, "tree", grove_oid_tohex(hex, &commit->tree));
	json_key(w, "parents");
	json_array_begin(w);
	for (size_t i = 0; i < commit->parent_count; i++)
		json_string(w, grove_oid_tohex(hex, &commit->parents[i]));
	json_array_end(w);
	out_json_person(w, "author", &commit->author);
	out_json_person(w, "committer", &commit->committer);
	json_kv_string(w, "message", commit->message ? commit->message : "");
}

const char *out_kind_name(grove_kind kind)
{
	switch (kind) {
	case GROVE_KIND_VALUE: return "value";
	case GROVE_KIND_EXECUTABLE: return "executable";
	case GROVE_KIND_SYMLINK: return "symlink";
	case GROVE_KIND_DIR: return "dir";
	case GROVE_KIND_SUBMODULE: return "submodule";
	}
	return "unknown";
}

const char *out_diff_status(grove_diff_kind kind)
{
	switch (kind) {
	case GROVE_DIFF_ADDED: return "A";
	case GROVE_DIFF_REMOVED: return "D";
	case GROVE_DIFF_MODIFIED: return "M";
	}
	return "?";
}

void out_json_diff(json_writer *w, const grove_diff *diff)
{
	char hex[GROVE_OID_HEXSZ + 1], mode[16];
	json_key(w, "changes");
	json_array_begin(w);
	for (size_t i = 0; i < diff->count; i++) {
		const grove_diff_entry *e = &diff->entries[i];
		json_object_begin(w);
		json_kv_string(w, "status", out_diff_status(e->kind));
		json_kv_string(w, "path", e->path);
		json_key(w, "old_id");
		if (grove_oid_is_zero(&e->old_id))
			json_null(w);
		else
			json_string(w, grove_oid_tohex(hex, &e->old_id));
		json_key(w, "new_id");
		if (grove_oid_is_zero(&e->new_id))
			json_null(w);
		else
			json_string(w, grove_oid_tohex(hex, &e->new_id));
		snprintf(mode, sizeof(mode), "%06o", (unsigned)e->old_mode);
		json_kv_string(w, "old_mode", mode);
		snprintf(mode, sizeof(mode), "%06o", (unsigned)e->new_mode);
		json_kv_string(w, "new_mode", mode);
		json_object_end(w);
	}
	json_array_end(w);
}

int out_write_all(const void *data, size_t len)
{
	if (len && fwrite(data, 1, len, stdout) != len)
		return -1;
	return 0;
}

int out_write_stdout_unbuffered(void *payload, const void *data, size_t len)
{
	const char *p = data;
	(void)payload;
	while (len) {
		ssize_t n = write(STDOUT_FILENO, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}
