/* The mem: backend: objects and refs in memory, gone on close. */
#include "backend.h"
#include "error.h"
#include "oid.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct mem_obj {
	grove_oid id;
	grove_otype type;
	size_t size;
	struct mem_obj *next;
	unsigned char data[];
} mem_obj;

typedef struct {
	char *name;
	grove_oid id;
} mem_ref;

typedef struct mem_aux {
	char *name;
	void *data;
	size_t len;
	struct mem_aux *next;
} mem_aux;

typedef struct {
	grove_backend base;
	pthread_rwlock_t lock;
	mem_aux *aux;
	mem_obj **buckets;
	size_t nbuckets, nobjects;
	uint64_t object_bytes;
	mem_ref *refs; /* sorted by name */
	size_t nrefs;
	char *head;
	int read_only;
} mem_backend;

static size_t bucket_of(const mem_backend *m, const grove_oid *id)
{
	uint64_t h;
	memcpy(&h, id->id, sizeof(h));
	return (size_t)(h & (m->nbuckets - 1));
}

static mem_obj *find_obj(const mem_backend *m, const grove_oid *id)
{
	for (mem_obj *o = m->buckets[bucket_of(m, id)]; o; o = o->next)
		if (grove__oid_equal(&o->id, id))
			return o;
	return NULL;
}

static int grow_table(mem_backend *m)
{
	size_t n = m->nbuckets * 2;
	mem_obj **nb = grove__calloc(n, sizeof(*nb));
	if (!nb)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < m->nbuckets; i++) {
		mem_obj *o = m->buckets[i];
		while (o) {
			mem_obj *next = o->next;
			uint64_t h;
			memcpy(&h, o->id.id, sizeof(h));
			o->next = nb[h & (n - 1)];
			nb[h & (n - 1)] = o;
			o = next;
		}
	}
	free(m->buckets);
	m->buckets = nb;
	m->nbuckets = n;
	return 0;
}

static long find_ref(const mem_backend *m, const char *name)
{
	size_t lo = 0, hi = m->nrefs;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, m->refs[mid].name);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -(long)lo - 1;
}

static int mem_read(grove_backend *be, const grove_oid *id, grove_otype *type, grove_buf *out)
{
	mem_backend *m = (mem_backend *)be;
	mem_obj *o;
	int err = 0;
	pthread_rwlock_rdlock(&m->lock);
	o = find_obj(m, id);
	if (!o) {
		char hex[41];
		err = grove__error_set(GROVE_ENOTFOUND, "object %s not found", grove_oid_tohex(hex, id));
	} else {
		out->data = grove__malloc(o->size + 1);
		if (!out->data) {
			err = GROVE_ENOMEM;
		} else {
			memcpy(out->data, o->data, o->size);
			((char *)out->data)[o->size] = '\0';
			out->size = o->size;
			*type = o->type;
		}
	}
	pthread_rwlock_unlock(&m->lock);
	return err;
}

static int mem_read_header(grove_backend *be, const grove_oid *id, grove_otype *type, size_t *size)
{
	mem_backend *m = (mem_backend *)be;
	mem_obj *o;
	pthread_rwlock_rdlock(&m->lock);
	o = find_obj(m, id);
	if (o) {
		*type = o->type;
		*size = o->size;
	}
	pthread_rwlock_unlock(&m->lock);
	if (!o) {
		char hex[41];
		return grove__error_set(GROVE_ENOTFOUND, "object %s not found", grove_oid_tohex(hex, id));
	}
	return 0;
}

static int mem_exists(grove_backend *be, const grove_oid *id)
{
	mem_backend *m = (mem_backend *)be;
	int found;
	pthread_rwlock_rdlock(&m->lock);
	found = find_obj(m, id) != NULL;
	pthread_rwlock_unlock(&m->lock);
	return found;
}

static int mem_foreach_object(grove_backend *be, grove__oid_cb cb, void *payload)
{
	mem_backend *m = (mem_backend *)be;
	grove_oid *ids;
	size_t n = 0;
	int err = 0;
	/* Snapshot the ids so the callback may call back into the backend. */
	pthread_rwlock_rdlock(&m->lock);
	ids = grove__malloc((m->nobjects + 1) * sizeof(*ids));
	if (ids)
		for (size_t i = 0; i < m->nbuckets; i++)
			for (mem_obj *o = m->buckets[i]; o; o = o->next)
				ids[n++] = o->id;
	pthread_rwlock_unlock(&m->lock);
	if (!ids)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		err = cb(&ids[i], payload);
	free(ids);
	return err;
}

static int mem_ref_read(grove_backend *be, const char *name, grove_oid *out)
{
	mem_backend *m = (mem_backend *)be;
	long i;
	pthread_rwlock_rdlock(&m->lock);
	i = find_ref(m, name);
	if (i >= 0)
		*out = m->refs[i].id;
	pthread_rwlock_unlock(&m->lock);
	if (i < 0)
		return grove__error_set(GROVE_ENOTFOUND, "ref '%s' not found", name);
	return 0;
}

static int mem_ref_foreach(grove_backend *be, const char *prefix, grove_ref_cb cb, void *payload)
{
	mem_backend *m = (mem_backend *)be;
	size_t plen = prefix ? strlen(prefix) : 0, n = 0;
	mem_ref *copy;
	int err = 0;
	pthread_rwlock_rdlock(&m->lock);
	copy = grove__calloc(m->nrefs + 1, sizeof(*copy));
	if (copy) {
		for (size_t i = 0; i < m->nrefs; i++) {
			if (plen && strncmp(m->refs[i].name, prefix, plen))
				continue;
			copy[n].name = grove__strdup(m->refs[i].name);
			copy[n].id = m->refs[i].id;
			if (!copy[n].name) {
				err = GROVE_ENOMEM;
				break;
			}
			n++;
		}
	}
	pthread_rwlock_unlock(&m->lock);
	if (!copy)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < n && !err; i++)
		err = cb(copy[i].name, &copy[i].id, payload);
	for (size_t i = 0; i < n; i++)
		free(copy[i].name);
	free(copy);
	return err;
}

static int mem_head_read(grove_backend *be, char **target)
{
	mem_backend *m = (mem_backend *)be;
	char *t;
	pthread_rwlock_rdlock(&m->lock);
	t = grove__strdup(m->head);
	pthread_rwlock_unlock(&m->lock);
	if (!t)
		return GROVE_ENOMEM;
	*target = t;
	return 0;
}

static int mem_head_write(grove_backend *be, const char *target)
{
	mem_backend *m = (mem_backend *)be;
	char *t = grove__strdup(target);
	if (!t)
		return GROVE_ENOMEM;
	pthread_rwlock_wrlock(&m->lock);
	free(m->head);
	m->head = t;
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int check_refs(mem_backend *m, const grove__write_set *ws)
{
	for (size_t i = 0; i < ws->ref_count; i++) {
		const grove_ref_update *u = &ws->refs[i];
		long at;
		if (!u->check_old)
			continue;
		at = find_ref(m, u->refname);
		if (grove_oid_is_zero(&u->old_id) ? at >= 0
		    : (at < 0 || !grove__oid_equal(&m->refs[at].id, &u->old_id)))
			return grove__error_set(GROVE_EHEADMOVED, "ref '%s' has moved", u->refname);
	}
	return 0;
}

static int apply_ref(mem_backend *m, const grove_ref_update *u)
{
	long at = find_ref(m, u->refname);
	if (grove_oid_is_zero(&u->new_id)) {
		if (at >= 0) {
			free(m->refs[at].name);
			memmove(&m->refs[at], &m->refs[at + 1], (m->nrefs - (size_t)at - 1) * sizeof(mem_ref));
			m->nrefs--;
		}
		return 0;
	}
	if (at >= 0) {
		m->refs[at].id = u->new_id;
		return 0;
	}
	{
		size_t pos = (size_t)(-at - 1);
		char *name = grove__strdup(u->refname);
		mem_ref *nr;
		if (!name)
			return GROVE_ENOMEM;
		nr = grove__realloc(m->refs, (m->nrefs + 1) * sizeof(mem_ref));
		if (!nr) {
			free(name);
			return GROVE_ENOMEM;
		}
		m->refs = nr;
		memmove(&m->refs[pos + 1], &m->refs[pos], (m->nrefs - pos) * sizeof(mem_ref));
		m->refs[pos].name = name;
		m->refs[pos].id = u->new_id;
		m->nrefs++;
	}
	return 0;
}

static int insert_obj(mem_backend *m, mem_obj *o)
{
	int err = 0;
	size_t b;
	pthread_rwlock_wrlock(&m->lock);
	if (find_obj(m, &o->id)) {
		err = GROVE_EEXISTS;
	} else if (m->nobjects + 1 > m->nbuckets && (err = grow_table(m)) < 0) {
		/* err set */
	} else {
		b = bucket_of(m, &o->id);
		o->next = m->buckets[b];
		m->buckets[b] = o;
		m->nobjects++;
		m->object_bytes += o->size;
	}
	pthread_rwlock_unlock(&m->lock);
	return err;
}

static void unlink_obj(mem_backend *m, const grove_oid *id)
{
	mem_obj **pp = &m->buckets[bucket_of(m, id)];
	while (*pp) {
		if (grove__oid_equal(&(*pp)->id, id)) {
			mem_obj *o = *pp;
			*pp = o->next;
			m->nobjects--;
			m->object_bytes -= o->size;
			free(o);
			return;
		}
		pp = &(*pp)->next;
	}
}

/*
 * Objects go in one at a time, so that a delta can use a base stored
 * earlier in the same write (the pack indexer delivers bases first).  If
 * the ref checks then fail, the objects this call added are taken out
 * again: the write is all or nothing, as on disk.
 */
static int mem_write(grove_backend *be, const grove__write_set *ws)
{
	mem_backend *m = (mem_backend *)be;
	grove_oid *added;
	size_t nadded = 0;
	int err = 0;

	if (m->read_only)
		return grove__error_set(GROVE_EREADONLY, "store is read-only");
	added = grove__calloc(ws->object_count + 1, sizeof(*added));
	if (!added)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < ws->object_count && !err; i++) {
		const grove__object *rec = &ws->objects[i];
		grove_buf content = { 0 };
		mem_obj *o;
		if (mem_exists(be, &rec->id))
			continue;
		if (rec->encoding == GROVE__ENC_PLAIN) {
			content.data = (void *)rec->data;
			content.size = rec->data_len;
		} else if ((err = grove__object_decode(be, rec, &content)) < 0) {
			break;
		}
		o = grove__malloc(sizeof(*o) + content.size);
		if (o) {
			o->id = rec->id;
			o->type = rec->type;
			o->size = content.size;
			memcpy(o->data, content.data, content.size);
			err = insert_obj(m, o);
			if (err == GROVE_EEXISTS) {
				free(o);
				err = 0;
			} else if (err < 0) {
				free(o);
			} else {
				added[nadded++] = rec->id;
			}
		} else {
			err = GROVE_ENOMEM;
		}
		if (rec->encoding != GROVE__ENC_PLAIN)
			grove_buf_dispose(&content);
	}
	pthread_rwlock_wrlock(&m->lock);
	if (!err)
		err = check_refs(m, ws);
	for (size_t i = 0; i < ws->ref_count && !err; i++)
		err = apply_ref(m, &ws->refs[i]);
	if (err < 0)
		for (size_t i = 0; i < nadded; i++)
			unlink_obj(m, &added[i]);
	pthread_rwlock_unlock(&m->lock);
	free(added);
	return err;
}

static int mem_flush(grove_backend *be)
{
	(void)be;
	return 0;
}

static int mem_stats(grove_backend *be, grove_stats *out)
{
	mem_backend *m = (mem_backend *)be;
	pthread_rwlock_rdlock(&m->lock);
	memset(out, 0, sizeof(*out));
	out->objects = m->nobjects;
	out->object_bytes = m->object_bytes;
	out->refs = m->nrefs;
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static int mem_remove_unreachable(grove_backend *be, int (*keep)(const grove_oid *, void *),
	void *payload, size_t *removed)
{
	mem_backend *m = (mem_backend *)be;
	size_t n = 0;
	pthread_rwlock_wrlock(&m->lock);
	for (size_t i = 0; i < m->nbuckets; i++) {
		mem_obj **pp = &m->buckets[i];
		while (*pp) {
			mem_obj *o = *pp;
			if (!keep(&o->id, payload)) {
				*pp = o->next;
				m->nobjects--;
				m->object_bytes -= o->size;
				free(o);
				n++;
			} else {
				pp = &o->next;
			}
		}
	}
	pthread_rwlock_unlock(&m->lock);
	*removed = n;
	return 0;
}

static int mem_aux_get(grove_backend *be, const char *name, grove_buf *out)
{
	mem_backend *m = (mem_backend *)be;
	int rc = GROVE_ENOTFOUND;
	pthread_rwlock_rdlock(&m->lock);
	for (mem_aux *a = m->aux; a; a = a->next) {
		if (strcmp(a->name, name))
			continue;
		out->data = grove__malloc(a->len ? a->len : 1);
		rc = out->data ? 0 : GROVE_ENOMEM;
		if (out->data) {
			memcpy(out->data, a->data, a->len);
			out->size = a->len;
		}
		break;
	}
	pthread_rwlock_unlock(&m->lock);
	if (rc == GROVE_ENOTFOUND)
		return grove__error_set(rc, "mem: no %s", name);
	return rc;
}

static void aux_free(mem_aux *a)
{
	free(a->name);
	free(a->data);
	free(a);
}

static int mem_aux_put(grove_backend *be, const char *name, const void *data, size_t len)
{
	mem_backend *m = (mem_backend *)be;
	mem_aux *n = NULL, **p;
	if (m->read_only)
		return grove__error_set(GROVE_EREADONLY, "mem: store is read-only");
	if (data) {
		n = grove__calloc(1, sizeof(*n));
		if (!n || !(n->name = grove__strdup(name)) || !(n->data = grove__malloc(len ? len : 1))) {
			if (n)
				aux_free(n);
			return GROVE_ENOMEM;
		}
		memcpy(n->data, data, len);
		n->len = len;
	}
	pthread_rwlock_wrlock(&m->lock);
	for (p = &m->aux; *p; p = &(*p)->next) {
		if (strcmp((*p)->name, name) == 0) {
			mem_aux *old = *p;
			*p = old->next;
			aux_free(old);
			break;
		}
	}
	if (n) {
		n->next = m->aux;
		m->aux = n;
	}
	pthread_rwlock_unlock(&m->lock);
	return 0;
}

static void mem_close(grove_backend *be)
{
	mem_backend *m = (mem_backend *)be;
	grove__object_decode_forget(be);
	while (m->aux) {
		mem_aux *next = m->aux->next;
		aux_free(m->aux);
		m->aux = next;
	}
	for (size_t i = 0; i < m->nbuckets; i++) {
		mem_obj *o = m->buckets[i];
		while (o) {
			mem_obj *next = o->next;
			free(o);
			o = next;
		}
	}
	for (size_t i = 0; i < m->nrefs; i++)
		free(m->refs[i].name);
	free(m->refs);
	free(m->buckets);
	free(m->head);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

static const grove__backend_ops mem_ops = {
	.name = "mem",
	.close = mem_close,
	.read = mem_read,
	.read_header = mem_read_header,
	.exists = mem_exists,
	.foreach_object = mem_foreach_object,
	.ref_read = mem_ref_read,
	.ref_foreach = mem_ref_foreach,
	.head_read = mem_head_read,
	.head_write = mem_head_write,
	.write = mem_write,
	.flush = mem_flush,
	.stats = mem_stats,
	.read_raw = NULL,
	.remove_unreachable = mem_remove_unreachable,
	.aux_get = mem_aux_get,
	.aux_put = mem_aux_put,
};

int grove__backend_mem_open(grove_backend **out, const grove_options *opts)
{
	mem_backend *m = grove__calloc(1, sizeof(*m));
	if (!m)
		return GROVE_ENOMEM;
	m->base.ops = &mem_ops;
	m->nbuckets = 1024;
	m->buckets = grove__calloc(m->nbuckets, sizeof(*m->buckets));
	m->head = grove__strdup("refs/heads/main");
	m->read_only = opts && opts->read_only;
	if (!m->buckets || !m->head || pthread_rwlock_init(&m->lock, NULL) != 0) {
		free(m->buckets);
		free(m->head);
		free(m);
		return grove__error_oom();
	}
	*out = &m->base;
	return 0;
}
