/*
 * sse_wire: encode and decode the broker's messages (grammar in sse_wire.h).
 *
 * Every frame starts with a version byte and a type letter, so a broker and
 * a publisher of different releases refuse each other's frames instead of
 * misreading them. Decoders take untrusted bytes: they check every length
 * against what is left, accept only the exact total length, and return views
 * into the frame rather than copies. Encoders build a whole frame in one
 * reservation, so a full buffer is left as it was.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "sse_buf.h"
#include "sse_event.h"
#include "sse_key.h"
#include "sse_wire.h"

#define PUBLISH_FIXED 19  /* version type flags seq key-len name-len id-len
                           * retry data-len */
#define ACK_FIXED     8   /* version type seq status reason-len */
#define DELIVER_FIXED SSE_WIRE_DELIVER_HEAD /* version type flags instance
                                             * seq */
#define REPLAY_FIXED  15  /* version type req topic-len after-kind
                           * after-len key-count */
#define REPLAYED_FIXED 31 /* version type flags instance req seq-now count */
#define ITEM_FIXED    13  /* flags seq len */
#define FLAGS_KNOWN   (SSE_WIRE_CLOSE | SSE_WIRE_ALL)
#define PUBLISH_FLAGS (FLAGS_KNOWN | SSE_WIRE_IF_CHANGED)
#define RETRY_NONE    UINT32_MAX

/* ---- byte order -------------------------------------------------------- */

static unsigned char *
put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
    return p + 2;
}

static unsigned char *
put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

static unsigned char *
putbytes(unsigned char *p, const void *s, size_t n)
{
    /* memcpy with a NULL source is undefined even for 0 bytes */
    if (n > 0)
        memcpy(p, s, n);
    return p + n;
}

static uint16_t
get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
        (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* A cursor over untrusted bytes: take() hands out the next n bytes or NULL
 * once the frame is too short, so no read can pass the end. */
struct cursor {
    const unsigned char *p;
    size_t               left;
};

static const unsigned char *
take(struct cursor *c, size_t n)
{
    const unsigned char *p = c->p;

    if (n > c->left)
        return NULL;
    c->p += n;
    c->left -= n;
    return p;
}

/* ---- publish ----------------------------------------------------------- */

int
sse_wire_publish_encode(const struct sse_wire_publish *m, struct sse_buf *out)
{
    const struct sse_event *ev = &m->ev;
    uint32_t retry;
    size_t total;
    unsigned char *p;

    if (m->flags & ~(unsigned)PUBLISH_FLAGS)
        return -1;
    if (m->key_len > UINT8_MAX || ev->event_len > UINT8_MAX ||
        ev->id_len > UINT16_MAX || ev->data_len > UINT32_MAX)
        return -1;
    if (ev->retry == -1)
        retry = RETRY_NONE;
    else if (ev->retry >= 0 && (unsigned long)ev->retry < RETRY_NONE)
        retry = (uint32_t)ev->retry;
    else
        return -1;

    total = PUBLISH_FIXED + m->key_len + ev->event_len + ev->id_len;
    if (ev->data_len > SIZE_MAX - total)
        return -1;
    total += ev->data_len;

    if ((p = (unsigned char *)sse_buf_reserve(out, total)) == NULL)
        return -1;
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'P';
    *p++ = (unsigned char)m->flags;
    p = put32(p, m->seq);
    *p++ = (unsigned char)m->key_len;
    p = putbytes(p, m->key, m->key_len);
    *p++ = (unsigned char)ev->event_len;
    p = putbytes(p, ev->event, ev->event_len);
    p = put16(p, (uint16_t)ev->id_len);
    p = putbytes(p, ev->id, ev->id_len);
    p = put32(p, retry);
    p = put32(p, (uint32_t)ev->data_len);
    putbytes(p, ev->data, ev->data_len);
    sse_buf_commit(out, total);
    return 0;
}

int
sse_wire_publish_decode(const void *frame, size_t n,
                        struct sse_wire_publish *m, size_t data_max,
                        const char **reason)
{
    struct cursor c = { frame, n };
    const unsigned char *h, *p;
    const char *why = "malformed publish frame";
    uint32_t retry;
    size_t len;

    memset(m, 0, sizeof *m);
    m->ev.retry = -1;

    if (n >= 1 && *(const unsigned char *)frame != SSE_WIRE_VERSION) {
        why = "unsupported wire version";
        goto fail;
    }
    if ((h = take(&c, 7)) == NULL)
        goto fail;
    if (h[1] != 'P') {
        why = "not a publish frame";
        goto fail;
    }
    if (h[2] & ~PUBLISH_FLAGS) {
        why = "unknown publish flags";
        goto fail;
    }
    m->flags = h[2];
    m->seq = get32(h + 3);

    if ((p = take(&c, 1)) == NULL)
        goto fail;
    len = p[0];
    if ((p = take(&c, len)) == NULL)
        goto fail;
    m->key = len ? (const char *)p : NULL;
    m->key_len = len;

    if ((p = take(&c, 1)) == NULL)
        goto fail;
    len = p[0];
    if ((p = take(&c, len)) == NULL)
        goto fail;
    m->ev.event = len ? (const char *)p : NULL;
    m->ev.event_len = len;

    if ((p = take(&c, 2)) == NULL)
        goto fail;
    len = get16(p);
    if ((p = take(&c, len)) == NULL)
        goto fail;
    m->ev.id = len ? (const char *)p : NULL;
    m->ev.id_len = len;

    if ((p = take(&c, 8)) == NULL)
        goto fail;
    retry = get32(p);
    len = get32(p + 4);
    /* Clamp so that the value fits a 32-bit long; sse_event_check still
     * refuses it. */
    if (retry == RETRY_NONE)
        m->ev.retry = -1;
    else if (retry > SSE_EVENT_RETRY_MAX)
        m->ev.retry = SSE_EVENT_RETRY_MAX + 1;
    else
        m->ev.retry = (long)retry;
    if ((p = take(&c, len)) == NULL)
        goto fail;
    m->ev.data = len ? (const char *)p : NULL;
    m->ev.data_len = len;

    if (c.left != 0)
        goto fail;

    if (m->flags & SSE_WIRE_ALL) {
        if (m->key_len != 0) {
            why = "broadcast frame carries a key";
            goto fail;
        }
    } else if ((why = sse_key_check(m->key, m->key_len)) != NULL)
        goto fail;
    if ((why = sse_event_check(&m->ev, data_max)) != NULL)
        goto fail;
    return 0;

fail:
    if (reason != NULL)
        *reason = why;
    return -1;
}

/* ---- ack --------------------------------------------------------------- */

int
sse_wire_ack_encode(const struct sse_wire_ack *a, struct sse_buf *out)
{
    size_t rlen = a->reason != NULL ? a->reason_len : 0;
    unsigned char *p;

    if (a->status < SSE_WIRE_OK || a->status > SSE_WIRE_UNCHANGED)
        return -1;
    if (rlen > UINT8_MAX)
        rlen = UINT8_MAX;
    if ((p = (unsigned char *)sse_buf_reserve(out, ACK_FIXED + rlen)) == NULL)
        return -1;
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'A';
    p = put32(p, a->seq);
    *p++ = (unsigned char)a->status;
    *p++ = (unsigned char)rlen;
    putbytes(p, a->reason, rlen);
    sse_buf_commit(out, ACK_FIXED + rlen);
    return 0;
}

int
sse_wire_ack_decode(const void *frame, size_t n, struct sse_wire_ack *a)
{
    const unsigned char *p = frame;

    if (n < ACK_FIXED || p[0] != SSE_WIRE_VERSION || p[1] != 'A')
        return -1;
    if (p[6] > SSE_WIRE_UNCHANGED || n != ACK_FIXED + (size_t)p[7])
        return -1;
    a->seq = get32(p + 2);
    a->status = p[6];
    a->reason_len = p[7];
    a->reason = p[7] ? (const char *)p + ACK_FIXED : NULL;
    return 0;
}

/* ---- events ------------------------------------------------------------ */

static unsigned char *
put64(unsigned char *p, uint64_t v)
{
    p = put32(p, (uint32_t)(v >> 32));
    return put32(p, (uint32_t)v);
}

static uint64_t
get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* ---- deliver ----------------------------------------------------------- */

/* Write the fixed part of a deliver frame at p; returns the next byte. */
static unsigned char *
deliver_head(unsigned char *p, const struct sse_wire_deliver *d)
{
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'D';
    *p++ = (unsigned char)d->flags;
    p = put64(p, d->instance);
    return put64(p, d->seq);
}

int
sse_wire_deliver_encode(const struct sse_wire_deliver *d, struct sse_buf *out)
{
    unsigned char *p;

    if (d->flags & ~(unsigned)FLAGS_KNOWN || d->len > SIZE_MAX - DELIVER_FIXED)
        return -1;
    if ((p = (unsigned char *)sse_buf_reserve(out, DELIVER_FIXED + d->len))
        == NULL)
        return -1;
    putbytes(deliver_head(p, d), d->sse, d->len);
    sse_buf_commit(out, DELIVER_FIXED + d->len);
    return 0;
}

int
sse_wire_deliver_head(const struct sse_wire_deliver *d, struct sse_buf *out)
{
    unsigned char *p;

    if (d->flags & ~(unsigned)FLAGS_KNOWN)
        return -1;
    if ((p = (unsigned char *)sse_buf_reserve(out, DELIVER_FIXED)) == NULL)
        return -1;
    deliver_head(p, d);
    sse_buf_commit(out, DELIVER_FIXED);
    return 0;
}

int
sse_wire_deliver_decode(const void *frame, size_t n,
                        struct sse_wire_deliver *d)
{
    const unsigned char *p = frame;

    if (n < DELIVER_FIXED || p[0] != SSE_WIRE_VERSION || p[1] != 'D')
        return -1;
    if (p[2] & ~FLAGS_KNOWN)
        return -1;
    d->flags = p[2];
    d->instance = get64(p + 3);
    d->seq = get64(p + 11);
    d->sse = (const char *)p + DELIVER_FIXED;
    d->len = n - DELIVER_FIXED;
    return sse_event_whole(d->sse, d->len) ? 0 : -1;
}

/* ---- replay ------------------------------------------------------------ */

int
sse_wire_replay_encode(const struct sse_wire_replay *r, struct sse_buf *out)
{
    size_t total = REPLAY_FIXED + r->topic_len, after_len;
    unsigned char *p;

    if (r->topic_len > UINT8_MAX || r->nkeys > SSE_WIRE_KEYS_MAX)
        return -1;
    switch (r->after) {
    case SSE_WIRE_AFTER_NONE:
    case SSE_WIRE_AFTER_LATEST:
        after_len = 0;
        break;
    case SSE_WIRE_AFTER_SEQ:
        after_len = 8;
        break;
    case SSE_WIRE_AFTER_ID:
        after_len = r->after_id_len;
        break;
    default:
        return -1;
    }
    if (after_len > UINT16_MAX)
        return -1;
    total += after_len;
    for (size_t i = 0; i < r->nkeys; i++) {
        if (r->key_lens[i] > UINT8_MAX)
            return -1;
        total += 1 + r->key_lens[i];
    }
    if ((p = (unsigned char *)sse_buf_reserve(out, total)) == NULL)
        return -1;
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'R';
    p = put64(p, r->req);
    *p++ = (unsigned char)r->topic_len;
    p = putbytes(p, r->topic, r->topic_len);
    *p++ = (unsigned char)r->after;
    p = put16(p, (uint16_t)after_len);
    if (r->after == SSE_WIRE_AFTER_SEQ)
        p = put64(p, r->after_seq);
    else
        p = putbytes(p, r->after_id, after_len);
    *p++ = (unsigned char)r->nkeys;
    for (size_t i = 0; i < r->nkeys; i++) {
        *p++ = (unsigned char)r->key_lens[i];
        p = putbytes(p, r->keys[i], r->key_lens[i]);
    }
    sse_buf_commit(out, total);
    return 0;
}

int
sse_wire_replay_decode(const void *frame, size_t n, struct sse_wire_replay *r)
{
    struct cursor c = { frame, n };
    const unsigned char *p;
    size_t len;

    memset(r, 0, sizeof *r);
    if ((p = take(&c, 10)) == NULL || p[0] != SSE_WIRE_VERSION || p[1] != 'R')
        return -1;
    r->req = get64(p + 2);
    if ((p = take(&c, 1)) == NULL || (p = take(&c, len = p[0])) == NULL)
        return -1;
    r->topic = (const char *)p;
    r->topic_len = len;
    if ((p = take(&c, 3)) == NULL)
        return -1;
    r->after = p[0];
    len = get16(p + 1);
    if ((p = take(&c, len)) == NULL)
        return -1;
    switch (r->after) {
    case SSE_WIRE_AFTER_NONE:
    case SSE_WIRE_AFTER_LATEST:
        if (len != 0)
            return -1;
        break;
    case SSE_WIRE_AFTER_SEQ:
        if (len != 8)
            return -1;
        r->after_seq = get64(p);
        break;
    case SSE_WIRE_AFTER_ID:
        if (sse_event_check_id((const char *)p, len) != NULL)
            return -1;
        r->after_id = (const char *)p;
        r->after_id_len = len;
        break;
    default:
        return -1;
    }
    if ((p = take(&c, 1)) == NULL || p[0] > SSE_WIRE_KEYS_MAX)
        return -1;
    r->nkeys = p[0];
    for (size_t i = 0; i < r->nkeys; i++) {
        if ((p = take(&c, 1)) == NULL || (p = take(&c, len = p[0])) == NULL)
            return -1;
        if (sse_key_check((const char *)p, len) != NULL)
            return -1;
        r->keys[i] = (const char *)p;
        r->key_lens[i] = len;
    }
    return c.left == 0 ? 0 : -1;
}

/* ---- replayed ---------------------------------------------------------- */

int
sse_wire_replayed_encode(const struct sse_wire_replayed *h,
                         const struct sse_wire_item *items, size_t n,
                         struct sse_buf *out)
{
    size_t total = REPLAYED_FIXED;
    unsigned char *p;

    if (n > UINT32_MAX || h->flags & ~(unsigned)SSE_WIRE_MISSED)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (items[i].flags & ~(unsigned)FLAGS_KNOWN ||
            items[i].len > UINT32_MAX ||
            items[i].len > SIZE_MAX - total - ITEM_FIXED)
            return -1;
        total += ITEM_FIXED + items[i].len;
    }
    if ((p = (unsigned char *)sse_buf_reserve(out, total)) == NULL)
        return -1;
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'Y';
    *p++ = (unsigned char)h->flags;
    p = put64(p, h->instance);
    p = put64(p, h->req);
    p = put64(p, h->seq_now);
    p = put32(p, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        *p++ = (unsigned char)items[i].flags;
        p = put64(p, items[i].seq);
        p = put32(p, (uint32_t)items[i].len);
        p = putbytes(p, items[i].sse, items[i].len);
    }
    sse_buf_commit(out, total);
    return 0;
}

int
sse_wire_replayed_decode(const void *frame, size_t n,
                         struct sse_wire_replayed *h)
{
    struct cursor c = { frame, n };
    const unsigned char *p;
    struct sse_wire_item item;

    memset(h, 0, sizeof *h);
    if ((p = take(&c, REPLAYED_FIXED)) == NULL ||
        p[0] != SSE_WIRE_VERSION || p[1] != 'Y' ||
        p[2] & ~(unsigned)SSE_WIRE_MISSED)
        return -1;
    h->flags = p[2];
    h->instance = get64(p + 3);
    h->req = get64(p + 11);
    h->seq_now = get64(p + 19);
    h->count = get32(p + 27);
    h->items = c.p;
    h->items_len = c.left;
    /* Check every item now, so iterating cannot fail later. */
    h->next = h->items;
    h->left = h->items_len;
    for (uint32_t i = 0; i < h->count; i++)
        if (sse_wire_replayed_next(h, &item) != 1)
            return -1;
    if (h->left != 0)
        return -1;
    h->next = h->items;
    h->left = h->items_len;
    return 0;
}

int
sse_wire_replayed_next(struct sse_wire_replayed *h, struct sse_wire_item *item)
{
    struct cursor c = { h->next, h->left };
    const unsigned char *p;
    size_t len;

    if (c.left == 0)
        return 0;
    if ((p = take(&c, ITEM_FIXED)) == NULL || p[0] & ~FLAGS_KNOWN)
        return -1;
    item->flags = p[0];
    item->seq = get64(p + 1);
    len = get32(p + 9);
    if ((p = take(&c, len)) == NULL ||
        !sse_event_whole((const char *)p, len))
        return -1;
    item->sse = (const char *)p;
    item->len = len;
    h->next = c.p;
    h->left = c.left;
    return 1;
}

/* ---- counts ------------------------------------------------------------ */

#define REPORT_FIXED 22   /* version type worker pid streams count */

int
sse_wire_report_begin(struct sse_buf *out, uint64_t worker, uint32_t pid,
                      uint32_t streams)
{
    unsigned char *p = (unsigned char *)sse_buf_reserve(out, REPORT_FIXED);

    if (p == NULL)
        return -1;
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'W';
    p = put64(p, worker);
    p = put32(p, pid);
    p = put32(p, streams);
    put32(p, 0);
    sse_buf_commit(out, REPORT_FIXED);
    return 0;
}

int
sse_wire_report_key(struct sse_buf *out, const char *key, size_t len,
                    uint32_t streams)
{
    unsigned char *p;

    if (len == 0 || len > UINT8_MAX ||
        (p = (unsigned char *)sse_buf_reserve(out, 5 + len)) == NULL)
        return -1;
    *p++ = (unsigned char)len;
    p = putbytes(p, key, len);
    put32(p, streams);
    sse_buf_commit(out, 5 + len);
    return 0;
}

void
sse_wire_report_end(struct sse_buf *out, size_t begin, uint32_t count)
{
    unsigned char *p = (unsigned char *)sse_buf_head(out) + begin;

    put32(p + REPORT_FIXED - 4, count);
}

int
sse_wire_report_next(struct sse_wire_report *r, const char **key,
                     size_t *len, uint32_t *streams)
{
    struct cursor c = { r->next, r->left };
    const unsigned char *q;

    if (c.left == 0)
        return 0;
    if ((q = take(&c, 1)) == NULL || q[0] == 0 ||
        (q = take(&c, *len = q[0])) == NULL)
        return -1;
    *key = (const char *)q;
    if ((q = take(&c, 4)) == NULL)
        return -1;
    *streams = get32(q);
    r->next = c.p;
    r->left = c.left;
    return 1;
}

int
sse_wire_report_decode(const void *frame, size_t n, struct sse_wire_report *r)
{
    const unsigned char *f = frame;
    const char *key;
    size_t len;
    uint32_t streams, i;

    if (n < REPORT_FIXED || f[0] != SSE_WIRE_VERSION || f[1] != 'W')
        return -1;
    r->worker = get64(f + 2);
    r->pid = get32(f + 10);
    r->streams = get32(f + 14);
    r->count = get32(f + 18);
    r->next = f + REPORT_FIXED;
    r->left = n - REPORT_FIXED;
    for (i = 0; i < r->count; i++)
        if (sse_wire_report_next(r, &key, &len, &streams) != 1 ||
            sse_key_check(key, len) != NULL)
            return -1;
    if (r->left != 0)
        return -1;
    r->next = f + REPORT_FIXED;
    r->left = n - REPORT_FIXED;
    return 0;
}

int
sse_wire_stats_encode(uint32_t seq, const char *key, size_t len,
                      const char *topic, size_t topic_len, struct sse_buf *out)
{
    size_t total = 7 + len + (topic_len > 0 ? 1 + topic_len : 0);
    unsigned char *p;

    if (len > UINT8_MAX || topic_len > UINT8_MAX ||
        (p = (unsigned char *)sse_buf_reserve(out, total)) == NULL)
        return -1;
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'S';
    p = put32(p, seq);
    *p++ = (unsigned char)len;
    p = putbytes(p, key, len);
    if (topic_len > 0) {
        *p++ = (unsigned char)topic_len;
        putbytes(p, topic, topic_len);
    }
    sse_buf_commit(out, total);
    return 0;
}

int
sse_wire_stats_decode(const void *frame, size_t n, uint32_t *seq,
                      const char **key, size_t *len, const char **topic,
                      size_t *topic_len)
{
    const unsigned char *f = frame;
    size_t rest;

    if (n < 7 || f[0] != SSE_WIRE_VERSION || f[1] != 'S' ||
        n < 7 + (size_t)f[6])
        return -1;
    *seq = get32(f + 2);
    *len = f[6];
    *key = *len > 0 ? (const char *)f + 7 : NULL;
    *topic = NULL;
    *topic_len = 0;
    rest = n - 7 - *len;
    if (rest > 0) {
        const unsigned char *t = f + 7 + *len;

        if (t[0] == 0 || rest != 1 + (size_t)t[0])
            return -1;
        *topic = (const char *)t + 1;
        *topic_len = t[0];
    }
    return *len == 0 || sse_key_check(*key, *len) == NULL ? 0 : -1;
}

int
sse_wire_counts_encode(uint32_t seq, const char *json, size_t len,
                       struct sse_buf *out)
{
    unsigned char *p;

    if (len > UINT32_MAX ||
        (p = (unsigned char *)sse_buf_reserve(out, 10 + len)) == NULL)
        return -1;
    *p++ = SSE_WIRE_VERSION;
    *p++ = 'T';
    p = put32(p, seq);
    p = put32(p, (uint32_t)len);
    putbytes(p, json, len);
    sse_buf_commit(out, 10 + len);
    return 0;
}

int
sse_wire_counts_decode(const void *frame, size_t n, uint32_t *seq,
                       const char **json, size_t *len)
{
    const unsigned char *f = frame;

    if (n < 10 || f[0] != SSE_WIRE_VERSION || f[1] != 'T' ||
        n != 10 + (size_t)get32(f + 6))
        return -1;
    *seq = get32(f + 2);
    *len = get32(f + 6);
    *json = (const char *)f + 10;
    return 0;
}
