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
#define DELIVER_FIXED 3   /* version type flags */
#define FLAGS_KNOWN   (SSE_WIRE_CLOSE | SSE_WIRE_ALL)
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

    if (m->flags & ~(unsigned)FLAGS_KNOWN)
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
    if (h[2] & ~FLAGS_KNOWN) {
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

    if (a->status < SSE_WIRE_OK || a->status > SSE_WIRE_UNAVAILABLE)
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
    if (p[6] > SSE_WIRE_UNAVAILABLE || n != ACK_FIXED + (size_t)p[7])
        return -1;
    a->seq = get32(p + 2);
    a->status = p[6];
    a->reason_len = p[7];
    a->reason = p[7] ? (const char *)p + ACK_FIXED : NULL;
    return 0;
}

/* ---- deliver ----------------------------------------------------------- */

int
sse_wire_deliver_encode(unsigned flags, const struct sse_event *ev,
                        struct sse_buf *out)
{
    unsigned char h[DELIVER_FIXED];

    if (flags & ~(unsigned)FLAGS_KNOWN)
        return -1;
    h[0] = SSE_WIRE_VERSION;
    h[1] = 'D';
    h[2] = (unsigned char)flags;
    if (sse_buf_append(out, h, sizeof h) == -1)
        return -1;
    if (sse_event_encode(ev, out) == -1) {
        sse_buf_truncate(out, sizeof h);
        return -1;
    }
    return 0;
}

int
sse_wire_deliver_decode(const void *frame, size_t n, unsigned *flags,
                        const char **sse, size_t *sse_len)
{
    const unsigned char *p = frame;
    const char *s;
    size_t len, i;

    if (n < DELIVER_FIXED || p[0] != SSE_WIRE_VERSION || p[1] != 'D')
        return -1;
    if (p[2] & ~FLAGS_KNOWN)
        return -1;
    s = (const char *)p + DELIVER_FIXED;
    len = n - DELIVER_FIXED;

    /*
     * An encoded event ends in its only blank line, since every field line
     * is "name: value" LF. Checking for exactly one whole event keeps a
     * truncated or merged frame from reaching a stream, where it would run
     * into the next event.
     */
    if (len < 2 || s[len - 1] != '\n' || s[len - 2] != '\n')
        return -1;
    for (i = 0; i + 2 < len; i++)
        if (s[i] == '\n' && s[i + 1] == '\n')
            return -1;

    *flags = p[2];
    *sse = s;
    *sse_len = len;
    return 0;
}
