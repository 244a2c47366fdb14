/*
 * A deterministic synthetic history for W5 when no BENCH_REPO is given:
 * a `git fast-import` stream of N commits over ~300 text files in 15
 * directories.  Each commit makes small edits (a changed, inserted or
 * deleted line in 1-3 files; now and then a new file), so consecutive
 * versions delta well, as in a real source tree.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GEN_DIRS 15
#define GEN_FILES_START 300
#define GEN_FILES_MAX 1000
#define GEN_LINES 80

typedef struct {
	char path[64];
	char **lines;
	size_t count, cap;
} gen_file;

static const char *const words[] = {
	"store", "value", "tree", "commit", "branch", "merge", "delta", "pack", "index",
	"object", "return", "error", "buffer", "length", "static", "const", "size_t", "int",
	"if", "for", "while", "struct", "key", "view", "txn", "head", "ref", "hash", "oid",
	"read", "write", "flush", "sync", "cache", "lock", "free", "alloc", "list", "next",
};

static char *gen_line(uint64_t *seed)
{
	char buf[128];
	size_t len = 0, nwords = 2 + bench_rand(seed) % 9, indent = bench_rand(seed) % 3;
	for (size_t k = 0; k < indent; k++)
		buf[len++] = '\t';
	for (size_t k = 0; k < nwords && len < 100; k++) {
		const char *w = words[bench_rand(seed) % (sizeof(words) / sizeof(words[0]))];
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, k ? " %s" : "%s", w);
	}
	buf[len] = '\0';
	return strdup(buf);
}

static int insert_line(gen_file *f, size_t at, char *line)
{
	if (!line)
		return -1;
	if (f->count == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		char **grown = realloc(f->lines, cap * sizeof(*grown));
		if (!grown)
			return -1;
		f->lines = grown;
		f->cap = cap;
	}
	memmove(f->lines + at + 1, f->lines + at, (f->count - at) * sizeof(*f->lines));
	f->lines[at] = line;
	f->count++;
	return 0;
}

static int new_file(gen_file *f, size_t index, uint64_t *seed)
{
	size_t lines = GEN_LINES / 2 + bench_rand(seed) % (GEN_LINES * 2);
	snprintf(f->path, sizeof(f->path), "src%02zu/file%04zu.c", index % GEN_DIRS, index);
	for (size_t k = 0; k < lines; k++)
		if (insert_line(f, f->count, gen_line(seed)) < 0)
			return -1;
	return 0;
}

static void emit_file(FILE *out, const gen_file *f)
{
	size_t size = 0;
	for (size_t k = 0; k < f->count; k++)
		size += strlen(f->lines[k]) + 1;
	fprintf(out, "M 100644 inline %s\ndata %zu\n", f->path, size);
	for (size_t k = 0; k < f->count; k++) {
		fputs(f->lines[k], out);
		fputc('\n', out);
	}
}

int bench_gen_history(FILE *out, size_t commits)
{
	static const char *const authors[] = {
		"Ada Lovelace <ada@example.org>", "Grace Hopper <grace@example.org>",
		"Linus Pauling <linus@example.org>", "Barbara Liskov <barbara@example.org>",
	};
	gen_file *files = calloc(GEN_FILES_MAX, sizeof(*files));
	size_t nfiles = 0;
	uint64_t seed = 20240601, when = 1500000000;
	if (!files)
		return -1;
	for (; nfiles < GEN_FILES_START; nfiles++)
		if (new_file(&files[nfiles], nfiles, &seed) < 0)
			return -1;
	for (size_t c = 0; c < commits; c++) {
		const char *who = authors[bench_rand(&seed) % 4];
		size_t touched[4], ntouched = 0;
		when += 60 + bench_rand(&seed) % 3600;
		if (c == 0) {
			ntouched = 0;
		} else if (c % 50 == 0 && nfiles < GEN_FILES_MAX) {
			if (new_file(&files[nfiles], nfiles, &seed) < 0)
				return -1;
			touched[ntouched++] = nfiles++;
		} else {
			size_t edits = 1 + bench_rand(&seed) % 3;
			for (size_t k = 0; k < edits; k++) {
				size_t i = (size_t)(bench_rand(&seed) % nfiles);
				gen_file *f = &files[i];
				size_t at = f->count ? (size_t)(bench_rand(&seed) % f->count) : 0;
				unsigned op = (unsigned)(bench_rand(&seed) % 4);
				if (op == 0 && f->count > 10) {
					free(f->lines[at]);
					memmove(f->lines + at, f->lines + at + 1,
						(f->count - at - 1) * sizeof(*f->lines));
					f->count--;
				} else if (op == 1 || f->count == 0) {
					if (insert_line(f, at, gen_line(&seed)) < 0)
						return -1;
				} else {
					free(f->lines[at]);
					f->lines[at] = gen_line(&seed);
					if (!f->lines[at])
						return -1;
				}
				touched[ntouched++] = i;
			}
		}
		fprintf(out, "commit refs/heads/main\nmark :%zu\n", c + 1);
		fprintf(out, "author %s %llu +0000\ncommitter %s %llu +0000\n", who,
			(unsigned long long)when, who, (unsigned long long)when);
		char msg[96];
		int mlen = snprintf(msg, sizeof(msg), "change %zu: %s %s\n", c + 1,
			words[bench_rand(&seed) % 8], words[8 + bench_rand(&seed) % 8]);
		fprintf(out, "data %d\n%s", mlen, msg);
		if (c > 0)
			fprintf(out, "from :%zu\n", c);
		if (c == 0) {
			for (size_t i = 0; i < nfiles; i++)
				emit_file(out, &files[i]);
		} else {
			for (size_t k = 0; k < ntouched; k++)
				emit_file(out, &files[touched[k]]);
		}
		fputc('\n', out);
	}
	for (size_t i = 0; i < nfiles; i++) {
		for (size_t k = 0; k < files[i].count; k++)
			free(files[i].lines[k]);
		free(files[i].lines);
	}
	free(files);
	return ferror(out) ? -1 : 0;
}
