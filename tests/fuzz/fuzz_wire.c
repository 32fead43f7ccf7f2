/*
 * fuzz_wire: the broker's message decoders on untrusted frames.
 *
 * Input: byte 0 picks a message type from the table below; the rest is the
 * frame. For every type, when the decoder accepts a frame:
 *
 *   - the frame starts with SSE_WIRE_VERSION and the type's letter, and no
 *     other type's decoder accepts it;
 *   - every view it returns lies inside the frame, and every field passes
 *     the checks the header promises (key, event fields, id, flags, status,
 *     one whole event per delivered item);
 *   - encoding the decoded message gives back exactly the frame's bytes;
 *   - a decoded publish, encoded as its event and sent on as a deliver
 *     frame, decodes again as that same event.
 *
 * A refused publish always comes with a reason. To fuzz a new message
 * type, write its check_ function and add one row to types[] (and its
 * letter to wire.dict).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_buf.h"
#include "sse_event.h"
#include "sse_key.h"
#include "sse_wire.h"

#define FLAGS_KNOWN (SSE_WIRE_CLOSE | SSE_WIRE_ALL)

/* ---- helpers ------------------------------------------------------------- */

/* p[0..len) lies inside f[0..n); NULL only when empty. */
static int
inside(const unsigned char *f, size_t n, const void *p, size_t len)
{
    const unsigned char *q = p;

    if (q == NULL)
        return len == 0;
    return q >= f && q <= f + n && len <= (size_t)(f + n - q);
}

static void
check_header(const unsigned char *f, size_t n, char type)
{
    FUZZ_CHECK(n >= 2 && f[0] == SSE_WIRE_VERSION && f[1] == type,
               "a '%c' frame starts with %02x %02x", type,
               n > 0 ? f[0] : 0, n > 1 ? f[1] : 0);
}

/* The buffer holds exactly the frame's bytes; then frees it. */
static void
check_same(struct sse_buf *b, const unsigned char *f, size_t n,
           const char *what)
{
    FUZZ_CHECK(sse_buf_len(b) == n &&
                   memcmp(sse_buf_head(b), f, n) == 0,
               "%s: re-encoding gave %zu bytes for %zu", what,
               sse_buf_len(b), n);
    sse_buf_free(b);
}

/* One whole event: ends in a blank line ("\n\n") and holds no other. */
static int
one_event(const char *s, size_t len)
{
    if (len < 2 || s[len - 1] != '\n' || s[len - 2] != '\n')
        return 0;
    for (size_t i = 0; i + 2 < len; i++)
        if (s[i] == '\n' && s[i + 1] == '\n')
            return 0;
    return 1;
}

/* ---- one check per message type ------------------------------------------ */

/* Each returns 1 if its decoder accepted the frame (after checking what it
 * gave), else 0. */

static int
check_publish(const unsigned char *f, size_t n)
{
    struct sse_wire_publish m;
    struct sse_wire_deliver d, back;
    struct sse_buf b, ev;
    const char *reason = NULL;

    if (sse_wire_publish_decode(f, n, &m, SSE_EVENT_DATA_MAX, &reason) != 0) {
        FUZZ_CHECK(reason != NULL, "publish refused without a reason");
        return 0;
    }
    check_header(f, n, 'P');
    FUZZ_CHECK((m.flags & ~(unsigned)(FLAGS_KNOWN | SSE_WIRE_IF_CHANGED))
               == 0, "flags %#x", m.flags);
    if (m.flags & SSE_WIRE_ALL)
        FUZZ_CHECK(m.key == NULL && m.key_len == 0, "a broadcast has a key");
    else
        FUZZ_CHECK(sse_key_check(m.key, m.key_len) == NULL,
                   "key \"%.*s\" fails sse_key_check", (int)m.key_len,
                   m.key);
    FUZZ_CHECK(sse_event_check(&m.ev, SSE_EVENT_DATA_MAX) == NULL,
               "event fails sse_event_check: %s",
               sse_event_check(&m.ev, SSE_EVENT_DATA_MAX));
    FUZZ_CHECK(inside(f, n, m.key, m.key_len) &&
                   inside(f, n, m.ev.event, m.ev.event_len) &&
                   inside(f, n, m.ev.id, m.ev.id_len) &&
                   inside(f, n, m.ev.data, m.ev.data_len),
               "a publish field points outside the frame");

    sse_buf_init(&b, 0);
    FUZZ_CHECK(sse_wire_publish_encode(&m, &b) == 0, "publish re-encode");
    check_same(&b, f, n, "publish");

    /* On to the streams: the event's bytes in a deliver frame. */
    sse_buf_init(&ev, 0);
    FUZZ_CHECK(sse_event_encode(&m.ev, &ev) == 0, "event encode");
    d.flags = m.flags;
    d.instance = 0x0102030405060708ULL;
    d.seq = m.seq;
    d.sse = sse_buf_head(&ev);
    d.len = sse_buf_len(&ev);
    sse_buf_init(&b, 0);
    FUZZ_CHECK(sse_wire_deliver_encode(&d, &b) == 0, "deliver encode");
    FUZZ_CHECK(sse_wire_deliver_decode(sse_buf_head(&b), sse_buf_len(&b),
                                       &back) == 0,
               "a published event does not decode as a deliver frame");
    FUZZ_CHECK(back.flags == d.flags && back.instance == d.instance &&
                   back.seq == d.seq && back.len == d.len &&
                   memcmp(back.sse, d.sse, d.len) == 0,
               "deliver frame round trip changed the event");
    sse_buf_free(&b);
    sse_buf_free(&ev);
    return 1;
}

static int
check_ack(const unsigned char *f, size_t n)
{
    struct sse_wire_ack a;
    struct sse_buf b;

    if (sse_wire_ack_decode(f, n, &a) != 0)
        return 0;
    check_header(f, n, 'A');
    FUZZ_CHECK(a.status >= SSE_WIRE_OK && a.status <= SSE_WIRE_UNCHANGED,
               "status %d", a.status);
    FUZZ_CHECK((a.reason == NULL) == (a.reason_len == 0) &&
                   inside(f, n, a.reason, a.reason_len),
               "reason of %zu bytes outside the frame", a.reason_len);
    sse_buf_init(&b, 0);
    FUZZ_CHECK(sse_wire_ack_encode(&a, &b) == 0, "ack re-encode");
    check_same(&b, f, n, "ack");
    return 1;
}

static int
check_deliver(const unsigned char *f, size_t n)
{
    struct sse_wire_deliver d;
    struct sse_buf b;

    if (sse_wire_deliver_decode(f, n, &d) != 0)
        return 0;
    check_header(f, n, 'D');
    FUZZ_CHECK((d.flags & ~(unsigned)FLAGS_KNOWN) == 0, "flags %#x",
               d.flags);
    FUZZ_CHECK(inside(f, n, d.sse, d.len) && one_event(d.sse, d.len),
               "deliver frame without exactly one whole event");
    sse_buf_init(&b, 0);
    FUZZ_CHECK(sse_wire_deliver_encode(&d, &b) == 0, "deliver re-encode");
    check_same(&b, f, n, "deliver");
    return 1;
}

static int
check_replay(const unsigned char *f, size_t n)
{
    struct sse_wire_replay r;
    struct sse_buf b;

    if (sse_wire_replay_decode(f, n, &r) != 0)
        return 0;
    check_header(f, n, 'R');
    FUZZ_CHECK(inside(f, n, r.topic, r.topic_len), "topic outside frame");
    switch (r.after) {
    case SSE_WIRE_AFTER_NONE:
    case SSE_WIRE_AFTER_SEQ:
    case SSE_WIRE_AFTER_LATEST:
        FUZZ_CHECK(r.after_id == NULL && r.after_id_len == 0,
                   "an id with after kind %d", r.after);
        break;
    case SSE_WIRE_AFTER_ID:
        FUZZ_CHECK(r.after_id != NULL &&
                       inside(f, n, r.after_id, r.after_id_len) &&
                       sse_event_check_id(r.after_id, r.after_id_len) ==
                           NULL,
                   "after id of %zu bytes is not a valid id",
                   r.after_id_len);
        break;
    default:
        FUZZ_CHECK(0, "after kind %d", r.after);
    }
    FUZZ_CHECK(r.nkeys <= SSE_WIRE_KEYS_MAX, "%zu keys", r.nkeys);
    for (size_t i = 0; i < r.nkeys; i++)
        FUZZ_CHECK(inside(f, n, r.keys[i], r.key_lens[i]) &&
                       sse_key_check(r.keys[i], r.key_lens[i]) == NULL,
                   "key %zu is not a valid key", i);
    sse_buf_init(&b, 0);
    FUZZ_CHECK(sse_wire_replay_encode(&r, &b) == 0, "replay re-encode");
    check_same(&b, f, n, "replay");
    return 1;
}

static int
check_replayed(const unsigned char *f, size_t n)
{
    struct sse_wire_replayed h;
    struct sse_wire_item *items, it;
    struct sse_buf b;
    size_t k = 0;
    int rc;

    if (sse_wire_replayed_decode(f, n, &h) != 0)
        return 0;
    check_header(f, n, 'Y');
    FUZZ_CHECK((h.flags & ~(unsigned)SSE_WIRE_MISSED) == 0, "flags %#x",
               h.flags);
    /* Each item takes at least 15 bytes, so count is bounded by n. */
    FUZZ_CHECK(h.count <= n / 15, "%u items in %zu bytes", h.count, n);
    items = (struct sse_wire_item *)fuzz_malloc(h.count * sizeof *items);
    while ((rc = sse_wire_replayed_next(&h, &it)) == 1) {
        FUZZ_CHECK(k < h.count, "more items than the count %u", h.count);
        FUZZ_CHECK((it.flags & ~(unsigned)FLAGS_KNOWN) == 0,
                   "item %zu flags %#x", k, it.flags);
        FUZZ_CHECK(inside(f, n, it.sse, it.len) && one_event(it.sse, it.len),
                   "item %zu is not one whole event", k);
        items[k++] = it;
    }
    FUZZ_CHECK(rc == 0, "next returned %d after %zu items", rc, k);
    FUZZ_CHECK(k == h.count, "%zu items, count %u", k, h.count);
    FUZZ_CHECK(sse_wire_replayed_next(&h, &it) == 0,
               "next after the end returned an item");
    sse_buf_init(&b, 0);
    FUZZ_CHECK(sse_wire_replayed_encode(&h, items, k, &b) == 0,
               "replayed re-encode");
    check_same(&b, f, n, "replayed");
    free(items);
    return 1;
}

/* ---- the target ---------------------------------------------------------- */

static const struct {
    const char *name;
    int (*check)(const unsigned char *f, size_t n);
} types[] = {
    { "publish", check_publish },
    { "ack", check_ack },
    { "deliver", check_deliver },
    { "replay", check_replay },
    { "replayed", check_replayed },
};
#define NTYPES (sizeof types / sizeof types[0])

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *f;
    size_t n, t;

    if (size == 0)
        return 0;
    t = data[0] % NTYPES;
    /* An exact-size copy, so a read before the frame is caught too. */
    n = size - 1;
    f = (unsigned char *)fuzz_memdup(data + 1, n);
    if (types[t].check(f, n)) {
        for (size_t u = 0; u < NTYPES; u++)
            FUZZ_CHECK(u == t || !types[u].check(f, n),
                       "a %s frame also decodes as %s", types[t].name,
                       types[u].name);
    }
    free(f);
    return 0;
}
