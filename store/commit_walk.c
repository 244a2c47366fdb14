#include "commit_walk.h"
#include "error.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>

void grove__cwalk_init(grove__cwalk *w, grove *g)
{
	memset(w, 0, sizeof(*w));
	w->g = g;
}

void grove__cwalk_dispose(grove__cwalk *w)
{
	for (size_t i = 0; i < w->cap; i++) {
		if (w->slots[i]) {
			free(w->slots[i]->parents);
			free(w->slots[i]);
		}
	}
	free(w->slots);
	free(w->heap);
	memset(w, 0, sizeof(*w));
}

static size_t slot_hash(const grove_oid *id)
{
	uint64_t h;
	memcpy(&h, id->id, sizeof(h));
	return (size_t)h;
}

static int grow(grove__cwalk *w)
{
	size_t cap = w->cap ? w->cap * 2 : 256;
	grove__cnode **ns = grove__calloc(cap, sizeof(*ns));
	if (!ns)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < w->cap; i++) {
		grove__cnode *c = w->slots[i];
		size_t h;
		if (!c)
			continue;
		h = slot_hash(&c->id) & (cap - 1);
		while (ns[h])
			h = (h + 1) & (cap - 1);
		ns[h] = c;
	}
	free(w->slots);
	w->slots = ns;
	w->cap = cap;
	return 0;
}

/* Reads just the tree, parents and committer time of a commit. */
static int parse_commit(grove *g, grove__cnode *c)
{
	grove_buf buf = { 0 };
	const char *p, *end;
	size_t cap = 0;
	int err = grove__read(g, &c->id, GROVE_OBJ_COMMIT, &buf);
	if (err < 0)
		return err;
	p = buf.data;
	end = p + buf.size;
	while (p < end && *p != '\n') {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			break;
		if (eol - p == 45 && !memcmp(p, "tree ", 5)) {
			/* Kept so walkers that go on to the trees need not read
			 * the commit again; a bad one stays zero (their cue to
			 * read the commit themselves and report it). */
			if (grove_oid_fromhex(&c->tree, p + 5) < 0)
				c->tree = grove__oid_zero;
		} else if (eol - p == 47 && !memcmp(p, "parent ", 7)) {
			if (c->parent_count == cap) {
				grove_oid *np;
				cap = cap ? cap * 2 : 2;
				np = grove__realloc(c->parents, cap * sizeof(*np));
				if (!np) {
					grove_buf_dispose(&buf);
					return GROVE_ENOMEM;
				}
				c->parents = np;
			}
			if (grove_oid_fromhex(&c->parents[c->parent_count], p + 7) < 0) {
				grove_buf_dispose(&buf);
				return grove__error_set(GROVE_ECORRUPT, "malformed commit: bad parent");
			}
			c->parent_count++;
		} else if (eol - p > 10 && !memcmp(p, "committer ", 10)) {
			const char *gt = memrchr(p, '>', (size_t)(eol - p));
			int64_t t = 0;
			if (gt)
				for (const char *q = gt + 2; q < eol && *q >= '0' && *q <= '9'; q++)
					t = t * 10 + (*q - '0');
			c->time = t;
		}
		p = eol + 1;
	}
	grove_buf_dispose(&buf);
	c->parsed = 1;
	return 0;
}

int grove__cwalk_get(grove__cwalk *w, const grove_oid *id, int parse, grove__cnode **out)
{
	size_t h;
	grove__cnode *c;
	int err;
	if ((w->count + 1) * 2 > w->cap && (err = grow(w)) < 0)
		return err;
	h = slot_hash(id) & (w->cap - 1);
	while ((c = w->slots[h]) && !grove__oid_equal(&c->id, id))
		h = (h + 1) & (w->cap - 1);
	if (!c) {
		c = grove__calloc(1, sizeof(*c));
		if (!c)
			return GROVE_ENOMEM;
		c->id = *id;
		w->slots[h] = c;
		w->count++;
	}
	if (parse && !c->parsed && (err = parse_commit(w->g, c)) < 0)
		return err;
	*out = c;
	return 0;
}

static int newer(const grove__cnode *a, const grove__cnode *b)
{
	if (a->time != b->time)
		return a->time > b->time;
	return memcmp(a->id.id, b->id.id, GROVE_OID_RAWSZ) < 0;
}

int grove__cwalk_push(grove__cwalk *w, grove__cnode *c)
{
	size_t i;
	if (w->heap_len == w->heap_cap) {
		size_t cap = w->heap_cap ? w->heap_cap * 2 : 64;
		grove__cnode **nh = grove__realloc(w->heap, cap * sizeof(*nh));
		if (!nh)
			return GROVE_ENOMEM;
		w->heap = nh;
		w->heap_cap = cap;
	}
	i = w->heap_len++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		if (!newer(c, w->heap[parent]))
			break;
		w->heap[i] = w->heap[parent];
		i = parent;
	}
	w->heap[i] = c;
	return 0;
}

grove__cnode *grove__cwalk_pop(grove__cwalk *w)
{
	grove__cnode *top, *last;
	size_t i = 0;
	if (!w->heap_len)
		return NULL;
	top = w->heap[0];
	last = w->heap[--w->heap_len];
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, best = i;
		grove__cnode *bn = last;
		if (l < w->heap_len && newer(w->heap[l], bn)) {
			best = l;
			bn = w->heap[l];
		}
		if (r < w->heap_len && newer(w->heap[r], bn))
			best = r;
		if (best == i)
			break;
		w->heap[i] = w->heap[best];
		i = best;
	}
	if (w->heap_len)
		w->heap[i] = last;
	return top;
}
