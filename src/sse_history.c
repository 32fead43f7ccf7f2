/*
 * sse_history: recent events in one global list in sequence order, each
 * also on its key's list. The global list makes age and size limits cheap
 * (the oldest is always at its head); the key lists make the count limit
 * and replays cheap. Keys live in an sse_map.
 *
 * State file (all integers big-endian):
 *   state  = "SSEGW-STATE" %x00 version clean next-seq gap-below horizon
 *            key-count *(key-len key floor) event-count *event
 *   event  = key-len key seq time flags id-len id len sse-bytes
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_event.h"
#include "sse_history.h"
#include "sse_key.h"
#include "sse_map.h"
#include "sse_wire.h"
#include "sse_xmalloc.h"

#define STATE_MAGIC   "SSEGW-STATE"
#define STATE_VERSION 1

struct entry {
    struct sse_history_event ev;        /* id and sse point into bytes */
    struct entry *prev, *next;          /* global list, oldest first */
    struct entry *kprev, *knext;        /* the key's list, oldest first */
    struct hkey  *key;
    char          bytes[];              /* id, NUL, the event's bytes, NUL */
};

struct hkey {
    struct sse_map_node node;
    struct entry *head, *tail;
    size_t        count;
    uint64_t      floor;                /* newest seq let go from this key */
    size_t        len;
    char          name[];
};

struct sse_history {
    struct sse_history_limits lim;
    struct entry *head, *tail;
    size_t        count;
    size_t        bytes;
    struct sse_map keys;
    uint64_t      gap_below;            /* unknown before this seq */
    uint64_t      horizon;              /* floor of keys with no entry */
};

static struct hkey *get_key(struct sse_history *h, const char *key,
                            size_t len);

struct sse_history *
sse_history_new(const struct sse_history_limits *lim, uint64_t gap_below)
{
    struct sse_history *h = xcalloc(1, sizeof(*h));

    h->lim = *lim;
    if (h->lim.count == 0)
        h->lim.count = 1;
    sse_map_init(&h->keys);
    h->gap_below = gap_below;
    (void)get_key(h, "", 0);
    return h;
}

void
sse_history_destroy(struct sse_history **hp)
{
    struct sse_history *h = *hp;
    struct sse_map_node *n, *next;
    size_t pos = 0;

    if (h == NULL)
        return;
    for (struct entry *e = h->head, *enext; e != NULL; e = enext) {
        enext = e->next;
        free(e);
    }
    for (n = sse_map_next(&h->keys, NULL, &pos); n != NULL; n = next) {
        next = sse_map_next(&h->keys, n, &pos);
        free(sse_map_entry(n, struct hkey, node));
    }
    sse_map_free(&h->keys);
    free(h);
    *hp = NULL;
}

static struct hkey *
lookup(const struct sse_history *h, const char *key, size_t len)
{
    struct sse_map_node *n = sse_map_find(&h->keys, key, len);

    return n != NULL ? sse_map_entry(n, struct hkey, node) : NULL;
}

static struct hkey *
get_key(struct sse_history *h, const char *key, size_t len)
{
    struct hkey *k = lookup(h, key, len);

    if (k == NULL) {
        k = xcalloc(1, sizeof(*k) + len + 1);
        k->len = len;
        k->floor = h->horizon;
        memcpy(k->name, key, len);
        sse_map_insert(&h->keys, &k->node, k->name, len);
    }
    return k;
}

/* Let go of e, remembering on its key that its seq is gone; a key left
 * empty is dropped and its floor kept in the horizon. */
static void
drop(struct sse_history *h, struct entry *e)
{
    struct hkey *k = e->key;

    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        h->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        h->tail = e->prev;
    if (e->kprev != NULL)
        e->kprev->knext = e->knext;
    else
        k->head = e->knext;
    if (e->knext != NULL)
        e->knext->kprev = e->kprev;
    else
        k->tail = e->kprev;
    if (e->ev.seq > k->floor)
        k->floor = e->ev.seq;
    k->count--;
    h->count--;
    h->bytes -= e->ev.len + e->ev.id_len;
    free(e);
    /* The broadcasts' entry stays: every replay reads it. */
    if (k->count == 0 && k->len > 0) {
        if (k->floor > h->horizon)
            h->horizon = k->floor;
        sse_map_remove(&h->keys, &k->node);
        free(k);
    }
}

void
sse_history_add(struct sse_history *h, const char *key, size_t klen,
                const struct sse_history_event *ev)
{
    struct hkey *k = get_key(h, key, klen);
    /* One allocation per event: the entry with its id and bytes. */
    struct entry *e = xmalloc(sizeof(*e) + ev->id_len + ev->len + 2);
    char *id = e->bytes, *sse = e->bytes + ev->id_len + 1;

    e->ev = *ev;
    if (ev->id_len > 0)
        memcpy(id, ev->id, ev->id_len);
    id[ev->id_len] = '\0';
    if (ev->len > 0)
        memcpy(sse, ev->sse, ev->len);
    sse[ev->len] = '\0';
    e->ev.id = id;
    e->ev.sse = sse;
    e->next = NULL;
    e->knext = NULL;
    e->key = k;
    e->prev = h->tail;
    if (h->tail != NULL)
        h->tail->next = e;
    else
        h->head = e;
    h->tail = e;
    e->kprev = k->tail;
    if (k->tail != NULL)
        k->tail->knext = e;
    else
        k->head = e;
    k->tail = e;
    k->count++;
    h->count++;
    h->bytes += ev->len + ev->id_len;
    if (k->count > h->lim.count)
        drop(h, k->head);
    while (h->lim.bytes > 0 && h->bytes > h->lim.bytes && h->head != e)
        drop(h, h->head);
}

void
sse_history_expire(struct sse_history *h, int64_t now_ms)
{
    int64_t cutoff;

    if (h->lim.age_ms <= 0)
        return;
    cutoff = now_ms - h->lim.age_ms;
    while (h->head != NULL && h->head->ev.time_ms < cutoff)
        drop(h, h->head);
}

const struct sse_history_event *
sse_history_latest(const struct sse_history *h, const char *key, size_t klen)
{
    struct hkey *k = lookup(h, key, klen);

    return k != NULL && k->tail != NULL ? &k->tail->ev : NULL;
}

size_t
sse_history_count(const struct sse_history *h)
{
    return h->count;
}

size_t
sse_history_bytes(const struct sse_history *h)
{
    return h->bytes;
}

void
sse_history_set_gap_below(struct sse_history *h, uint64_t gap_below)
{
    if (gap_below > h->gap_below)
        h->gap_below = gap_below;
}

/* ---- replay ------------------------------------------------------------ */

static int
by_seq(const void *a, const void *b)
{
    const struct sse_history_event *x = *(const struct sse_history_event *
                                          const *)a;
    const struct sse_history_event *y = *(const struct sse_history_event *
                                          const *)b;

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* A decimal sequence number, or 0. */
static uint64_t
parse_seq(const char *s, size_t n)
{
    uint64_t v = 0;

    if (n == 0 || n > 19)
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return 0;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

void
sse_history_replay(const struct sse_history *h, const char *const *keys,
                   const size_t *key_lens, size_t nkeys,
                   const char *after_id, size_t after_id_len,
                   uint64_t after_seq, size_t max_bytes,
                   struct sse_history_replay *out)
{
    /* The stream's keys, then the broadcasts (the empty key). */
    struct hkey *ks[nkeys + 1];
    size_t nk = 0, cap = 0, bytes = 0, first = 0;
    int absent = 0;

    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i <= nkeys; i++) {
        struct hkey *k = i < nkeys ? lookup(h, keys[i], key_lens[i]) :
            lookup(h, "", 0);

        if (k != NULL)
            ks[nk++] = k;
        else
            absent = 1;
    }
    if (after_id != NULL) {
        int found = 0;

        /* The newest event with that id, on any of the stream's keys. */
        for (size_t i = 0; i < nk; i++)
            for (struct entry *e = ks[i]->tail; e != NULL; e = e->kprev)
                if (e->ev.id_len == after_id_len &&
                    memcmp(e->ev.id, after_id, after_id_len) == 0) {
                    if (!found || e->ev.seq > after_seq)
                        after_seq = e->ev.seq;
                    found = 1;
                    break;
                }
        /* Not kept: a broker id still says where the stream was; any
         * other id is unknown, and everything kept is replayed. */
        if (!found && (after_seq = parse_seq(after_id, after_id_len)) == 0)
            out->missed = 1;
    }
    /* Events after the point may be gone: before this history began, from
     * a key that let some go, or from a key that let all go. */
    if (after_seq < h->gap_below || (absent && h->horizon > after_seq))
        out->missed = 1;
    for (size_t i = 0; i < nk; i++) {
        if (ks[i]->floor > after_seq)
            out->missed = 1;
        for (struct entry *e = ks[i]->tail; e != NULL && e->ev.seq > after_seq;
             e = e->kprev) {
            if (out->n == cap) {
                cap = cap ? cap * 2 : 16;
                out->events = xrealloc(out->events,
                                       cap * sizeof(*out->events));
            }
            out->events[out->n++] = &e->ev;
        }
    }
    if (out->n > 1)
        qsort(out->events, out->n, sizeof(*out->events), by_seq);
    /* Keep the newest that fit. */
    for (size_t i = out->n; i > 0; i--) {
        bytes += out->events[i - 1]->len;
        if (max_bytes > 0 && bytes > max_bytes) {
            first = i;
            out->missed = 1;
            break;
        }
    }
    if (first > 0) {
        memmove(out->events, out->events + first,
                (out->n - first) * sizeof(*out->events));
        out->n -= first;
    }
}

void
sse_history_replay_free(struct sse_history_replay *out)
{
    free(out->events);
    memset(out, 0, sizeof(*out));
}

/* ---- state file --------------------------------------------------------- */

static int
put_u(struct sse_buf *b, uint64_t v, int bytes)
{
    unsigned char x[8];

    for (int i = 0; i < bytes; i++)
        x[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    return sse_buf_append(b, x, (size_t)bytes);
}

int
sse_history_save(const struct sse_history *h, uint64_t next_seq, int clean,
                 struct sse_buf *out)
{
    size_t before = sse_buf_len(out);
    struct sse_map_node *n;
    size_t pos = 0;
    int rc = 0;

    rc |= sse_buf_append(out, STATE_MAGIC, sizeof(STATE_MAGIC));
    rc |= put_u(out, STATE_VERSION, 1);
    rc |= put_u(out, clean ? 1 : 0, 1);
    rc |= put_u(out, next_seq, 8);
    rc |= put_u(out, h->gap_below, 8);
    rc |= put_u(out, h->horizon, 8);
    rc |= put_u(out, h->keys.count, 4);
    for (n = sse_map_next(&h->keys, NULL, &pos); n != NULL;
         n = sse_map_next(&h->keys, n, &pos)) {
        struct hkey *k = sse_map_entry(n, struct hkey, node);

        rc |= put_u(out, k->len, 1);
        rc |= sse_buf_append(out, k->name, k->len);
        rc |= put_u(out, k->floor, 8);
    }
    rc |= put_u(out, h->count, 4);
    for (struct entry *e = h->head; e != NULL; e = e->next) {
        rc |= put_u(out, e->key->len, 1);
        rc |= sse_buf_append(out, e->key->name, e->key->len);
        rc |= put_u(out, e->ev.seq, 8);
        rc |= put_u(out, (uint64_t)e->ev.time_ms, 8);
        rc |= put_u(out, e->ev.flags, 1);
        rc |= put_u(out, e->ev.id_len, 2);
        rc |= sse_buf_append(out, e->ev.id, e->ev.id_len);
        rc |= put_u(out, e->ev.len, 4);
        rc |= sse_buf_append(out, e->ev.sse, e->ev.len);
    }
    if (rc != 0) {
        /* Appends fail whole, at the ceiling: undo the partial state. */
        sse_buf_truncate(out, sse_buf_len(out) - before);
        return -1;
    }
    return 0;
}

struct reader {
    const unsigned char *p;
    size_t               left;
    int                  bad;
};

static uint64_t
get_u(struct reader *r, int bytes)
{
    uint64_t v = 0;

    if (r->bad || r->left < (size_t)bytes) {
        r->bad = 1;
        return 0;
    }
    for (int i = 0; i < bytes; i++)
        v = v << 8 | r->p[i];
    r->p += bytes;
    r->left -= (size_t)bytes;
    return v;
}

static const char *
get_bytes(struct reader *r, size_t n)
{
    const char *p = (const char *)r->p;

    if (r->bad || r->left < n) {
        r->bad = 1;
        return NULL;
    }
    r->p += n;
    r->left -= n;
    return p;
}

static int
valid_key(const char *key, size_t len)
{
    return len == 0 || sse_key_check(key, len) == NULL;
}

int
sse_history_load(struct sse_history *h, const void *p, size_t n,
                 int64_t now_ms, uint64_t *next_seq, int *clean,
                 const char **reason)
{
    struct reader r = { p, n, 0 };
    const char *magic = get_bytes(&r, sizeof(STATE_MAGIC));
    uint64_t nkeys, nevents, gap_below, horizon, seq;
    int is_clean;

    if (magic == NULL || memcmp(magic, STATE_MAGIC, sizeof(STATE_MAGIC)) ||
        get_u(&r, 1) != STATE_VERSION) {
        *reason = "not a state file of this version";
        return -1;
    }
    is_clean = get_u(&r, 1) == 1;
    seq = get_u(&r, 8);
    gap_below = get_u(&r, 8);
    horizon = get_u(&r, 8);
    nkeys = get_u(&r, 4);
    /* Parse everything once before changing h, so a bad file leaves h as
     * it was. */
    for (int pass = 0; pass < 2; pass++) {
        struct reader q = r;
        uint64_t last = 0;

        for (uint64_t i = 0; i < nkeys && !q.bad; i++) {
            size_t len = get_u(&q, 1);
            const char *key = get_bytes(&q, len);
            uint64_t floor = get_u(&q, 8);

            if (q.bad || !valid_key(key, len)) {
                q.bad = 1;
                break;
            }
            if (pass == 1)
                get_key(h, key, len)->floor = floor;
        }
        nevents = get_u(&q, 4);
        for (uint64_t i = 0; i < nevents && !q.bad; i++) {
            struct sse_history_event ev;
            size_t klen = get_u(&q, 1);
            const char *key = get_bytes(&q, klen);

            ev.seq = get_u(&q, 8);
            ev.time_ms = (int64_t)get_u(&q, 8);
            ev.flags = (unsigned)get_u(&q, 1);
            ev.id_len = get_u(&q, 2);
            ev.id = get_bytes(&q, ev.id_len);
            ev.len = get_u(&q, 4);
            ev.sse = get_bytes(&q, ev.len);
            if (q.bad || !valid_key(key, klen) || ev.seq <= last ||
                ev.seq >= seq || ev.time_ms < 0 ||
                ev.flags & ~(unsigned)(SSE_WIRE_CLOSE | SSE_WIRE_ALL) ||
                sse_event_check_id(ev.id, ev.id_len) ||
                !sse_event_whole(ev.sse, ev.len)) {
                q.bad = 1;
                break;
            }
            /* A clock set back since: keep the event, let it age from now. */
            if (ev.time_ms > now_ms)
                ev.time_ms = now_ms;
            last = ev.seq;
            if (pass == 1)
                sse_history_add(h, key, klen, &ev);
        }
        if (q.bad || q.left != 0) {
            *reason = "state file is damaged";
            return -1;
        }
    }
    h->horizon = horizon > h->horizon ? horizon : h->horizon;
    sse_history_set_gap_below(h, gap_below);
    /* What aged out while the broker was down is let go as usual, so the
     * keys remember it. */
    sse_history_expire(h, now_ms);
    *next_seq = seq;
    *clean = is_clean;
    return 0;
}
