/* Ancestry questions: is-ancestor and merge bases (git's paint-down walk). */
#include "commit_walk.h"
#include "error.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>

enum { PARENT1 = 1, PARENT2 = 2, STALE = 4, RESULT = 8 };

int grove__is_ancestor(grove *g, const grove_oid *ancestor, const grove_oid *desc)
{
	grove__cwalk w;
	grove__cnode *c;
	int err, found = 0;
	if (grove__oid_equal(ancestor, desc))
		return 1;
	grove__cwalk_init(&w, g);
	if ((err = grove__cwalk_get(&w, desc, 1, &c)) < 0 || (err = grove__cwalk_push(&w, c)) < 0)
		goto done;
	c->flags = PARENT1;
	while (!found && (c = grove__cwalk_pop(&w))) {
		for (size_t i = 0; i < c->parent_count; i++) {
			grove__cnode *p;
			if (grove__oid_equal(&c->parents[i], ancestor)) {
				found = 1;
				break;
			}
			if ((err = grove__cwalk_get(&w, &c->parents[i], 1, &p)) < 0)
				goto done;
			if (p->flags)
				continue;
			p->flags = PARENT1;
			if ((err = grove__cwalk_push(&w, p)) < 0)
				goto done;
		}
	}
	err = found;
done:
	grove__cwalk_dispose(&w);
	return err;
}

static int queue_has_nonstale(grove__cwalk *w)
{
	for (size_t i = 0; i < w->heap_len; i++)
		if (!(w->heap[i]->flags & STALE))
			return 1;
	return 0;
}

int grove_merge_bases(grove *g, const grove_oid *a, const grove_oid *b, grove_oid **out, size_t *count)
{
	grove__cwalk w;
	grove__cnode *ca, *cb, *c;
	grove_oid *res = NULL;
	size_t n = 0, cap = 0;
	int err;

	*out = NULL;
	*count = 0;
	if (grove__oid_equal(a, b)) {
		if (!(res = grove__malloc(sizeof(*res))))
			return GROVE_ENOMEM;
		res[0] = *a;
		*out = res;
		*count = 1;
		return 0;
	}
	grove__cwalk_init(&w, g);
	if ((err = grove__cwalk_get(&w, a, 1, &ca)) < 0 || (err = grove__cwalk_get(&w, b, 1, &cb)) < 0)
		goto done;
	ca->flags |= PARENT1;
	cb->flags |= PARENT2;
	if ((err = grove__cwalk_push(&w, ca)) < 0 || (err = grove__cwalk_push(&w, cb)) < 0)
		goto done;
	while (queue_has_nonstale(&w) && (c = grove__cwalk_pop(&w))) {
		unsigned flags = c->flags & (PARENT1 | PARENT2 | STALE);
		if (flags == (PARENT1 | PARENT2)) {
			if (!(c->flags & RESULT)) {
				c->flags |= RESULT;
				if (n == cap) {
					grove_oid *nr;
					cap = cap ? cap * 2 : 4;
					if (!(nr = grove__realloc(res, cap * sizeof(*nr)))) {
						err = GROVE_ENOMEM;
						goto done;
					}
					res = nr;
				}
				res[n++] = c->id;
			}
			flags |= STALE;
		}
		for (size_t i = 0; i < c->parent_count; i++) {
			grove__cnode *p;
			if ((err = grove__cwalk_get(&w, &c->parents[i], 1, &p)) < 0)
				goto done;
			if ((p->flags & flags) == flags)
				continue;
			p->flags |= flags;
			if ((err = grove__cwalk_push(&w, p)) < 0)
				goto done;
		}
	}
	/* Drop results that were later reached as stale: they are ancestors of
	 * another base, so not "best" common ancestors. */
	{
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			grove__cnode *r;
			if ((err = grove__cwalk_get(&w, &res[i], 0, &r)) < 0)
				goto done;
			if (!(r->flags & STALE))
				res[k++] = res[i];
		}
		n = k;
	}
	/* Remove any base that is an ancestor of another (git's reduce step). */
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			if (i == j || grove_oid_is_zero(&res[i]))
				continue;
			if (grove_oid_is_zero(&res[j]))
				continue;
			err = grove__is_ancestor(g, &res[i], &res[j]);
			if (err < 0)
				goto done;
			if (err) {
				memset(&res[i], 0, sizeof(res[i]));
				break;
			}
		}
	}
	{
		size_t k = 0;
		for (size_t i = 0; i < n; i++)
			if (!grove_oid_is_zero(&res[i]))
				res[k++] = res[i];
		n = k;
	}
	err = 0;
	*out = res;
	*count = n;
	res = NULL;
done:
	free(res);
	grove__cwalk_dispose(&w);
	return err;
}
