/* A derived index of calendar and address objects keyed by blob id: the
 * UID, the component kinds and the time span of every instance.  A blob
 * id names immutable bytes, so an entry can never go stale.  The cache is
 * set-associative with a fixed number of slots (bounded memory; a set
 * replaces its entries round-robin) and shared by every server in the
 * process behind a mutex.  Scans of a whole collection (the UID check of
 * a PUT) touch every entry: ways keep colliding members from evicting
 * each other on every scan. */
#include "dav_report_index.h"
#include "error.h"
#include "object.h"
#include "store.h" /* the parsed tree through the tree cache: no copied names */

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SETS 8192
#define WAYS 8
#define MAX_CACHED_UID 512

/* A summary as kept in the index: 64 bytes (a grove__dav_summary with
 * its id and hash took 112; 65,536 slots were 7.3 MB of a 64 MiB server
 * budget).  The flags and small counts are bytes; start/end stay 64-bit. */
typedef struct {
	grove_oid id;
	uint8_t used, family, kinds, nspans; /* nspans <= DAV_SUM_MAX_SPANS */
	uint8_t uid_mixed, bounded, floating, bad;
	uint32_t uid_hash; /* of uid, low half: most comparisons stop here */
	int64_t start, end;
	char *uid;         /* owned, or NULL */
	time_t *spans;     /* owned: nspans (start, end) pairs, or NULL */
} slot;

_Static_assert(DAV_SUM_MAX_SPANS <= 255, "nspans is a byte");
_Static_assert(sizeof(void *) != 8 || sizeof(slot) == 64, "a slot is one cache line");

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static slot *slots;          /* SETS * WAYS, allocated on first use */
/* Per slot a 32-bit tag of its blob id (0: unused), apart from the slots:
 * a probe reads the 8 tags of a set from one cache line and touches a
 * slot only on a tag match (a query probes all 10,000 members, and
 * walking 8 scattered slots each was an eighth of its time). */
static uint32_t *tags;
static unsigned char *next_way; /* per set: the way to replace next */

static size_t set_of(const grove_oid *id)
{
	return (((size_t)id->id[0] << 16) | ((size_t)id->id[1] << 8) | id->id[2]) % SETS;
}

/* Bytes 3..6 of the id (set_of uses 0..2), never 0. */
static uint32_t tag_of(const grove_oid *id)
{
	uint32_t t = ((uint32_t)id->id[3] << 24) | ((uint32_t)id->id[4] << 16) |
		     ((uint32_t)id->id[5] << 8) | id->id[6];
	return t ? t : 1;
}

/* The slot holding blob (under the lock), or NULL. */
static slot *find(const grove_oid *blob, grove__dav_family fam)
{
	if (!slots)
		return NULL;
	size_t base = set_of(blob) * WAYS;
	uint32_t t = tag_of(blob);
	for (size_t w = 0; w < WAYS; w++) {
		if (tags[base + w] != t)
			continue;
		slot *sl = &slots[base + w];
		if (sl->used && sl->family == (uint8_t)fam && grove_oid_cmp(&sl->id, blob) == 0)
			return sl;
	}
	return NULL;
}

void grove__dav_summary_dispose(grove__dav_summary *s)
{
	free(s->uid);
	s->uid = NULL;
	free(s->spans);
	s->spans = NULL;
	s->nspans = 0;
}

static int copy_summary(grove__dav_summary *dst, const grove__dav_summary *src)
{
	*dst = *src;
	dst->uid = NULL;
	dst->spans = NULL;
	if (src->uid && !(dst->uid = grove__strdup(src->uid)))
		return GROVE_ENOMEM;
	if (src->nspans) {
		size_t n = src->nspans * 2 * sizeof(time_t);
		if (!(dst->spans = grove__malloc(n))) {
			grove__dav_summary_dispose(dst);
			return GROVE_ENOMEM;
		}
		memcpy(dst->spans, src->spans, n);
	}
	return 0;
}

/* The summary kept in sl, its uid and spans borrowed from the slot. */
static void view_of_slot(grove__dav_summary *v, const slot *sl)
{
	memset(v, 0, sizeof(*v));
	v->family = (grove__dav_family)sl->family;
	v->uid = sl->uid;
	v->uid_mixed = sl->uid_mixed;
	v->kinds = sl->kinds;
	v->bounded = sl->bounded;
	v->floating = sl->floating;
	v->start = (time_t)sl->start;
	v->end = (time_t)sl->end;
	v->spans = sl->spans;
	v->nspans = sl->nspans;
	v->bad = sl->bad;
}

/* The summary kept in sl, copied into *dst. */
static int copy_from_slot(grove__dav_summary *dst, const slot *sl)
{
	grove__dav_summary v;
	memset(&v, 0, sizeof(v));
	v.family = (grove__dav_family)sl->family;
	v.uid = sl->uid; /* copied below */
	v.uid_mixed = sl->uid_mixed;
	v.kinds = sl->kinds;
	v.bounded = sl->bounded;
	v.floating = sl->floating;
	v.start = (time_t)sl->start;
	v.end = (time_t)sl->end;
	v.spans = sl->spans;
	v.nspans = sl->nspans;
	v.bad = sl->bad;
	return copy_summary(dst, &v);
}

static void slot_dispose(slot *sl)
{
	free(sl->uid);
	free(sl->spans);
	memset(sl, 0, sizeof(*sl));
}

/* ---- computing a summary ------------------------------------------------------------- */

static unsigned kind_bit(icalcomponent_kind k)
{
	switch (k) {
	case ICAL_VEVENT_COMPONENT: return DAV_SUM_VEVENT;
	case ICAL_VTODO_COMPONENT: return DAV_SUM_VTODO;
	case ICAL_VJOURNAL_COMPONENT: return DAV_SUM_VJOURNAL;
	case ICAL_VFREEBUSY_COMPONENT: return DAV_SUM_VFREEBUSY;
	default: return 0;
	}
}

typedef struct {
	grove__dav_summary *s;
	int any;
	size_t n;
	size_t starts;  /* instances with a start */
	time_t pairs[DAV_SUM_MAX_SPANS * 2];
} span_arg;

static int span_cb(void *arg, const grove__caldav_inst *in)
{
	span_arg *a = arg;
	if (++a->n >= CALDAV_MAX_INSTANCES - 1) {
		/* the expansion may have been cut short: no span */
		a->s->bounded = 0;
		return 1;
	}
	time_t lo = in->start, hi = in->end;
	if (in->has_start) {
		if (a->starts < DAV_SUM_MAX_SPANS) {
			a->pairs[2 * a->starts] = in->start;
			a->pairs[2 * a->starts + 1] = in->end;
		}
		a->starts++;
	}
	if (!in->has_start)
		lo = hi = in->due;
	if (in->has_due && in->due > hi)
		hi = in->due;
	if (!in->has_start && !in->has_due) {
		a->s->bounded = 0;
		return 1;
	}
	if (!a->any || lo < a->s->start)
		a->s->start = lo;
	if (!a->any || hi > a->s->end)
		a->s->end = hi;
	a->any = 1;
	return 0;
}

/* 1 when a date-time property of c is floating or a DATE (its UTC value
 * depends on the calendar-timezone). */
static int has_floating(icalcomponent *c)
{
	static const icalproperty_kind ks[] = { ICAL_DTSTART_PROPERTY, ICAL_DTEND_PROPERTY,
						ICAL_DUE_PROPERTY, ICAL_RDATE_PROPERTY,
						ICAL_EXDATE_PROPERTY, ICAL_RECURRENCEID_PROPERTY };
	for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		icalproperty *p = icalcomponent_get_first_property(c, ks[i]);
		if (!p)
			continue;
		struct icaltimetype t = grove__caldav_prop_time(p);
		if (icaltime_is_null_time(t))
			continue;
		if (t.is_date || (!icaltime_is_utc(t) && !t.zone))
			return 1;
	}
	return 0;
}

/* 1 when a recurrence rule of c never ends. */
static int endless(icalcomponent *c)
{
	for (icalproperty *p = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY); p;
	     p = icalcomponent_get_next_property(c, ICAL_RRULE_PROPERTY)) {
		struct icalrecurrencetype r = icalproperty_get_rrule(p);
		if (r.count == 0 && icaltime_is_null_time(r.until))
			return 1;
	}
	return 0;
}

static void summarize_calendar(const char *data, size_t len, grove__dav_summary *s)
{
	char *text = grove__strndup(data, len);
	icalcomponent *cal = text ? icalparser_parse_string(text) : NULL;
	free(text);
	if (!cal || icalcomponent_isa(cal) != ICAL_VCALENDAR_COMPONENT) {
		if (cal)
			icalcomponent_free(cal);
		s->bad = 1;
		return;
	}
	s->bounded = 1;
	span_arg a = { s, 0, 0, 0, { 0 } };
	icalcompiter it = icalcomponent_begin_component(cal, ICAL_ANY_COMPONENT);
	for (icalcomponent *c = icalcompiter_deref(&it); c; c = icalcompiter_next(&it)) {
		icalcomponent_kind k = icalcomponent_isa(c);
		unsigned bit = kind_bit(k);
		if (!bit)
			continue;
		s->kinds |= bit;
		const char *uid = icalcomponent_get_uid(c);
		if (uid && !s->uid && !s->uid_mixed)
			s->uid = grove__strdup(uid);
		else if (!uid || !s->uid || strcmp(uid, s->uid) != 0)
			s->uid_mixed = 1;
		if (k == ICAL_VFREEBUSY_COMPONENT || endless(c)) {
			s->bounded = 0;
			continue;
		}
		if (has_floating(c))
			s->floating = 1;
		if (s->bounded &&
		    grove__caldav_instances(c, NULL, CALDAV_T_MIN, CALDAV_T_MAX, span_cb, &a) != 0)
			s->bounded = 0;
	}
	if (!a.any)
		s->bounded = 0;
	/* lets a plain VEVENT time-range query decide without parsing (no
	 * spans when memory is short: the query parses instead) */
	if (s->bounded && s->kinds == DAV_SUM_VEVENT && a.starts == a.n &&
	    a.n <= DAV_SUM_MAX_SPANS && (s->spans = malloc(a.n * 2 * sizeof(time_t))) != NULL) {
		memcpy(s->spans, a.pairs, a.n * 2 * sizeof(time_t));
		s->nspans = a.n;
	}
	icalcomponent_free(cal);
}

/* The UID of a vCard: the first UID line (unfolded), without group. */
static void summarize_vcard(const char *data, size_t len, grove__dav_summary *s)
{
	size_t i = 0;
	while (i < len) {
		const char *line = data + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t n = nl ? (size_t)(nl - line) : len - i;
		i += n + 1;
		const char *colon = memchr(line, ':', n);
		if (!colon || line[0] == ' ' || line[0] == '\t')
			continue;
		const char *name = line, *end = colon;
		const char *semi = memchr(line, ';', (size_t)(colon - line));
		if (semi)
			end = semi;
		for (const char *p = line; p < end; p++)
			if (*p == '.')
				name = p + 1;
		if (end - name != 3 || strncasecmp(name, "UID", 3) != 0)
			continue;
		grove__sbuf u = GROVE_SBUF_INIT;
		size_t vlen = (size_t)(line + n - (colon + 1));
		if (vlen && colon[vlen] == '\r')
			vlen--;
		int rc = grove__sbuf_put(&u, colon + 1, vlen);
		/* folded continuation lines */
		while (rc == 0 && i < len && (data[i] == ' ' || data[i] == '\t')) {
			const char *c2 = data + i + 1;
			const char *nl2 = memchr(c2, '\n', len - i - 1);
			size_t m = nl2 ? (size_t)(nl2 - c2) : len - i - 1;
			i += m + 2;
			if (m && c2[m - 1] == '\r')
				m--;
			rc = grove__sbuf_put(&u, c2, m);
		}
		if (rc == 0)
			s->uid = grove__sbuf_detach(&u, NULL);
		grove__sbuf_dispose(&u);
		return;
	}
}

void grove__dav_summary_prefetch(const grove_oid *blob)
{
	/* Read without the lock: a hint, and the arrays, once made, stay. */
	uint32_t *t = __atomic_load_n(&tags, __ATOMIC_ACQUIRE);
	if (t)
		__builtin_prefetch(&t[set_of(blob) * WAYS]);
}

int grove__dav_summary_visit(grove *g, const grove_oid *blob, grove__dav_family fam,
	int (*fn)(const grove__dav_summary *s, void *arg), void *arg)
{
	grove__dav_summary s;
	int rc;

	pthread_mutex_lock(&lock);
	slot *hit = slots ? find(blob, fam) : NULL;
	if (hit) {
		view_of_slot(&s, hit);
		rc = fn(&s, arg);
		pthread_mutex_unlock(&lock);
		return rc;
	}
	pthread_mutex_unlock(&lock);
	if ((rc = grove__dav_summary_get(g, blob, fam, NULL, 0, &s)) < 0)
		return rc;
	rc = fn(&s, arg);
	grove__dav_summary_dispose(&s);
	return rc;
}

int grove__dav_summary_get(grove *g, const grove_oid *blob, grove__dav_family fam,
			   const char *data, size_t len, grove__dav_summary *out)
{
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&lock);
	if (!slots) {
		uint32_t *t = grove__calloc((size_t)SETS * WAYS, sizeof(*t));
		slots = grove__calloc((size_t)SETS * WAYS, sizeof(*slots));
		next_way = grove__calloc(SETS, 1);
		if (!slots || !next_way || !t) {
			free(slots);
			free(next_way);
			free(t);
			slots = NULL;
			next_way = NULL;
		} else {
			/* published last: grove__dav_summary_prefetch reads it unlocked */
			__atomic_store_n(&tags, t, __ATOMIC_RELEASE);
		}
	}
	int rc = 1;
	slot *hit = find(blob, fam);
	if (hit)
		rc = copy_from_slot(out, hit);
	pthread_mutex_unlock(&lock);
	if (rc <= 0)
		return rc;
	/* a miss: compute it (outside the lock) */
	grove_buf owned = { 0 };
	if (!data) {
		grove_otype t;
		if (grove_object_read(g, blob, &t, &owned) < 0)
			return grove_error_code();
		data = owned.data;
		len = owned.size;
	}
	grove__dav_summary s;
	memset(&s, 0, sizeof(s));
	s.family = fam;
	if (fam == DAV_CAL)
		summarize_calendar(data, len, &s);
	else
		summarize_vcard(data, len, &s);
	grove_buf_dispose(&owned);
	rc = copy_summary(out, &s);
	if (rc == 0 && (!s.uid || strlen(s.uid) <= MAX_CACHED_UID)) {
		pthread_mutex_lock(&lock);
		if (slots && !find(blob, fam)) {
			size_t set = set_of(blob);
			tags[set * WAYS + next_way[set]] = tag_of(blob);
			slot *sl = &slots[set * WAYS + next_way[set]];
			next_way[set] = (unsigned char)((next_way[set] + 1) % WAYS);
			slot_dispose(sl);
			sl->id = *blob;
			sl->used = 1;
			sl->family = (uint8_t)s.family;
			sl->kinds = (uint8_t)s.kinds;
			sl->uid_mixed = s.uid_mixed != 0;
			sl->bounded = s.bounded != 0;
			sl->floating = s.floating != 0;
			sl->bad = s.bad != 0;
			sl->start = s.start;
			sl->end = s.end;
			sl->uid_hash = (uint32_t)hash_str(s.uid);
			sl->uid = s.uid; /* moved into the slot */
			sl->spans = s.spans;
			sl->nspans = (uint8_t)s.nspans;
			s.uid = NULL;
			s.spans = NULL;
			s.nspans = 0;
		}
		pthread_mutex_unlock(&lock);
	}
	grove__dav_summary_dispose(&s);
	return rc;
}

int grove__dav_summary_has_uid(grove *g, const grove_oid *blob, grove__dav_family fam,
			       const char *uid)
{
	int r = -1;
	pthread_mutex_lock(&lock);
	slot *hit = find(blob, fam);
	if (hit)
		r = hit->uid && strcmp(hit->uid, uid) == 0;
	pthread_mutex_unlock(&lock);
	if (r >= 0)
		return r;
	grove__dav_summary s;
	int rc = grove__dav_summary_get(g, blob, fam, NULL, 0, &s);
	if (rc < 0)
		return rc;
	r = s.uid && strcmp(s.uid, uid) == 0;
	grove__dav_summary_dispose(&s);
	return r;
}

int grove__dav_summary_find_uid(grove *g, grove__dav_family fam, const grove_entry *entries,
				size_t count, const char *uid, const char *skip, size_t *index_out)
{
	size_t *miss = grove__calloc(count ? count : 1, sizeof(*miss));
	if (!miss)
		return GROVE_ENOMEM;
	size_t nmiss = 0;
	uint64_t h = hash_str(uid);
	int found = 0;
	/* one pass under the lock over the cached members */
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < count && !found; i++) {
		const grove_entry *e = &entries[i];
		if (e->kind == GROVE_KIND_DIR || e->kind == GROVE_KIND_SUBMODULE || e->name[0] == '.' ||
		    (skip && strcmp(e->name, skip) == 0))
			continue;
		slot *hit = find(&e->id, fam);
		if (!hit)
			miss[nmiss++] = i;
		else if (hit->uid_hash == (uint32_t)h && hit->uid && strcmp(hit->uid, uid) == 0) {
			found = 1;
			*index_out = i;
		}
	}
	pthread_mutex_unlock(&lock);
	/* then the others, parsed (and cached) one by one */
	int rc = 0;
	for (size_t k = 0; k < nmiss && !found && rc == 0; k++) {
		int same = grove__dav_summary_has_uid(g, &entries[miss[k]].id, fam, uid);
		if (same < 0)
			rc = same;
		else if (same) {
			found = 1;
			*index_out = miss[k];
		}
	}
	free(miss);
	return rc < 0 ? rc : found;
}

int grove__dav_summary_may_match(const grove__dav_summary *s, unsigned need_kinds,
				 int has_range, time_t lo, time_t hi)
{
	if (s->bad)
		return 1; /* let the full evaluation decide */
	if ((s->kinds & need_kinds) != need_kinds)
		return 0;
	if (!has_range || !s->bounded)
		return 1;
	/* floating times move by the zone's offset: at most 14 hours, and a
	 * margin for the inclusive comparisons of RFC 4791 9.9 */
	time_t slack = s->floating ? 15 * 3600 : 1;
	return !(s->end + slack < lo || s->start - slack > hi);
}

/* ---- UID -> name maps per collection ------------------------------------------------- */

/* The PUT UID check asks "which member other than this one has UID u?"
 * of the same collection again and again.  A map per collection answers
 * it with one hash probe.  A map is valid for exactly one collection tree
 * id; when the tree moved on (every PUT/DELETE makes a new one), the new
 * map is derived from the old one: members whose name and blob are
 * unchanged keep their UID, only changed members are summarised (in
 * practice the one object the last request wrote).  That costs one
 * listing of the collection and no parsing.  A few maps (UIDMAPS, least
 * recently used replaced) are kept for the whole process. */
#define UIDMAPS 8

typedef struct {
	char *name;
	char *uid; /* NULL: none */
	grove_oid blob;
	uint64_t uid_hash, name_hash;
	int seen;  /* uid_map_update: still a member */
} uid_rec;

typedef struct {
	char *coll;   /* "user/calendars/name" */
	grove__dav_family fam;
	grove_oid tree;
	uint64_t used; /* LRU stamp */
	uid_rec *recs;
	size_t n, recs_cap; /* recs_cap 0: recs holds exactly n (built) */
	uint32_t *by_name, *by_uid; /* open addressing: rec index + 1, 0 = empty */
	size_t cap;                 /* slots in each table (power of two) */
} uid_map;

static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static uid_map *maps[UIDMAPS];
static uint64_t maps_clock;

static void uid_map_free(uid_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->recs[i].name);
		free(m->recs[i].uid);
	}
	free(m->recs);
	free(m->by_name);
	free(m->by_uid);
	free(m->coll);
	free(m);
}

/* The record named name in m, or NULL. */
static uid_rec *uid_map_by_name(const uid_map *m, const char *name)
{
	size_t mask = m->cap - 1;
	uint64_t h = hash_str(name);
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t r = m->by_name[i];
		if (!r)
			return NULL;
		if (m->recs[r - 1].name_hash == h && strcmp(m->recs[r - 1].name, name) == 0)
			return &m->recs[r - 1];
	}
}

/*
 * The record of an unchanged member: same name hash and same blob.  The
 * name itself is not compared (10,000 strcmps on scattered heap strings
 * were a sixth of a PUT): a different name with an equal 64-bit hash and
 * the very same blob would be taken for it, and even then the UID
 * answered is right, the bytes being the same.
 */
static uid_rec *uid_map_same(const uid_map *m, const grove_entry *e)
{
	size_t mask = m->cap - 1;
	uint64_t h = hash_str(e->name);
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t r = m->by_name[i];
		if (!r)
			return NULL;
		uid_rec *rec = &m->recs[r - 1];
		if (rec->name_hash == h && grove_oid_cmp(&rec->blob, &e->id) == 0)
			return rec;
	}
}

/* Enters record index i (0-based) of m into both hash tables. */
static void uid_map_index(uid_map *m, size_t i)
{
	size_t mask = m->cap - 1;
	const uid_rec *r = &m->recs[i];
	size_t k = r->name_hash & mask;
	while (m->by_name[k])
		k = (k + 1) & mask;
	m->by_name[k] = (uint32_t)(i + 1);
	if (r->uid) {
		k = r->uid_hash & mask;
		while (m->by_uid[k])
			k = (k + 1) & mask;
		m->by_uid[k] = (uint32_t)(i + 1);
	}
}

/* The UID of blob (moved into *uid_out, NULL when none). */
static int member_uid(grove *g, grove__dav_family fam, const grove_oid *blob, char **uid_out)
{
	grove__dav_summary s;
	int rc = grove__dav_summary_get(g, blob, fam, NULL, 0, &s);
	if (rc < 0)
		return rc;
	*uid_out = s.uid; /* moved */
	s.uid = NULL;
	grove__dav_summary_dispose(&s);
	return 0;
}

/*
 * Brings m (the map of an older tree of the collection) up to the listing
 * in place: unchanged members (name and blob) cost one name probe, no
 * allocation; changed and new ones are summarised; gone ones dropped.  The
 * hash tables are rebuilt only when something changed.  Copying a
 * 10,000-member map for every PUT (two strdups per member) was most of a
 * PUT's time.  On error m is unusable: the caller frees it.
 */
static int uid_map_update(grove *g, grove__dav_family fam, const grove_entry *entries,
			  size_t count, uid_map *m)
{
	for (size_t i = 0; i < m->n; i++)
		m->recs[i].seen = 0;
	size_t members = 0, changed = 0;
	for (size_t i = 0; i < count; i++) {
		const grove_entry *e = &entries[i];
		if (e->kind == GROVE_KIND_DIR || e->kind == GROVE_KIND_SUBMODULE || e->name[0] == '.')
			continue;
		members++;
		uid_rec *was = uid_map_same(m, e);
		if (was) {
			was->seen = 1;
			continue;
		}
		was = uid_map_by_name(m, e->name);
		char *uid;
		int rc = member_uid(g, fam, &e->id, &uid);
		if (rc < 0)
			return rc;
		changed++;
		if (was) {
			free(was->uid);
			was->uid = uid;
			was->uid_hash = hash_str(uid);
			was->blob = e->id;
			was->seen = 1;
			continue;
		}
		/* a new member: appended (room for it: recs grows like an array) */
		if (m->n + 1 > m->recs_cap) {
			size_t want = m->n + 1 + m->n / 4;
			uid_rec *recs = grove__realloc(m->recs, want * sizeof(*recs));
			if (!recs) {
				free(uid);
				return GROVE_ENOMEM;
			}
			m->recs = recs;
			m->recs_cap = want;
		}
		uid_rec *r = &m->recs[m->n];
		memset(r, 0, sizeof(*r));
		if (!(r->name = grove__strdup(e->name))) {
			free(uid);
			return GROVE_ENOMEM;
		}
		r->uid = uid;
		r->uid_hash = hash_str(uid);
		r->name_hash = hash_str(r->name);
		r->blob = e->id;
		r->seen = 1;
		m->n++;
		/* indexed now so a later entry of the same listing finds it */
		if (m->n * 2 <= m->cap)
			uid_map_index(m, m->n - 1);
		else
			changed++; /* the tables must grow: rebuilt below */
	}
	if (members == m->n && changed == 0)
		return 0;
	/* drop the members that are gone, then rebuild both tables */
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		if (!m->recs[i].seen) {
			free(m->recs[i].name);
			free(m->recs[i].uid);
			continue;
		}
		m->recs[k++] = m->recs[i];
	}
	m->n = k;
	size_t cap = 16;
	while (cap < m->n * 2)
		cap *= 2;
	uint32_t *by_name = grove__calloc(cap, sizeof(uint32_t));
	uint32_t *by_uid = grove__calloc(cap, sizeof(uint32_t));
	if (!by_name || !by_uid) {
		free(by_name);
		free(by_uid);
		return GROVE_ENOMEM;
	}
	free(m->by_name);
	free(m->by_uid);
	m->by_name = by_name;
	m->by_uid = by_uid;
	m->cap = cap;
	for (size_t i = 0; i < m->n; i++)
		uid_map_index(m, i);
	return 0;
}

/* Builds the map of listing, reusing the UIDs of old (may be NULL) for
 * members whose blob did not change.  Returns 0 or a grove error code. */
static int uid_map_build(grove *g, grove__dav_family fam, const grove_entry *entries,
			 size_t count, const uid_map *old, uid_map *m)
{
	m->recs = grove__calloc(count ? count : 1, sizeof(*m->recs));
	m->recs_cap = count ? count : 1;
	size_t cap = 16;
	while (cap < count * 2)
		cap *= 2;
	m->cap = cap;
	m->by_name = grove__calloc(cap, sizeof(uint32_t));
	m->by_uid = grove__calloc(cap, sizeof(uint32_t));
	if (!m->recs || !m->by_name || !m->by_uid)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const grove_entry *e = &entries[i];
		if (e->kind == GROVE_KIND_DIR || e->kind == GROVE_KIND_SUBMODULE || e->name[0] == '.')
			continue;
		uid_rec *r = &m->recs[m->n];
		r->blob = e->id;
		if (!(r->name = grove__strdup(e->name)))
			return GROVE_ENOMEM;
		const uid_rec *was = old ? uid_map_by_name(old, e->name) : NULL;
		if (was && grove_oid_cmp(&was->blob, &e->id) == 0) {
			if (was->uid && !(r->uid = grove__strdup(was->uid))) {
				free(r->name);
				return GROVE_ENOMEM;
			}
		} else {
			grove__dav_summary s;
			int rc = grove__dav_summary_get(g, &e->id, fam, NULL, 0, &s);
			if (rc < 0) {
				free(r->name);
				return rc;
			}
			r->uid = s.uid; /* moved */
			s.uid = NULL;
			grove__dav_summary_dispose(&s);
		}
		r->uid_hash = hash_str(r->uid);
		r->name_hash = hash_str(r->name);
		m->n++;
		uid_map_index(m, m->n - 1);
	}
	return 0;
}

/* The name of a member other than skip whose UID is uid, or NULL. */
static const char *uid_map_lookup(const uid_map *m, const char *uid, const char *skip)
{
	uint64_t h = hash_str(uid);
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		uint32_t r = m->by_uid[i];
		if (!r)
			return NULL;
		const uid_rec *rec = &m->recs[r - 1];
		if (rec->uid_hash == h && strcmp(rec->uid, uid) == 0 &&
		    !(skip && strcmp(rec->name, skip) == 0))
			return rec->name;
	}
}

/*
 * The members of the collection tree as grove_entry records whose names
 * point into the parsed tree (*parsed, from the tree cache: the commit
 * that made the tree just put it there).  grove_view_list copies every
 * name and the caller frees them: for 10,000 members a fifth of a PUT.
 * Free list->entries only, then grove__tree_release(*parsed).
 */
static int borrow_listing(grove *g, const grove_oid *tree, grove__tree **parsed,
			  grove_entry_list *list)
{
	int rc = grove__tree_get(g, tree, parsed);
	if (rc < 0)
		return rc;
	const grove__tree *t = *parsed;
	list->entries = grove__calloc(t->count ? t->count : 1, sizeof(*list->entries));
	if (!list->entries)
		return GROVE_ENOMEM;
	for (size_t i = 0; i < t->count; i++) {
		const grove__tree_entry *te = &t->entries[i];
		grove_entry *e = &list->entries[i];
		e->name = (char *)te->name;
		e->mode = te->mode;
		e->id = te->id;
		e->kind = te->mode == GROVE_MODE_TREE	 ? GROVE_KIND_DIR
			  : te->mode == GROVE_MODE_GITLINK ? GROVE_KIND_SUBMODULE
			  : te->mode == GROVE_MODE_EXEC	   ? GROVE_KIND_EXECUTABLE
			  : te->mode == GROVE_MODE_LINK	   ? GROVE_KIND_SYMLINK
							   : GROVE_KIND_VALUE;
	}
	list->count = t->count;
	return 0;
}

/* The slot of the map of (fam, coll) under maps_lock, or -1. */
static int maps_find(grove__dav_family fam, const char *coll)
{
	for (int i = 0; i < UIDMAPS; i++)
		if (maps[i] && maps[i]->fam == fam && strcmp(maps[i]->coll, coll) == 0)
			return i;
	return -1;
}

int grove__dav_uid_map_find(grove *g, grove_view *view, grove__dav_family fam, const char *coll,
			    const char *uid, const char *skip, char **name_out)
{
	*name_out = NULL;
	grove_oid tree;
	grove_kind kind;
	int rc = grove_view_id(view, coll, &tree, &kind);
	if (rc == GROVE_ENOTFOUND || (rc == 0 && kind != GROVE_KIND_DIR))
		return 0;
	if (rc < 0)
		return rc;
	/* the map of this very tree: one probe */
	pthread_mutex_lock(&maps_lock);
	int at = maps_find(fam, coll);
	uid_map *old = NULL;
	if (at >= 0 && grove_oid_cmp(&maps[at]->tree, &tree) == 0) {
		maps[at]->used = ++maps_clock;
		const char *name = uid_map_lookup(maps[at], uid, skip);
		int r = 0;
		if (name) {
			r = (*name_out = grove__strdup(name)) ? 1 : GROVE_ENOMEM;
		}
		pthread_mutex_unlock(&maps_lock);
		return r;
	}
	if (at >= 0) {
		/* take the stale map out to derive the new one from it */
		old = maps[at];
		maps[at] = NULL;
	}
	pthread_mutex_unlock(&maps_lock);

	grove_entry_list list = { 0 };
	grove__tree *parsed = NULL;
	uid_map *m = NULL;
	rc = borrow_listing(g, &tree, &parsed, &list);
	if (rc == 0 && old) {
		/* the usual case: the tree moved on by the last request's write */
		rc = uid_map_update(g, fam, list.entries, list.count, old);
		if (rc == 0) {
			m = old;
			m->tree = tree;
		} else {
			uid_map_free(old);
		}
		old = NULL;
	}
	if (!m && rc == 0) {
		m = grove__calloc(1, sizeof(*m));
		rc = m ? 0 : GROVE_ENOMEM;
		if (rc == 0 && !(m->coll = grove__strdup(coll)))
			rc = GROVE_ENOMEM;
		if (rc == 0) {
			m->fam = fam;
			m->tree = tree;
			rc = uid_map_build(g, fam, list.entries, list.count, NULL, m);
		}
	}
	free(list.entries); /* the names belong to parsed */
	grove__tree_release(parsed);
	uid_map_free(old);
	if (rc < 0) {
		uid_map_free(m);
		return rc;
	}
	const char *name = uid_map_lookup(m, uid, skip);
	int r = 0;
	if (name)
		r = (*name_out = grove__strdup(name)) ? 1 : GROVE_ENOMEM;
	/* keep it: in its old slot, an empty one, or the least recently used */
	pthread_mutex_lock(&maps_lock);
	m->used = ++maps_clock;
	int slot_at = maps_find(fam, coll);
	if (slot_at < 0) {
		slot_at = 0;
		for (int i = 0; i < UIDMAPS; i++) {
			if (!maps[i]) {
				slot_at = i;
				break;
			}
			if (maps[i]->used < maps[slot_at]->used)
				slot_at = i;
		}
	}
	uid_map *evicted = maps[slot_at];
	maps[slot_at] = m;
	pthread_mutex_unlock(&maps_lock);
	uid_map_free(evicted);
	return r;
}

void grove__dav_uid_map_note_set(grove__dav_family fam, const char *coll,
				 const grove_oid *old_tree, const grove_oid *new_tree,
				 const char *name, const grove_oid *blob, const char *uid)
{
	if (!name[0] || name[0] == '.')
		return; /* not a member */
	pthread_mutex_lock(&maps_lock);
	int at = maps_find(fam, coll);
	uid_map *m = at >= 0 ? maps[at] : NULL;
	if (!m || grove_oid_cmp(&m->tree, old_tree) != 0)
		goto out; /* no map, or one of another tree: left to uid_map_find */
	uid_rec *rec = uid_map_by_name(m, name);
	if (rec) {
		/* an update keeping its UID: only the blob changes (a changed UID
		 * would need an entry moved in by_uid: left to uid_map_find) */
		if (!(rec->uid ? uid && strcmp(rec->uid, uid) == 0 : !uid))
			goto out;
		rec->blob = *blob;
	} else {
		/* a new member, appended and indexed as uid_map_update does */
		if ((m->n + 1) * 2 > m->cap)
			goto out;
		if (m->n + 1 > m->recs_cap) {
			size_t want = m->n + 1 + m->n / 4;
			uid_rec *recs = realloc(m->recs, want * sizeof(*recs));
			if (!recs)
				goto out;
			m->recs = recs;
			m->recs_cap = want;
		}
		char *nm = strdup(name), *u = uid ? strdup(uid) : NULL;
		if (!nm || (uid && !u)) {
			free(nm);
			free(u);
			goto out;
		}
		uid_rec *r = &m->recs[m->n];
		memset(r, 0, sizeof(*r));
		r->name = nm;
		r->uid = u;
		r->uid_hash = hash_str(u);
		r->name_hash = hash_str(nm);
		r->blob = *blob;
		m->n++;
		uid_map_index(m, m->n - 1);
	}
	m->tree = *new_tree;
	m->used = ++maps_clock;
out:
	pthread_mutex_unlock(&maps_lock);
}
