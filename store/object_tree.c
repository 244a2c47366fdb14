/* git tree objects: parse, order, write. */
#include "error.h"
#include "object.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>

int grove__mode_valid(uint32_t mode)
{
	return mode == GROVE_MODE_BLOB || mode == GROVE_MODE_EXEC || mode == GROVE_MODE_LINK ||
	       mode == GROVE_MODE_TREE || mode == GROVE_MODE_GITLINK;
}

grove_kind grove__mode_kind(uint32_t mode)
{
	switch (mode) {
	case GROVE_MODE_EXEC: return GROVE_KIND_EXECUTABLE;
	case GROVE_MODE_LINK: return GROVE_KIND_SYMLINK;
	case GROVE_MODE_TREE: return GROVE_KIND_DIR;
	case GROVE_MODE_GITLINK: return GROVE_KIND_SUBMODULE;
	default: return GROVE_KIND_VALUE;
	}
}

uint32_t grove__kind_mode(grove_kind kind)
{
	switch (kind) {
	case GROVE_KIND_EXECUTABLE: return GROVE_MODE_EXEC;
	case GROVE_KIND_SYMLINK: return GROVE_MODE_LINK;
	case GROVE_KIND_DIR: return GROVE_MODE_TREE;
	case GROVE_KIND_SUBMODULE: return GROVE_MODE_GITLINK;
	default: return GROVE_MODE_BLOB;
	}
}

static int is_tree_mode(uint32_t mode)
{
	return (mode & 0170000u) == GROVE_MODE_TREE;
}

int grove__tree_entry_cmp(const char *a, size_t alen, uint32_t amode,
	const char *b, size_t blen, uint32_t bmode)
{
	size_t len = alen < blen ? alen : blen;
	int cmp = memcmp(a, b, len);
	unsigned char ca, cb;
	if (cmp)
		return cmp;
	ca = alen > len ? (unsigned char)a[len] : (is_tree_mode(amode) ? '/' : '\0');
	cb = blen > len ? (unsigned char)b[len] : (is_tree_mode(bmode) ? '/' : '\0');
	return (int)ca - (int)cb;
}

static int entry_qsort_cmp(const void *x, const void *y)
{
	const grove__tree_entry *a = x, *b = y;
	return grove__tree_entry_cmp(a->name, a->name_len, a->mode, b->name, b->name_len, b->mode);
}

void grove__tree_sort(grove__tree_entry *entries, size_t count)
{
	qsort(entries, count, sizeof(*entries), entry_qsort_cmp);
}

/*
 * Layout of a parsed tree: one allocation holding the struct, the entry
 * array and the names, so that freeing and caching are cheap.
 */
int grove__tree_parse(const grove_oid *id, const void *data, size_t size, grove__tree **out)
{
	const unsigned char *p = data, *end = p + size;
	size_t count = 0, names = 0;
	grove__tree *tree;
	char *name_store;

	/* First pass: validate and count. */
	while (p < end) {
		const unsigned char *sp, *nul;
		if (*p < '0' || *p > '7')
			return grove__error_set(GROVE_ECORRUPT, "malformed tree: bad mode");
		sp = memchr(p, ' ', (size_t)(end - p));
		if (!sp || sp - p > 7)
			return grove__error_set(GROVE_ECORRUPT, "malformed tree: bad mode");
		nul = memchr(sp + 1, '\0', (size_t)(end - sp - 1));
		if (!nul)
			return grove__error_set(GROVE_ECORRUPT, "malformed tree: unterminated name");
		if (nul == sp + 1)
			return grove__error_set(GROVE_ECORRUPT, "malformed tree: empty name");
		if (memchr(sp + 1, '/', (size_t)(nul - sp - 1)))
			return grove__error_set(GROVE_ECORRUPT, "malformed tree: name contains '/'");
		if ((size_t)(end - nul - 1) < GROVE_OID_RAWSZ)
			return grove__error_set(GROVE_ECORRUPT, "malformed tree: truncated object id");
		names += (size_t)(nul - sp);
		count++;
		p = nul + 1 + GROVE_OID_RAWSZ;
	}

	tree = grove__malloc(sizeof(*tree) + count * sizeof(grove__tree_entry) + names);
	if (!tree)
		return GROVE_ENOMEM;
	tree->entries = (grove__tree_entry *)(tree + 1);
	tree->count = count;
	tree->refcount = 1;
	tree->chain = -1;
	tree->index = NULL;
	tree->index_mask = 0;
	tree->bytes = sizeof(*tree) + count * sizeof(grove__tree_entry) + names;
	if (id)
		tree->id = *id;
	else
		memset(&tree->id, 0, sizeof(tree->id));
	name_store = (char *)(tree->entries + count);

	p = data;
	for (size_t i = 0; i < count; i++) {
		grove__tree_entry *e = &tree->entries[i];
		uint32_t mode = 0;
		const unsigned char *nul;
		size_t nlen;
		while (*p != ' ')
			mode = (mode << 3) | (uint32_t)(*p++ - '0');
		p++;
		nul = memchr(p, '\0', (size_t)(end - p));
		nlen = (size_t)(nul - p);
		memcpy(name_store, p, nlen + 1);
		e->name = name_store;
		e->name_len = nlen;
		e->mode = mode;
		memcpy(e->id.id, nul + 1, GROVE_OID_RAWSZ);
		name_store += nlen + 1;
		p = nul + 1 + GROVE_OID_RAWSZ;
	}
	*out = tree;
	return 0;
}

int grove__tree_from_entries(const grove_oid *id, const grove__tree_entry *entries, size_t count,
	grove__tree **out)
{
	size_t names = 0;
	grove__tree *tree;
	char *store;
	for (size_t i = 0; i < count; i++)
		names += entries[i].name_len + 1;
	tree = grove__malloc(sizeof(*tree) + count * sizeof(grove__tree_entry) + names);
	if (!tree)
		return GROVE_ENOMEM;
	tree->entries = (grove__tree_entry *)(tree + 1);
	tree->count = count;
	tree->id = *id;
	tree->refcount = 1;
	tree->chain = -1;
	tree->bytes = sizeof(*tree) + count * sizeof(grove__tree_entry) + names;
	tree->index = NULL;
	tree->index_mask = 0;
	store = (char *)(tree->entries + count);
	for (size_t i = 0; i < count; i++) {
		memcpy(store, entries[i].name, entries[i].name_len);
		store[entries[i].name_len] = '\0';
		tree->entries[i] = entries[i];
		tree->entries[i].name = store;
		store += entries[i].name_len + 1;
	}
	*out = tree;
	return 0;
}

void grove__tree_free(grove__tree *tree)
{
	if (tree)
		free(tree->index);
	free(tree);
}

static uint32_t name_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* Trees at least this large get a hashed name index: random reads of big
 * directories are the hot path of key lookups. */
#define INDEX_MIN_ENTRIES 16

static uint32_t *tree_index(grove__tree *tree)
{
	uint32_t *idx = __atomic_load_n(&tree->index, __ATOMIC_ACQUIRE);
	size_t slots = 32, mask;
	if (idx || tree->count < INDEX_MIN_ENTRIES)
		return idx;
	while (slots < tree->count * 2)
		slots *= 2;
	mask = slots - 1;
	idx = calloc(slots, sizeof(uint32_t));
	if (!idx)
		return NULL; /* fall back to binary search */
	for (size_t i = 0; i < tree->count; i++) {
		size_t h = name_hash(tree->entries[i].name, tree->entries[i].name_len) & mask;
		while (idx[h])
			h = (h + 1) & mask;
		idx[h] = (uint32_t)i + 1;
	}
	/* Another thread may have built one meanwhile: keep the first. */
	{
		uint32_t *expected = NULL;
		tree->index_mask = mask;
		if (!__atomic_compare_exchange_n(&tree->index, &expected, idx, 0, __ATOMIC_ACQ_REL,
			__ATOMIC_ACQUIRE)) {
			free(idx);
			idx = expected;
		}
	}
	return idx;
}

long grove__tree_find(const grove__tree *ctree, const char *name, size_t name_len)
{
	/* The entry sorts either as a value (name\0) or as a tree (name/). */
	static const uint32_t modes[2] = { GROVE_MODE_BLOB, GROVE_MODE_TREE };
	grove__tree *tree = (grove__tree *)ctree; /* the index is a cache */
	uint32_t *idx = tree_index(tree);
	if (idx) {
		size_t mask = tree->index_mask, h = name_hash(name, name_len) & mask;
		while (idx[h]) {
			const grove__tree_entry *e = &tree->entries[idx[h] - 1];
			if (e->name_len == name_len && !memcmp(e->name, name, name_len))
				return (long)(idx[h] - 1);
			h = (h + 1) & mask;
		}
		return -1;
	}
	for (int m = 0; m < 2; m++) {
		size_t lo = 0, hi = tree->count;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const grove__tree_entry *e = &tree->entries[mid];
			int c = grove__tree_entry_cmp(name, name_len, modes[m], e->name, e->name_len, e->mode);
			if (c == 0)
				return (long)mid;
			if (c < 0)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	return -1;
}

size_t grove__tree_entry_size(const grove__tree_entry *e)
{
	size_t digits = 1;
	for (uint32_t m = e->mode; m >>= 3;)
		digits++;
	return digits + 1 + e->name_len + 1 + GROVE_OID_RAWSZ;
}

int grove__tree_write(const grove__tree_entry *entries, size_t count, grove__sbuf *out)
{
	size_t total = 0;
	int err;
	for (size_t i = 0; i < count; i++)
		total += grove__tree_entry_size(&entries[i]);
	if ((err = grove__sbuf_grow(out, total)) < 0)
		return err;
	for (size_t i = 0; i < count; i++) {
		const grove__tree_entry *e = &entries[i];
		char mode[8];
		const char *ms;
		int n = 0;
		/* git writes modes in octal without leading zeros ("40000"). */
		switch (e->mode) {
		case GROVE_MODE_BLOB: ms = "100644"; n = 6; break;
		case GROVE_MODE_TREE: ms = "40000"; n = 5; break;
		case GROVE_MODE_EXEC: ms = "100755"; n = 6; break;
		case GROVE_MODE_LINK: ms = "120000"; n = 6; break;
		case GROVE_MODE_GITLINK: ms = "160000"; n = 6; break;
		default: {
			uint32_t m = e->mode;
			char tmp[8];
			do {
				tmp[n++] = (char)('0' + (m & 7));
				m >>= 3;
			} while (m);
			for (int k = 0; k < n; k++)
				mode[k] = tmp[n - 1 - k];
			ms = mode;
		}
		}
		memcpy(out->data + out->len, ms, (size_t)n);
		out->len += (size_t)n;
		out->data[out->len++] = ' ';
		memcpy(out->data + out->len, e->name, e->name_len);
		out->len += e->name_len;
		out->data[out->len++] = '\0';
		memcpy(out->data + out->len, e->id.id, GROVE_OID_RAWSZ);
		out->len += GROVE_OID_RAWSZ;
	}
	out->data[out->len] = '\0';
	return 0;
}
