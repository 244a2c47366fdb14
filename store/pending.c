#include "pending.h"
#include "error.h"
#include "oid.h"

#include <stdlib.h>
#include <string.h>

static size_t oid_hash(const grove_oid *id)
{
	uint64_t h;
	memcpy(&h, id->id, sizeof(h));
	return (size_t)h;
}

static void index_insert(uint32_t *index, size_t cap, const grove_oid *id, size_t pos)
{
	size_t mask = cap - 1, h = oid_hash(id) & mask;
	while (index[h])
		h = (h + 1) & mask;
	index[h] = (uint32_t)pos + 1;
}

/* Refills the index from objs (its size unchanged). */
static void index_refill(grove__pending *p)
{
	if (!p->index_cap)
		return;
	memset(p->index, 0, p->index_cap * sizeof(*p->index));
	for (size_t i = 0; i < p->n; i++)
		index_insert(p->index, p->index_cap, &p->objs[i].id, i);
}

static int index_grow(grove__pending *p)
{
	size_t cap = p->index_cap ? p->index_cap * 2 : 64;
	uint32_t *ni;
	while (cap < p->n * 2 + 2)
		cap *= 2;
	if (!(ni = grove__calloc(cap, sizeof(*ni))))
		return GROVE_ENOMEM;
	free(p->index);
	p->index = ni;
	p->index_cap = cap;
	index_refill(p);
	return 0;
}

long grove__pending_find(const grove__pending *p, const grove_oid *id)
{
	size_t mask, h;
	if (!p->index_cap)
		return -1;
	mask = p->index_cap - 1;
	for (h = oid_hash(id) & mask; p->index[h]; h = (h + 1) & mask)
		if (grove__oid_equal(&p->objs[p->index[h] - 1].id, id))
			return (long)(p->index[h] - 1);
	return -1;
}

int grove__pending_add(grove__pending *p, grove_otype type, void *data, size_t size, grove_oid *id_out)
{
	grove__pending_obj *o;
	grove_oid id;
	int err;
	if ((err = grove__object_hash(type, data, size, &id)) < 0) {
		free(data);
		return err;
	}
	*id_out = id;
	if (grove__pending_find(p, &id) >= 0) {
		free(data);
		return 0;
	}
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		grove__pending_obj *no = grove__realloc(p->objs, cap * sizeof(*no));
		if (!no) {
			free(data);
			return GROVE_ENOMEM;
		}
		p->objs = no;
		p->cap = cap;
	}
	o = &p->objs[p->n++];
	o->id = id;
	o->type = type;
	o->data = data;
	o->size = size;
	o->live = 0;
	o->delta = NULL;
	o->delta_len = o->delta_size = 0;
	if (p->n * 2 + 2 > p->index_cap)
		return index_grow(p);
	index_insert(p->index, p->index_cap, &id, p->n - 1);
	return 0;
}

void grove__pending_set_delta(grove__pending *p, size_t pos, const grove_oid *base, void *zdelta,
	size_t zlen, size_t delta_size)
{
	grove__pending_obj *o = &p->objs[pos];
	free(o->delta);
	o->delta = zdelta;
	o->delta_len = zlen;
	o->delta_size = delta_size;
	o->base = *base;
}

void grove__pending_truncate(grove__pending *p, size_t n)
{
	if (n >= p->n)
		return;
	for (size_t i = n; i < p->n; i++) {
		free(p->objs[i].data);
		free(p->objs[i].delta);
	}
	p->n = n;
	index_refill(p);
}

int grove__pending_live_records(const grove__pending *p, grove__object **out, size_t *count)
{
	grove__object *recs = grove__calloc(p->n + 1, sizeof(*recs));
	size_t n = 0;
	if (!recs)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		if (!p->objs[i].live)
			continue;
		recs[n].id = p->objs[i].id;
		recs[n].type = p->objs[i].type;
		recs[n].size = p->objs[i].size;
		if (p->objs[i].delta) {
			recs[n].encoding = GROVE__ENC_DELTA;
			recs[n].data = p->objs[i].delta;
			recs[n].data_len = p->objs[i].delta_len;
			recs[n].data_size = p->objs[i].delta_size;
			recs[n].base = p->objs[i].base;
		} else {
			recs[n].encoding = GROVE__ENC_PLAIN;
			recs[n].data = p->objs[i].data;
			recs[n].data_len = p->objs[i].size;
		}
		n++;
	}
	*out = recs;
	*count = n;
	return 0;
}

void grove__pending_dispose(grove__pending *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->objs[i].data);
		free(p->objs[i].delta);
	}
	free(p->objs);
	free(p->index);
	memset(p, 0, sizeof(*p));
}
