/*
 * Unit tests for sse_wire: exact bytes of each frame, round trips, refusals,
 * and decoders fed every strict prefix of a valid frame from just before a
 * guard page.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "guard.h"
#include "sse_buf.h"
#include "sse_event.h"
#include "sse_key.h"
#include "sse_wire.h"

/* Hand-written frames spell the version byte as WV. */
_Static_assert(SSE_WIRE_VERSION == 2, "hand-written frames are version 2");
#define WV "\x02"

/* A string literal and its length without the terminating NUL. */
#define S(s) (s), sizeof(s) - 1

#define EV(name, id, retry, data) {                                     \
    (name), (name) ? sizeof(name) - 1 : 0,                              \
    (id), (id) ? sizeof(id) - 1 : 0,                                    \
    (retry), (data), sizeof(data) - 1 }

struct pub_case {
    const char             *row;
    struct sse_wire_publish m;
};

static const struct pub_case pub_cases[] = {
    { "key and data only",
      { 0, 1, "user1", 5, EV(NULL, NULL, -1, "hello") } },
    { "every field",
      { SSE_WIRE_CLOSE, 0xdeadbeef, "room:42", 7,
        EV("update", "ev-7", 3000, "line one\nline two") } },
    { "broadcast without key",
      { SSE_WIRE_ALL, 7, NULL, 0, EV("news", NULL, -1, "all") } },
    { "broadcast and close",
      { SSE_WIRE_ALL | SSE_WIRE_CLOSE, 0, NULL, 0,
        EV(NULL, "9", 0, "bye") } },
    { "empty data",
      { 0, UINT32_MAX, "k", 1, { NULL, 0, NULL, 0, -1, NULL, 0 } } },
    { "largest retry",
      { 0, 2, "k", 1, EV(NULL, NULL, SSE_EVENT_RETRY_MAX, "x") } },
};

#define NPUB (sizeof pub_cases / sizeof pub_cases[0])

/* Encode m into a fresh unlimited buffer; the caller frees it. */
static void
encode_pub(const struct sse_wire_publish *m, struct sse_buf *b)
{
    sse_buf_init(b, 0);
    cr_assert_eq(sse_wire_publish_encode(m, b), 0);
}

static int
decode_pub_guarded(const void *frame, size_t n, struct sse_wire_publish *m,
                   size_t data_max, const char **reason)
{
    struct guarded g;
    const char *p = guard_copy(&g, frame, n);
    int rc;

    cr_assert_not_null(p);
    rc = sse_wire_publish_decode(p, n, m, data_max, reason);
    /* Compare the views before the mapping goes away. */
    if (rc == 0) {
        cr_assert(m->key_len == 0 || (m->key >= p && m->key < p + n));
        cr_assert(m->ev.data_len == 0 ||
                  (m->ev.data >= p && m->ev.data < p + n));
    }
    guard_free(&g);
    return rc;
}

static int
bytes_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Whether the n bytes at s lie inside frame[0..len). */
static int
inside(const char *s, size_t n, const char *frame, size_t len)
{
    return n == 0 || (s >= frame && n <= len && s <= frame + len - n);
}

/* Writers for hand-built frames: big-endian integers and raw bytes. */
static void
put_u8(struct sse_buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;

    cr_assert_eq(sse_buf_append(b, &c, 1), 0);
}

static void
put_u16(struct sse_buf *b, unsigned v)
{
    put_u8(b, (v >> 8) & 0xff);
    put_u8(b, v & 0xff);
}

static void
put_u32(struct sse_buf *b, uint32_t v)
{
    put_u16(b, (unsigned)(v >> 16));
    put_u16(b, (unsigned)(v & 0xffff));
}

static void
put_u64(struct sse_buf *b, uint64_t v)
{
    put_u32(b, (uint32_t)(v >> 32));
    put_u32(b, (uint32_t)v);
}

static void
put_bytes(struct sse_buf *b, const void *s, size_t n)
{
    if (n > 0)
        cr_assert_eq(sse_buf_append(b, s, n), 0);
}

/* The SSE bytes of ev in a fresh buffer; the caller frees it. */
static void
event_bytes(const struct sse_event *ev, struct sse_buf *b)
{
    sse_buf_init(b, 0);
    cr_assert_eq(sse_event_encode(ev, b), 0);
}

/* Every decoder behind one signature, for the prefix and refusal tables. */
union wire_msg {
    struct sse_wire_publish  publish;
    struct sse_wire_ack      ack;
    struct sse_wire_deliver  deliver;
    struct sse_wire_replay   replay;
    struct sse_wire_replayed replayed;
};

typedef int (*wire_decoder)(const void *frame, size_t n, union wire_msg *m);

static int
dec_ack(const void *frame, size_t n, union wire_msg *m)
{
    return sse_wire_ack_decode(frame, n, &m->ack);
}

static int
dec_deliver(const void *frame, size_t n, union wire_msg *m)
{
    return sse_wire_deliver_decode(frame, n, &m->deliver);
}

static int
dec_replay(const void *frame, size_t n, union wire_msg *m)
{
    return sse_wire_replay_decode(frame, n, &m->replay);
}

static int
dec_replayed(const void *frame, size_t n, union wire_msg *m)
{
    return sse_wire_replayed_decode(frame, n, &m->replayed);
}

/* Decode frame[0..n) from a copy that ends at a guard page. */
static int
decode_guarded(wire_decoder dec, const void *frame, size_t n)
{
    union wire_msg m;
    struct guarded g;
    const char *p = guard_copy(&g, frame, n);
    int rc;

    cr_assert_not_null(p);
    rc = dec(p, n, &m);
    guard_free(&g);
    return rc;
}

/* The whole of b decodes, and every strict prefix of it is refused. */
static void
expect_only_whole_frame(const char *row, wire_decoder dec,
                        const struct sse_buf *b)
{
    const char *f = sse_buf_head(b);
    size_t n = sse_buf_len(b);

    cr_expect_eq(decode_guarded(dec, f, n), 0,
                 "%s: whole frame of %zu bytes refused", row, n);
    for (size_t k = 0; k < n; k++)
        cr_expect_eq(decode_guarded(dec, f, k), -1,
                     "%s: prefix of %zu/%zu bytes accepted", row, k, n);
}

/* ---- publish ----------------------------------------------------------- */

Test(sse_wire, publish_encodes_exact_big_endian_bytes)
{
    static const unsigned char want[] = {
        SSE_WIRE_VERSION, 'P', 0x01,        /* version, type, flags */
        0x01, 0x02, 0x03, 0x04,             /* seq */
        0x02, 'k', '1',                     /* key */
        0x01, 'e',                          /* name */
        0x00, 0x03, 'i', 'd', '9',          /* id */
        0x00, 0x01, 0x02, 0x03,             /* retry 66051 */
        0x00, 0x00, 0x00, 0x02, 'h', 'i',   /* data */
    };
    struct sse_wire_publish m = {
        SSE_WIRE_CLOSE, 0x01020304, "k1", 2,
        { "e", 1, "id9", 3, 66051, "hi", 2 },
    };
    struct sse_buf b;

    encode_pub(&m, &b);
    cr_assert_eq(sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want, sizeof want);
    sse_buf_free(&b);
}

Test(sse_wire, publish_without_retry_sends_all_ones)
{
    struct sse_wire_publish m = { 0, 0, "k", 1, EV(NULL, NULL, -1, "") };
    static const unsigned char want[] = {
        SSE_WIRE_VERSION, 'P', 0x00, 0, 0, 0, 0, 0x01, 'k', 0x00, 0x00, 0x00,
        0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0,
    };
    struct sse_buf b;

    encode_pub(&m, &b);
    cr_assert_eq(sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want, sizeof want);
    sse_buf_free(&b);
}

Test(sse_wire, publish_round_trips_every_field)
{
    for (size_t i = 0; i < NPUB; i++) {
        const struct sse_wire_publish *in = &pub_cases[i].m;
        const char *row = pub_cases[i].row;
        struct sse_wire_publish out;
        const char *reason = NULL;
        struct sse_buf b;
        struct guarded g;
        const char *p;
        size_t n;

        encode_pub(in, &b);
        n = sse_buf_len(&b);
        p = guard_copy(&g, sse_buf_head(&b), n);
        cr_assert_not_null(p);
        cr_expect_eq(sse_wire_publish_decode(p, n, &out, SSE_EVENT_DATA_MAX,
                                             &reason), 0,
                     "%s: decode failed: %s", row, reason);
        cr_expect_eq(out.flags, in->flags, "%s: flags", row);
        cr_expect_eq(out.seq, in->seq, "%s: seq", row);
        cr_expect(bytes_eq(out.key, out.key_len, in->key, in->key_len),
                  "%s: key", row);
        cr_expect_eq(out.key == NULL, in->key_len == 0, "%s: key NULL", row);
        cr_expect(bytes_eq(out.ev.event, out.ev.event_len, in->ev.event,
                           in->ev.event_len), "%s: event", row);
        cr_expect_eq(out.ev.event == NULL, in->ev.event == NULL,
                     "%s: event NULL", row);
        cr_expect(bytes_eq(out.ev.id, out.ev.id_len, in->ev.id,
                           in->ev.id_len), "%s: id", row);
        cr_expect_eq(out.ev.id == NULL, in->ev.id == NULL, "%s: id NULL", row);
        cr_expect_eq(out.ev.retry, in->ev.retry, "%s: retry", row);
        cr_expect(bytes_eq(out.ev.data, out.ev.data_len, in->ev.data,
                           in->ev.data_len), "%s: data", row);
        guard_free(&g);
        sse_buf_free(&b);
    }
}

Test(sse_wire, publish_decode_refuses_every_strict_prefix)
{
    for (size_t i = 0; i < NPUB; i++) {
        struct sse_wire_publish out;
        struct sse_buf b;
        size_t n;

        encode_pub(&pub_cases[i].m, &b);
        n = sse_buf_len(&b);
        for (size_t k = 0; k < n; k++) {
            const char *reason = NULL;

            cr_expect_eq(decode_pub_guarded(sse_buf_head(&b), k, &out,
                                            SSE_EVENT_DATA_MAX, &reason), -1,
                         "%s: prefix of %zu/%zu bytes accepted",
                         pub_cases[i].row, k, n);
            cr_expect_not_null(reason, "%s: prefix %zu has no reason",
                               pub_cases[i].row, k);
        }
        sse_buf_free(&b);
    }
}

Test(sse_wire, publish_decode_names_the_reason_for_each_fault)
{
    static const char bad_key[] = "no spaces";
    static const char bad_name[] = "a\nb";
    static const struct {
        const char             *row;
        struct sse_wire_publish m;
        int                     patch_at;   /* -1: none */
        unsigned char           patch;
        int                     trailing;   /* append one byte */
        size_t                  data_max;
        const char             *want;       /* NULL: from the checker */
    } cases[] = {
        { "version 1", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          0, 1, 0, 100, "unsupported wire version" },
        { "version 3", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          0, 3, 0, 100, "unsupported wire version" },
        { "version 0", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          0, 0, 0, 100, "unsupported wire version" },
        { "ack type", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          1, 'A', 0, 100, "not a publish frame" },
        { "unknown flag", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          2, 0x08, 0, 100, "unknown publish flags" },
        { "trailing byte", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          -1, 0, 1, 100, "malformed publish frame" },
        { "broadcast with key",
          { SSE_WIRE_ALL, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          -1, 0, 0, 100, "broadcast frame carries a key" },
        { "empty key without broadcast",
          { 0, 1, NULL, 0, EV(NULL, NULL, -1, "x") },
          -1, 0, 0, 100, NULL },
        { "invalid key",
          { 0, 1, bad_key, sizeof bad_key - 1, EV(NULL, NULL, -1, "x") },
          -1, 0, 0, 100, NULL },
        { "name with LF",
          { 0, 1, "k", 1, { bad_name, 3, NULL, 0, -1, "x", 1 } },
          -1, 0, 0, 100, NULL },
        { "retry past the maximum",
          { 0, 1, "k", 1, EV(NULL, NULL, SSE_EVENT_RETRY_MAX + 1, "x") },
          -1, 0, 0, 100, NULL },
        { "data past data_max",
          { 0, 1, "k", 1, EV(NULL, NULL, -1, "hello") },
          -1, 0, 0, 4, NULL },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct sse_wire_publish *m = &cases[i].m;
        const char *want = cases[i].want;
        struct sse_wire_publish out;
        const char *reason = NULL;
        struct sse_buf b;

        if (want == NULL) {
            /* The fault belongs to another module: expect its words. */
            want = (m->flags & SSE_WIRE_ALL) ? NULL :
                sse_key_check(m->key, m->key_len);
            if (want == NULL)
                want = sse_event_check(&m->ev, cases[i].data_max);
            cr_assert_not_null(want, "%s: row is not a fault", cases[i].row);
        }
        encode_pub(m, &b);
        if (cases[i].patch_at >= 0)
            b.data[b.off + (size_t)cases[i].patch_at] = (char)cases[i].patch;
        if (cases[i].trailing)
            cr_assert_eq(sse_buf_append(&b, "", 1), 0);
        cr_expect_eq(decode_pub_guarded(sse_buf_head(&b), sse_buf_len(&b),
                                        &out, cases[i].data_max, &reason), -1,
                     "%s: accepted", cases[i].row);
        cr_expect_str_eq(reason ? reason : "(null)", want, "%s: reason",
                         cases[i].row);
        sse_buf_free(&b);
    }
}

Test(sse_wire, publish_decode_refuses_an_empty_frame)
{
    struct sse_wire_publish out;
    const char *reason = NULL;

    cr_expect_eq(sse_wire_publish_decode("", 0, &out, 100, &reason), -1);
    cr_expect_str_eq(reason ? reason : "(null)", "malformed publish frame");
}

Test(sse_wire, publish_encode_refuses_fields_too_long_for_their_prefix)
{
    static char big[65536];
    const struct {
        const char             *row;
        struct sse_wire_publish m;
        int                     want;
    } cases[] = {
        { "key of 255", { 0, 0, big, 255, EV(NULL, NULL, -1, "") }, 0 },
        { "key of 256", { 0, 0, big, 256, EV(NULL, NULL, -1, "") }, -1 },
        { "name of 255",
          { 0, 0, "k", 1, { big, 255, NULL, 0, -1, NULL, 0 } }, 0 },
        { "name of 256",
          { 0, 0, "k", 1, { big, 256, NULL, 0, -1, NULL, 0 } }, -1 },
        { "id of 65535",
          { 0, 0, "k", 1, { NULL, 0, big, 65535, -1, NULL, 0 } }, 0 },
        { "id of 65536",
          { 0, 0, "k", 1, { NULL, 0, big, 65536, -1, NULL, 0 } }, -1 },
        { "data past 32 bits",
          { 0, 0, "k", 1,
            { NULL, 0, NULL, 0, -1, big, (size_t)UINT32_MAX + 1 } }, -1 },
        { "retry below -1",
          { 0, 0, "k", 1, { NULL, 0, NULL, 0, -2, NULL, 0 } }, -1 },
        { "retry all ones",
          { 0, 0, "k", 1, { NULL, 0, NULL, 0, (long)UINT32_MAX, NULL, 0 } },
          -1 },
        { "unknown flag", { 0x08, 0, "k", 1, EV(NULL, NULL, -1, "") }, -1 },
    };

    memset(big, 'a', sizeof big);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sse_buf b;

        sse_buf_init(&b, 0);
        cr_expect_eq(sse_wire_publish_encode(&cases[i].m, &b), cases[i].want,
                     "%s", cases[i].row);
        if (cases[i].want == -1)
            cr_expect_eq(sse_buf_len(&b), 0, "%s: buffer touched",
                         cases[i].row);
        sse_buf_free(&b);
    }
}

Test(sse_wire, publish_encode_leaves_a_full_buffer_unchanged)
{
    const struct sse_wire_publish *m = &pub_cases[1].m;
    struct sse_buf probe, b;
    size_t need;

    encode_pub(m, &probe);
    need = sse_buf_len(&probe);
    sse_buf_free(&probe);

    /* Room for everything but the last byte, after some earlier bytes. */
    sse_buf_init(&b, 3 + need - 1);
    cr_assert_eq(sse_buf_append(&b, "abc", 3), 0);
    cr_expect_eq(sse_wire_publish_encode(m, &b), -1);
    cr_expect_eq(sse_buf_len(&b), 3);
    cr_expect_arr_eq(sse_buf_head(&b), "abc", 3);
    sse_buf_free(&b);

    sse_buf_init(&b, 3 + need);
    cr_assert_eq(sse_buf_append(&b, "abc", 3), 0);
    cr_expect_eq(sse_wire_publish_encode(m, &b), 0, "exact fit refused");
    cr_expect_eq(sse_buf_len(&b), 3 + need);
    sse_buf_free(&b);
}

/* ---- ack --------------------------------------------------------------- */

Test(sse_wire, ack_encodes_exact_bytes)
{
    static const unsigned char want[] = {
        SSE_WIRE_VERSION, 'A', 0xfe, 0xdc, 0xba, 0x98, 0x01, 0x03,
        'b', 'a', 'd',
    };
    struct sse_wire_ack a = { 0xfedcba98, SSE_WIRE_INVALID, "bad", 3 };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_ack_encode(&a, &b), 0);
    cr_assert_eq(sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want, sizeof want);
    sse_buf_free(&b);
}

Test(sse_wire, ack_round_trips_and_cuts_reason_at_255_bytes)
{
    static char longr[300];
    const struct {
        const char         *row;
        struct sse_wire_ack a;
        size_t              want_len;
    } cases[] = {
        { "ok, no reason", { 1, SSE_WIRE_OK, NULL, 0 }, 0 },
        { "NULL reason with a length", { 2, SSE_WIRE_OK, NULL, 9 }, 0 },
        { "empty reason", { 3, SSE_WIRE_INVALID, "", 0 }, 0 },
        { "unavailable", { UINT32_MAX, SSE_WIRE_UNAVAILABLE, "down", 4 }, 4 },
        { "reason of 255", { 4, SSE_WIRE_INVALID, longr, 255 }, 255 },
        { "reason of 256", { 5, SSE_WIRE_INVALID, longr, 256 }, 255 },
        { "reason of 300", { 6, SSE_WIRE_INVALID, longr, 300 }, 255 },
    };

    memset(longr, 'r', sizeof longr);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct sse_wire_ack *in = &cases[i].a;
        struct sse_wire_ack out;
        struct sse_buf b;
        struct guarded g;
        const char *p;
        size_t n;

        sse_buf_init(&b, 0);
        cr_assert_eq(sse_wire_ack_encode(in, &b), 0, "%s", cases[i].row);
        n = sse_buf_len(&b);
        cr_expect_eq(n, 8 + cases[i].want_len, "%s: length", cases[i].row);
        p = guard_copy(&g, sse_buf_head(&b), n);
        cr_assert_not_null(p);
        cr_expect_eq(sse_wire_ack_decode(p, n, &out), 0, "%s: decode",
                     cases[i].row);
        cr_expect_eq(out.seq, in->seq, "%s: seq", cases[i].row);
        cr_expect_eq(out.status, in->status, "%s: status", cases[i].row);
        cr_expect_eq(out.reason_len, cases[i].want_len, "%s: reason length",
                     cases[i].row);
        cr_expect_eq(out.reason == NULL, cases[i].want_len == 0,
                     "%s: reason NULL", cases[i].row);
        if (out.reason_len > 0 && out.reason_len == cases[i].want_len)
            cr_expect_arr_eq(out.reason, in->reason, out.reason_len,
                             "%s: reason bytes", cases[i].row);
        guard_free(&g);
        sse_buf_free(&b);
    }
}

Test(sse_wire, ack_decode_refuses_every_strict_prefix)
{
    struct sse_wire_ack a = { 42, SSE_WIRE_UNAVAILABLE, "broker busy", 11 };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_ack_encode(&a, &b), 0);
    expect_only_whole_frame("ack", dec_ack, &b);
    sse_buf_free(&b);
}

Test(sse_wire, ack_decode_refuses_bad_version_type_status_and_length)
{
    static const struct {
        const char *row;
        const char *frame;
        size_t      n;
        int         want;
    } cases[] = {
        { "valid", WV "A" "\0\0\0\1" "\2" "\0", 8, 0 },
        { "version 1", "\x01" "A" "\0\0\0\1" "\0" "\0", 8, -1 },
        { "version 3", "\x03" "A" "\0\0\0\1" "\0" "\0", 8, -1 },
        { "publish type", WV "P" "\0\0\0\1" "\0" "\0", 8, -1 },
        { "status 3 (unchanged)", WV "A" "\0\0\0\1" "\3" "\0", 8, 0 },
        { "status 4", WV "A" "\0\0\0\1" "\4" "\0", 8, -1 },
        { "status 255", WV "A" "\0\0\0\1" "\xff" "\0", 8, -1 },
        { "trailing byte", WV "A" "\0\0\0\1" "\0" "\0" "x", 9, -1 },
        { "reason longer than said", WV "A" "\0\0\0\1" "\0" "\1" "xy",
          10, -1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(decode_guarded(dec_ack, cases[i].frame, cases[i].n),
                     cases[i].want, "%s", cases[i].row);
}

Test(sse_wire, ack_encode_refuses_unknown_status_and_full_buffer)
{
    struct sse_wire_ack a = { 1, 4, NULL, 0 };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_expect_eq(sse_wire_ack_encode(&a, &b), -1, "status 4 accepted");
    a.status = -1;
    cr_expect_eq(sse_wire_ack_encode(&a, &b), -1, "status -1 accepted");
    cr_expect_eq(sse_buf_len(&b), 0);
    sse_buf_free(&b);

    a.status = SSE_WIRE_OK;
    a.reason = "why";
    a.reason_len = 3;
    sse_buf_init(&b, 10);
    cr_expect_eq(sse_wire_ack_encode(&a, &b), -1, "11 bytes fit in 10");
    cr_expect_eq(sse_buf_len(&b), 0);
    sse_buf_free(&b);
}

/* ---- deliver ----------------------------------------------------------- */

static const struct sse_event deliver_events[] = {
    EV(NULL, NULL, -1, "hello"),
    EV("tick", "17", 2500, "a\r\nb\rc\nd"),
    EV(NULL, NULL, -1, ""),
    EV(NULL, NULL, -1, "\n\n"),
};

#define NDELIVER (sizeof deliver_events / sizeof deliver_events[0])

static const struct {
    uint64_t instance;
    uint64_t seq;
} deliver_ids[] = {
    { 0, 0 },
    { 1, 1 },
    { 0x0102030405060708, 0xf1e2d3c4b5a69788 },
    { UINT64_MAX, UINT64_MAX },
    { UINT64_MAX, 0 },
};

#define NIDS (sizeof deliver_ids / sizeof deliver_ids[0])

/* Append a deliver frame of ev, with its flags and numbers, to a fresh b. */
static void
encode_deliver(unsigned flags, uint64_t instance, uint64_t seq,
               const struct sse_event *ev, struct sse_buf *b)
{
    struct sse_buf sse;
    struct sse_wire_deliver d;

    event_bytes(ev, &sse);
    d.flags = flags;
    d.instance = instance;
    d.seq = seq;
    d.sse = sse_buf_head(&sse);
    d.len = sse_buf_len(&sse);
    sse_buf_init(b, 0);
    cr_assert_eq(sse_wire_deliver_encode(&d, b), 0);
    sse_buf_free(&sse);
}

Test(sse_wire, deliver_encodes_exact_big_endian_bytes)
{
    static const unsigned char want[] = {
        SSE_WIRE_VERSION, 'D', 0x03,                    /* all, close */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* instance */
        0xf1, 0xe2, 0xd3, 0xc4, 0xb5, 0xa6, 0x97, 0x88, /* seq */
        'd', 'a', 't', 'a', ':', ' ', 'h', 'i', '\n', '\n',
    };
    struct sse_wire_deliver d = {
        SSE_WIRE_CLOSE | SSE_WIRE_ALL, 0x0102030405060708,
        0xf1e2d3c4b5a69788, "data: hi\n\n", 10,
    };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_deliver_encode(&d, &b), 0);
    cr_assert_eq(sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want, sizeof want);
    sse_buf_free(&b);
}

Test(sse_wire, deliver_is_a_header_then_the_exact_sse_bytes)
{
    for (size_t i = 0; i < NDELIVER; i++) {
        for (size_t k = 0; k < NIDS; k++) {
            struct sse_buf want, b;

            sse_buf_init(&want, 0);
            put_u8(&want, SSE_WIRE_VERSION);
            put_u8(&want, 'D');
            put_u8(&want, SSE_WIRE_CLOSE);
            put_u64(&want, deliver_ids[k].instance);
            put_u64(&want, deliver_ids[k].seq);
            cr_assert_eq(sse_event_encode(&deliver_events[i], &want), 0);
            encode_deliver(SSE_WIRE_CLOSE, deliver_ids[k].instance,
                           deliver_ids[k].seq, &deliver_events[i], &b);
            cr_expect(bytes_eq(sse_buf_head(&b), sse_buf_len(&b),
                               sse_buf_head(&want), sse_buf_len(&want)),
                      "event %zu ids %zu: bytes differ", i, k);
            sse_buf_free(&want);
            sse_buf_free(&b);
        }
    }
}

Test(sse_wire, deliver_head_then_the_event_is_the_whole_frame)
{
    static const unsigned flags[] = {
        0, SSE_WIRE_CLOSE, SSE_WIRE_ALL, SSE_WIRE_CLOSE | SSE_WIRE_ALL,
    };

    cr_expect_eq(SSE_WIRE_DELIVER_HEAD, 19);
    for (size_t i = 0; i < NDELIVER; i++) {
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            for (size_t k = 0; k < NIDS; k++) {
                struct sse_wire_deliver d = {
                    flags[f], deliver_ids[k].instance, deliver_ids[k].seq,
                    NULL, 0,
                };
                struct sse_buf want, b;

                encode_deliver(flags[f], deliver_ids[k].instance,
                               deliver_ids[k].seq, &deliver_events[i],
                               &want);
                sse_buf_init(&b, 0);
                cr_assert_eq(sse_wire_deliver_head(&d, &b), 0);
                cr_expect_eq(sse_buf_len(&b), SSE_WIRE_DELIVER_HEAD,
                             "event %zu flags %u ids %zu: head length", i,
                             flags[f], k);
                cr_assert_eq(sse_event_encode(&deliver_events[i], &b), 0);
                cr_expect(bytes_eq(sse_buf_head(&b), sse_buf_len(&b),
                                   sse_buf_head(&want), sse_buf_len(&want)),
                          "event %zu flags %u ids %zu: bytes differ", i,
                          flags[f], k);
                sse_buf_free(&want);
                sse_buf_free(&b);
            }
        }
    }
}

Test(sse_wire, deliver_head_refuses_unknown_flags_and_a_full_buffer)
{
    struct sse_wire_deliver d = { 0x04, 7, 8, NULL, 0 };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_expect_eq(sse_wire_deliver_head(&d, &b), -1, "flag 0x04 accepted");
    d.flags = 0x80;
    cr_expect_eq(sse_wire_deliver_head(&d, &b), -1, "flag 0x80 accepted");
    cr_expect_eq(sse_buf_len(&b), 0);
    sse_buf_free(&b);
    d.flags = SSE_WIRE_CLOSE;
    sse_buf_init(&b, SSE_WIRE_DELIVER_HEAD - 1);
    cr_expect_eq(sse_wire_deliver_head(&d, &b), -1, "over the ceiling");
    cr_expect_eq(sse_buf_len(&b), 0);
    sse_buf_free(&b);
}

Test(sse_wire, deliver_round_trips_flags_numbers_and_bytes)
{
    static const unsigned flags[] = {
        0, SSE_WIRE_CLOSE, SSE_WIRE_ALL, SSE_WIRE_CLOSE | SSE_WIRE_ALL,
    };

    for (size_t i = 0; i < NDELIVER; i++) {
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            for (size_t k = 0; k < NIDS; k++) {
                struct sse_wire_deliver out;
                struct sse_buf b, sse;
                struct guarded g;
                const char *p;
                size_t n;

                event_bytes(&deliver_events[i], &sse);
                encode_deliver(flags[f], deliver_ids[k].instance,
                               deliver_ids[k].seq, &deliver_events[i], &b);
                n = sse_buf_len(&b);
                p = guard_copy(&g, sse_buf_head(&b), n);
                cr_assert_not_null(p);
                memset(&out, 0xa5, sizeof out);
                cr_expect_eq(sse_wire_deliver_decode(p, n, &out), 0,
                             "event %zu flags %u ids %zu: refused",
                             i, flags[f], k);
                cr_expect_eq(out.flags, flags[f], "event %zu flags %u",
                             i, flags[f]);
                cr_expect_eq(out.instance, deliver_ids[k].instance,
                             "event %zu ids %zu: instance", i, k);
                cr_expect_eq(out.seq, deliver_ids[k].seq,
                             "event %zu ids %zu: seq", i, k);
                cr_expect_eq(out.sse, p + 19, "event %zu: view", i);
                cr_expect_eq(out.len, n - 19, "event %zu: length", i);
                if (out.sse == p + 19 && out.len == n - 19)
                    cr_expect(bytes_eq(out.sse, out.len, sse_buf_head(&sse),
                                       sse_buf_len(&sse)),
                              "event %zu: bytes", i);
                guard_free(&g);
                sse_buf_free(&b);
                sse_buf_free(&sse);
            }
        }
    }
}

Test(sse_wire, deliver_decode_refuses_every_strict_prefix)
{
    for (size_t i = 0; i < NDELIVER; i++) {
        char row[32];
        struct sse_buf b;

        snprintf(row, sizeof row, "event %zu", i);
        encode_deliver(SSE_WIRE_ALL, deliver_ids[2].instance,
                       deliver_ids[2].seq, &deliver_events[i], &b);
        expect_only_whole_frame(row, dec_deliver, &b);
        sse_buf_free(&b);
    }
}

/* A deliver header: version, type, flags, instance 1, seq 2. */
#define DHDR(v, t, f) v t f "\0\0\0\0\0\0\0\1" "\0\0\0\0\0\0\0\2"

Test(sse_wire, deliver_decode_refuses_frames_that_are_not_one_event)
{
    static const struct {
        const char *row;
        const char *frame;
        size_t      n;
        int         want;
    } cases[] = {
        { "valid", S(DHDR(WV, "D", "\0") "data: x\n\n"), 0 },
        { "valid, every flag", S(DHDR(WV, "D", "\3") "data: x\n\n"), 0 },
        { "version 1", S(DHDR("\x01", "D", "\0") "data: x\n\n"), -1 },
        { "version 0", S(DHDR("\0", "D", "\0") "data: x\n\n"), -1 },
        { "version 3", S(DHDR("\x03", "D", "\0") "data: x\n\n"), -1 },
        { "ack type", S(DHDR(WV, "A", "\0") "data: x\n\n"), -1 },
        { "replayed type", S(DHDR(WV, "Y", "\0") "data: x\n\n"), -1 },
        { "unknown flag 0x04", S(DHDR(WV, "D", "\4") "data: x\n\n"), -1 },
        { "unknown flag 0x80", S(DHDR(WV, "D", "\x80") "data: x\n\n"), -1 },
        { "no final blank line", S(DHDR(WV, "D", "\0") "data: x\n"), -1 },
        { "two events", S(DHDR(WV, "D", "\0") "data: x\n\ndata: y\n\n"),
          -1 },
        { "extra blank line", S(DHDR(WV, "D", "\0") "data: x\n\n\n"), -1 },
        { "a lone LF", S(DHDR(WV, "D", "\0") "\n"), -1 },
        { "header only", S(DHDR(WV, "D", "\0")), -1 },
        { "header short of seq's last byte",
          S(WV "D" "\0" "\0\0\0\0\0\0\0\1" "\0\0\0\0\0\0\0"), -1 },
        { "header without seq, then an event",
          S(WV "D" "\0" "\0\0\0\0\0\0\0\1" "data: x\n\n"), -1 },
        { "header without instance or seq, then an event",
          S(WV "D" "\0" "data: x\n\n"), -1 },
        { "empty frame", S(""), -1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(decode_guarded(dec_deliver, cases[i].frame, cases[i].n),
                     cases[i].want, "%s", cases[i].row);
}

Test(sse_wire, deliver_encode_leaves_a_full_buffer_unchanged)
{
    struct sse_wire_deliver d = { 0, 7, 8, NULL, 0 };
    struct sse_buf sse, b;
    size_t need;

    event_bytes(&deliver_events[1], &sse);
    d.sse = sse_buf_head(&sse);
    d.len = sse_buf_len(&sse);
    need = 19 + d.len;

    /* Each ceiling from "no room for the header" to one byte short. */
    for (size_t max = 2; max < 2 + need; max++) {
        sse_buf_init(&b, max);
        cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
        cr_expect_eq(sse_wire_deliver_encode(&d, &b), -1,
                     "ceiling %zu: accepted", max);
        cr_expect_eq(sse_buf_len(&b), 2, "ceiling %zu: buffer touched", max);
        cr_expect_arr_eq(sse_buf_head(&b), "zz", 2);
        sse_buf_free(&b);
    }
    sse_buf_init(&b, 2 + need);
    cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
    cr_expect_eq(sse_wire_deliver_encode(&d, &b), 0, "exact fit refused");
    cr_expect_eq(sse_buf_len(&b), 2 + need);
    sse_buf_free(&b);

    sse_buf_init(&b, 0);
    d.flags = 0x04;
    cr_expect_eq(sse_wire_deliver_encode(&d, &b), -1,
                 "unknown flag 0x04 accepted");
    d.flags = 0x80;
    cr_expect_eq(sse_wire_deliver_encode(&d, &b), -1,
                 "unknown flag 0x80 accepted");
    cr_expect_eq(sse_buf_len(&b), 0);
    sse_buf_free(&b);
    sse_buf_free(&sse);
}

/* ---- replay ------------------------------------------------------------ */

/* A worker's topic, with the NUL that ends every topic. */
static const char replay_topic[] = "w7\0";

#define TOPIC_LEN (sizeof replay_topic - 1)

static char key_store[SSE_WIRE_KEYS_MAX][SSE_KEY_MAX];

/* Give r n distinct valid keys, of lengths from 1 to SSE_KEY_MAX. */
static void
set_keys(struct sse_wire_replay *r, size_t n)
{
    static const char chars[] =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
        "-_.:@~+=";

    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < SSE_KEY_MAX; j++)
            key_store[i][j] = chars[(i * 7 + j) % (sizeof chars - 1)];
        r->keys[i] = key_store[i];
        r->key_lens[i] = i == 1 ? SSE_KEY_MAX : i * 3 % SSE_KEY_MAX + 1;
        cr_assert_null(sse_key_check(r->keys[i], r->key_lens[i]));
    }
    r->nkeys = n;
}

/* Bytes of a replay request per the grammar; what the encoder should give. */
static size_t
replay_len(const struct sse_wire_replay *r)
{
    size_t n = 1 + 1 + 8 + 1 + r->topic_len + 1 + 2 + 1;

    if (r->after == SSE_WIRE_AFTER_SEQ)
        n += 8;
    else if (r->after == SSE_WIRE_AFTER_ID)
        n += r->after_id_len;
    for (size_t i = 0; i < r->nkeys; i++)
        n += 1 + r->key_lens[i];
    return n;
}

Test(sse_wire, replay_encodes_exact_big_endian_bytes)
{
    static const unsigned char want[] = {
        SSE_WIRE_VERSION, 'R',
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* req */
        0x01, 't',                                      /* topic */
        0x01, 0x00, 0x08,                               /* after seq */
        0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
        0x02,                                           /* key-count */
        0x01, 'a',
        0x02, 'b', 'c',
    };
    struct sse_wire_replay r;
    struct sse_buf b;

    memset(&r, 0, sizeof r);
    r.req = 0x0102030405060708;
    r.topic = "t";
    r.topic_len = 1;
    r.after = SSE_WIRE_AFTER_SEQ;
    r.after_seq = 0x1122334455667788;
    r.nkeys = 2;
    r.keys[0] = "a";
    r.key_lens[0] = 1;
    r.keys[1] = "bc";
    r.key_lens[1] = 2;
    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_replay_encode(&r, &b), 0);
    cr_expect_eq(sse_buf_len(&b), sizeof want, "length %zu, want %zu",
                 sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want,
                     sse_buf_len(&b) < sizeof want ? sse_buf_len(&b)
                                                   : sizeof want);
    sse_buf_free(&b);
}

Test(sse_wire, replay_encodes_after_id_and_no_keys)
{
    static const unsigned char want[] = {
        SSE_WIRE_VERSION, 'R',
        0, 0, 0, 0, 0, 0, 0, 0x09,                      /* req */
        0x00,                                           /* no topic */
        0x02, 0x00, 0x02, 'e', '1',                     /* after id */
        0x00,                                           /* key-count */
    };
    struct sse_wire_replay r;
    struct sse_buf b;

    memset(&r, 0, sizeof r);
    r.req = 9;
    r.after = SSE_WIRE_AFTER_ID;
    r.after_id = "e1";
    r.after_id_len = 2;
    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_replay_encode(&r, &b), 0);
    cr_expect_eq(sse_buf_len(&b), sizeof want, "length %zu, want %zu",
                 sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want,
                     sse_buf_len(&b) < sizeof want ? sse_buf_len(&b)
                                                   : sizeof want);
    sse_buf_free(&b);
}

Test(sse_wire, replay_round_trips_each_after_kind_with_0_1_and_32_keys)
{
    static const struct {
        const char *row;
        int         after;
        uint64_t    after_seq;
        const char *after_id;
        size_t      after_id_len;
    } kinds[] = {
        { "none", SSE_WIRE_AFTER_NONE, 0, NULL, 0 },
        { "seq", SSE_WIRE_AFTER_SEQ, 0x0102030405060708, NULL, 0 },
        { "seq 0", SSE_WIRE_AFTER_SEQ, 0, NULL, 0 },
        { "seq max", SSE_WIRE_AFTER_SEQ, UINT64_MAX, NULL, 0 },
        { "id", SSE_WIRE_AFTER_ID, 0, S("ev-42") },
        { "utf-8 id", SSE_WIRE_AFTER_ID, 0, S("\xc3\xa9t\xc3\xa9") },
    };
    static const size_t counts[] = { 0, 1, SSE_WIRE_KEYS_MAX };

    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++) {
            const char *row = kinds[i].row;
            size_t nk = counts[c];
            struct sse_wire_replay in, out;
            struct sse_buf b;
            struct guarded g;
            const char *p;
            size_t n;

            memset(&in, 0, sizeof in);
            in.req = UINT64_MAX - i * 31 - c;
            in.topic = replay_topic;
            in.topic_len = TOPIC_LEN;
            in.after = kinds[i].after;
            in.after_seq = kinds[i].after_seq;
            in.after_id = kinds[i].after_id;
            in.after_id_len = kinds[i].after_id_len;
            set_keys(&in, nk);

            sse_buf_init(&b, 0);
            cr_assert_eq(sse_wire_replay_encode(&in, &b), 0,
                         "%s, %zu keys: encode", row, nk);
            n = sse_buf_len(&b);
            cr_expect_eq(n, replay_len(&in), "%s, %zu keys: length %zu, "
                         "want %zu", row, nk, n, replay_len(&in));
            p = guard_copy(&g, sse_buf_head(&b), n);
            cr_assert_not_null(p);
            memset(&out, 0xa5, sizeof out);
            if (sse_wire_replay_decode(p, n, &out) != 0) {
                cr_expect_fail("%s, %zu keys: decode refused its own "
                               "encoding", row, nk);
                guard_free(&g);
                sse_buf_free(&b);
                continue;
            }
            cr_expect_eq(out.req, in.req, "%s, %zu keys: req", row, nk);
            cr_expect(bytes_eq(out.topic, out.topic_len, in.topic,
                               in.topic_len), "%s, %zu keys: topic", row, nk);
            cr_expect(inside(out.topic, out.topic_len, p, n),
                      "%s, %zu keys: topic view", row, nk);
            cr_expect_eq(out.after, in.after, "%s, %zu keys: after", row, nk);
            cr_expect_eq(out.after_seq,
                         in.after == SSE_WIRE_AFTER_SEQ ? in.after_seq : 0,
                         "%s, %zu keys: after_seq", row, nk);
            if (in.after == SSE_WIRE_AFTER_ID) {
                cr_expect(bytes_eq(out.after_id, out.after_id_len,
                                   in.after_id, in.after_id_len),
                          "%s, %zu keys: after_id", row, nk);
                cr_expect(inside(out.after_id, out.after_id_len, p, n),
                          "%s, %zu keys: after_id view", row, nk);
            } else {
                cr_expect_null(out.after_id, "%s, %zu keys: after_id",
                               row, nk);
                cr_expect_eq(out.after_id_len, 0, "%s, %zu keys: id length",
                             row, nk);
            }
            cr_expect_eq(out.nkeys, nk, "%s, %zu keys: nkeys %zu", row, nk,
                         out.nkeys);
            for (size_t k = 0; k < nk && k < out.nkeys; k++) {
                cr_expect(bytes_eq(out.keys[k], out.key_lens[k], in.keys[k],
                                   in.key_lens[k]),
                          "%s, %zu keys: key %zu", row, nk, k);
                cr_expect(inside(out.keys[k], out.key_lens[k], p, n),
                          "%s, %zu keys: key %zu view", row, nk, k);
            }
            guard_free(&g);
            sse_buf_free(&b);
        }
    }
}

/* Hand-built replay frames: req 0x0102030405060708 and replay_topic, then
 * the fields below as they stand, so that a row can break any of them. */
struct replay_raw {
    const char   *row;
    unsigned char version;
    unsigned char type;
    unsigned char after_kind;
    const char   *after;        /* after-len is after_len */
    size_t        after_len;
    unsigned char key_count;
    const char   *keys;         /* *(key-len key), already encoded */
    size_t        keys_len;
    int           trailing;     /* one more byte at the end */
    int           want;
};

static void
replay_raw_frame(const struct replay_raw *r, struct sse_buf *b)
{
    sse_buf_init(b, 0);
    put_u8(b, r->version);
    put_u8(b, r->type);
    put_u64(b, 0x0102030405060708);
    put_u8(b, TOPIC_LEN);
    put_bytes(b, replay_topic, TOPIC_LEN);
    put_u8(b, r->after_kind);
    put_u16(b, (unsigned)r->after_len);
    put_bytes(b, r->after, r->after_len);
    put_u8(b, r->key_count);
    put_bytes(b, r->keys, r->keys_len);
    if (r->trailing)
        put_u8(b, 0);
}

#define K1  "\x01" "a"
#define K4  K1 K1 K1 K1
#define K32 K4 K4 K4 K4 K4 K4 K4 K4
#define SEQ9 "\0\0\0\0\0\0\0\x09"

static char long_id[SSE_EVENT_ID_MAX + 1];
static char long_key[1 + SSE_KEY_MAX + 1];  /* key-len, then the key */

static const struct replay_raw replay_raws[] = {
    { "valid, after none", 2, 'R', 0, S(""), 1, S(K1), 0, 0 },
    { "valid, after seq", 2, 'R', 1, S(SEQ9), 2,
      S("\x01" "a" "\x02" "bc"), 0, 0 },
    { "valid, after id", 2, 'R', 2, S("ev-42"), 1, S(K1), 0, 0 },
    { "valid, no keys", 2, 'R', 1, S(SEQ9), 0, S(""), 0, 0 },
    { "valid, 32 keys", 2, 'R', 0, S(""), 32, S(K32), 0, 0 },
    { "valid, id of 256 bytes", 2, 'R', 2, long_id, SSE_EVENT_ID_MAX, 1,
      S(K1), 0, 0 },
    { "valid, key of 128 bytes", 2, 'R', 0, S(""), 1, long_key,
      1 + SSE_KEY_MAX, 0, 0 },
    { "version 1", 1, 'R', 0, S(""), 1, S(K1), 0, -1 },
    { "version 0", 0, 'R', 0, S(""), 1, S(K1), 0, -1 },
    { "version 3", 3, 'R', 0, S(""), 1, S(K1), 0, -1 },
    { "deliver type", 2, 'D', 0, S(""), 1, S(K1), 0, -1 },
    { "replayed type", 2, 'Y', 0, S(""), 1, S(K1), 0, -1 },
    { "after kind 4", 2, 'R', 4, S(""), 1, S(K1), 0, -1 },
    { "latest with 8 bytes", 2, 'R', 3, S(SEQ9), 1, S(K1), 0, -1 },
    { "after kind 255", 2, 'R', 255, S(""), 1, S(K1), 0, -1 },
    { "after none with 1 byte", 2, 'R', 0, S("x"), 1, S(K1), 0, -1 },
    { "after none with 8 bytes", 2, 'R', 0, S(SEQ9), 1, S(K1), 0, -1 },
    { "after seq with 0 bytes", 2, 'R', 1, S(""), 1, S(K1), 0, -1 },
    { "after seq with 7 bytes", 2, 'R', 1, S("\0\0\0\0\0\0\1"), 1, S(K1),
      0, -1 },
    { "after seq with 9 bytes", 2, 'R', 1, S("\0\0\0\0\0\0\0\0\1"), 1,
      S(K1), 0, -1 },
    { "after id with CR", 2, 'R', 2, S("ev\r42"), 1, S(K1), 0, -1 },
    { "after id with LF", 2, 'R', 2, S("ev\n42"), 1, S(K1), 0, -1 },
    { "after id with NUL", 2, 'R', 2, S("ev\0" "42"), 1, S(K1), 0, -1 },
    { "after id ending in LF", 2, 'R', 2, S("ev-42\n"), 1, S(K1), 0, -1 },
    { "after id of 257 bytes", 2, 'R', 2, long_id, SSE_EVENT_ID_MAX + 1, 1,
      S(K1), 0, -1 },
    { "after id not UTF-8", 2, 'R', 2, S("\xff"), 1, S(K1), 0, -1 },
    { "empty key", 2, 'R', 0, S(""), 1, S("\0"), 0, -1 },
    { "key with a space", 2, 'R', 0, S(""), 1, S("\x03" "a b"), 0, -1 },
    { "key with NUL", 2, 'R', 0, S(""), 1, S("\x03" "a\0b"), 0, -1 },
    { "key with LF", 2, 'R', 0, S(""), 1, S("\x02" "a\n"), 0, -1 },
    { "second key invalid", 2, 'R', 0, S(""), 2, S(K1 "\x01" "/"), 0, -1 },
    { "key of 129 bytes", 2, 'R', 0, S(""), 1, long_key, sizeof long_key,
      0, -1 },
    { "33 keys", 2, 'R', 0, S(""), 33, S(K32 K1), 0, -1 },
    { "255 keys counted, 33 present", 2, 'R', 0, S(""), 255, S(K32 K1), 0,
      -1 },
    { "2 keys counted, 1 present", 2, 'R', 0, S(""), 2, S(K1), 0, -1 },
    { "1 key counted, 2 present", 2, 'R', 0, S(""), 1, S(K1 K1), 0, -1 },
    { "trailing byte", 2, 'R', 0, S(""), 1, S(K1), 1, -1 },
    { "trailing byte, no keys", 2, 'R', 1, S(SEQ9), 0, S(""), 1, -1 },
};

#define NREPLAY_RAW (sizeof replay_raws / sizeof replay_raws[0])

static void
fill_long_fields(void)
{
    memset(long_id, 'i', sizeof long_id);
    long_key[0] = (char)SSE_KEY_MAX;
    memset(long_key + 1, 'k', sizeof long_key - 1);
}

Test(sse_wire, replay_decode_refuses_malformed_requests)
{
    fill_long_fields();
    for (size_t i = 0; i < NREPLAY_RAW; i++) {
        const struct replay_raw *r = &replay_raws[i];
        struct sse_buf b;

        replay_raw_frame(r, &b);
        /* The 129-byte key row sends its true length. */
        if (r->keys == long_key && r->keys_len == sizeof long_key)
            b.data[b.off + sse_buf_len(&b) - sizeof long_key] =
                (char)(SSE_KEY_MAX + 1);
        cr_expect_eq(decode_guarded(dec_replay, sse_buf_head(&b),
                                    sse_buf_len(&b)), r->want,
                     "%s", r->row);
        sse_buf_free(&b);
    }
}

Test(sse_wire, replay_decode_reads_a_hand_built_request)
{
    const struct replay_raw *r = &replay_raws[1];  /* after seq, 2 keys */
    struct sse_wire_replay out;
    struct sse_buf b;
    struct guarded g;
    const char *p;
    size_t n;

    replay_raw_frame(r, &b);
    n = sse_buf_len(&b);
    p = guard_copy(&g, sse_buf_head(&b), n);
    cr_assert_not_null(p);
    cr_assert_eq(sse_wire_replay_decode(p, n, &out), 0);
    cr_expect_eq(out.req, 0x0102030405060708);
    cr_expect(bytes_eq(out.topic, out.topic_len, replay_topic, TOPIC_LEN));
    cr_expect_eq(out.after, SSE_WIRE_AFTER_SEQ);
    cr_expect_eq(out.after_seq, 9);
    cr_expect_null(out.after_id);
    cr_assert_eq(out.nkeys, 2);
    cr_expect(bytes_eq(out.keys[0], out.key_lens[0], "a", 1));
    cr_expect(bytes_eq(out.keys[1], out.key_lens[1], "bc", 2));
    guard_free(&g);
    sse_buf_free(&b);
}

Test(sse_wire, replay_decode_refuses_every_strict_prefix)
{
    fill_long_fields();
    for (size_t i = 0; i < NREPLAY_RAW; i++) {
        struct sse_buf b;

        if (replay_raws[i].want != 0)
            continue;
        replay_raw_frame(&replay_raws[i], &b);
        expect_only_whole_frame(replay_raws[i].row, dec_replay, &b);
        sse_buf_free(&b);
    }
}

Test(sse_wire, replay_encode_refuses_fields_too_long_for_their_prefix)
{
    static char big[65537];
    const struct {
        const char *row;
        size_t      topic_len;
        int         after;
        size_t      after_id_len;
        size_t      nkeys;
        size_t      last_key_len;   /* 0: as set_keys gives */
        int         want;
    } cases[] = {
        { "topic of 255", 255, SSE_WIRE_AFTER_NONE, 0, 1, 0, 0 },
        { "topic of 256", 256, SSE_WIRE_AFTER_NONE, 0, 1, 0, -1 },
        { "key of 255", 1, SSE_WIRE_AFTER_NONE, 0, 1, 255, 0 },
        { "key of 256", 1, SSE_WIRE_AFTER_NONE, 0, 1, 256, -1 },
        { "last of 32 keys of 256", 1, SSE_WIRE_AFTER_SEQ, 0, 32, 256, -1 },
        { "32 keys", 1, SSE_WIRE_AFTER_SEQ, 0, 32, 0, 0 },
        { "33 keys", 1, SSE_WIRE_AFTER_SEQ, 0, 33, 0, -1 },
        { "after kind 4", 1, 4, 0, 1, 0, -1 },
        { "after kind -1", 1, -1, 0, 1, 0, -1 },
        { "after kind 256", 1, 256, 0, 1, 0, -1 },
        { "after id of 65535", 1, SSE_WIRE_AFTER_ID, 65535, 1, 0, 0 },
        { "after id of 65536", 1, SSE_WIRE_AFTER_ID, 65536, 1, 0, -1 },
    };

    memset(big, 'a', sizeof big);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sse_wire_replay r;
        struct sse_buf b;

        memset(&r, 0, sizeof r);
        r.topic = big;
        r.topic_len = cases[i].topic_len;
        r.after = cases[i].after;
        r.after_seq = 5;
        r.after_id = big;
        r.after_id_len = cases[i].after_id_len;
        /* nkeys may pass the array: the encoder must refuse it unread. */
        set_keys(&r, cases[i].nkeys < SSE_WIRE_KEYS_MAX ? cases[i].nkeys
                                                         : SSE_WIRE_KEYS_MAX);
        r.nkeys = cases[i].nkeys;
        if (cases[i].last_key_len != 0) {
            r.keys[cases[i].nkeys - 1] = big;
            r.key_lens[cases[i].nkeys - 1] = cases[i].last_key_len;
        }
        sse_buf_init(&b, 0);
        cr_expect_eq(sse_wire_replay_encode(&r, &b), cases[i].want, "%s",
                     cases[i].row);
        if (cases[i].want == -1)
            cr_expect_eq(sse_buf_len(&b), 0, "%s: buffer touched",
                         cases[i].row);
        else
            cr_expect_eq(sse_buf_len(&b), replay_len(&r), "%s: length",
                         cases[i].row);
        sse_buf_free(&b);
    }
}

Test(sse_wire, replay_encode_leaves_a_full_buffer_unchanged)
{
    struct sse_wire_replay r;
    struct sse_buf b;
    size_t need;

    memset(&r, 0, sizeof r);
    r.req = 3;
    r.topic = replay_topic;
    r.topic_len = TOPIC_LEN;
    r.after = SSE_WIRE_AFTER_ID;
    r.after_id = "ev-1";
    r.after_id_len = 4;
    set_keys(&r, 3);
    need = replay_len(&r);

    /* Each ceiling from "no room for the header" to one byte short. A
     * ceiling gives a buffer of exactly that size, so a write past the
     * reservation shows up under the address sanitizer. */
    for (size_t max = 2; max < 2 + need; max++) {
        sse_buf_init(&b, max);
        cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
        cr_expect_eq(sse_wire_replay_encode(&r, &b), -1,
                     "ceiling %zu of %zu: accepted", max, 2 + need);
        cr_expect_eq(sse_buf_len(&b), 2, "ceiling %zu: buffer touched", max);
        sse_buf_free(&b);
    }
    sse_buf_init(&b, 2 + need);
    cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
    cr_expect_eq(sse_wire_replay_encode(&r, &b), 0, "exact fit refused");
    cr_expect_eq(sse_buf_len(&b), 2 + need);
    sse_buf_free(&b);
}

/* ---- replayed ---------------------------------------------------------- */

static const struct {
    unsigned         flags;
    uint64_t         seq;
    struct sse_event ev;
} replayed_items[] = {
    { 0, 1, EV(NULL, NULL, -1, "hello") },
    { SSE_WIRE_CLOSE, 2, EV("tick", "17", 2500, "a\r\nb\rc\nd") },
    { SSE_WIRE_ALL, 0x0102030405060708, EV(NULL, NULL, -1, "") },
    { SSE_WIRE_CLOSE | SSE_WIRE_ALL, UINT64_MAX, EV(NULL, "x", -1, "\n") },
};

#define NITEMS (sizeof replayed_items / sizeof replayed_items[0])

struct replayed_case {
    const char *row;
    unsigned    flags;
    uint64_t    instance;
    uint64_t    req;
    uint64_t    seq_now;
    size_t      nitems;     /* the first nitems of replayed_items */
};

static const struct replayed_case replayed_cases[] = {
    { "hello", 0, 0x0102030405060708, 0, 40, 0 },
    { "missed, nothing kept", SSE_WIRE_MISSED, 1, 2, 3, 0 },
    { "one item", 0, 5, 6, 7, 1 },
    { "missed, one item", SSE_WIRE_MISSED, 5, 6, 7, 1 },
    { "several items", 0, UINT64_MAX, UINT64_MAX, UINT64_MAX, NITEMS },
    { "missed, several items", SSE_WIRE_MISSED, 0x1112131415161718,
      0x2122232425262728, 0x3132333435363738, NITEMS },
};

#define NREPLAYED (sizeof replayed_cases / sizeof replayed_cases[0])

/* The items of a case, with their SSE bytes in bufs; free with
 * free_items. */
static void
make_items(size_t n, struct sse_wire_item *items, struct sse_buf *bufs)
{
    for (size_t i = 0; i < n; i++) {
        event_bytes(&replayed_items[i].ev, &bufs[i]);
        items[i].flags = replayed_items[i].flags;
        items[i].seq = replayed_items[i].seq;
        items[i].sse = sse_buf_head(&bufs[i]);
        items[i].len = sse_buf_len(&bufs[i]);
    }
}

static void
free_items(size_t n, struct sse_buf *bufs)
{
    for (size_t i = 0; i < n; i++)
        sse_buf_free(&bufs[i]);
}

/* Encode a case into a fresh b; items and bufs keep its events. */
static void
encode_replayed(const struct replayed_case *c, struct sse_wire_item *items,
                struct sse_buf *bufs, struct sse_buf *b)
{
    struct sse_wire_replayed h;

    memset(&h, 0, sizeof h);
    h.flags = c->flags;
    h.instance = c->instance;
    h.req = c->req;
    h.seq_now = c->seq_now;
    make_items(c->nitems, items, bufs);
    sse_buf_init(b, 0);
    cr_assert_eq(sse_wire_replayed_encode(&h, items, c->nitems, b), 0,
                 "%s: encode", c->row);
}

Test(sse_wire, replayed_encodes_exact_big_endian_bytes)
{
    static const unsigned char want[] = {
        SSE_WIRE_VERSION, 'Y', 0x01,                    /* missed */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* instance */
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* req */
        0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, /* seq-now */
        0x00, 0x00, 0x00, 0x01,                         /* count */
        0x03,                                           /* item flags */
        0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, /* seq */
        0x00, 0x00, 0x00, 0x0a,                         /* len32 */
        'd', 'a', 't', 'a', ':', ' ', 'h', 'i', '\n', '\n',
    };
    struct sse_wire_replayed h = {
        SSE_WIRE_MISSED, 0x0102030405060708, 0x1112131415161718,
        0x2122232425262728, 0, NULL, 0, NULL, 0,
    };
    struct sse_wire_item item = {
        SSE_WIRE_CLOSE | SSE_WIRE_ALL, 0x3132333435363738, "data: hi\n\n", 10,
    };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_replayed_encode(&h, &item, 1, &b), 0);
    cr_assert_eq(sse_buf_len(&b), sizeof want);
    cr_expect_arr_eq(sse_buf_head(&b), want, sizeof want);
    sse_buf_free(&b);
}

Test(sse_wire, replayed_round_trips_header_and_every_item)
{
    for (size_t i = 0; i < NREPLAYED; i++) {
        const struct replayed_case *c = &replayed_cases[i];
        struct sse_wire_item items[NITEMS], got;
        struct sse_buf bufs[NITEMS], b;
        struct sse_wire_replayed out;
        struct guarded g;
        const char *p;
        size_t n, k;

        encode_replayed(c, items, bufs, &b);
        n = sse_buf_len(&b);
        p = guard_copy(&g, sse_buf_head(&b), n);
        cr_assert_not_null(p);
        cr_assert_eq(sse_wire_replayed_decode(p, n, &out), 0, "%s: decode",
                     c->row);
        cr_expect_eq(out.flags, c->flags, "%s: flags", c->row);
        cr_expect_eq(out.instance, c->instance, "%s: instance", c->row);
        cr_expect_eq(out.req, c->req, "%s: req", c->row);
        cr_expect_eq(out.seq_now, c->seq_now, "%s: seq_now", c->row);
        cr_expect_eq(out.count, c->nitems, "%s: count", c->row);
        for (k = 0; k < c->nitems; k++) {
            memset(&got, 0xa5, sizeof got);
            if (sse_wire_replayed_next(&out, &got) != 1)
                break;
            cr_expect_eq(got.flags, items[k].flags, "%s: item %zu flags",
                         c->row, k);
            cr_expect_eq(got.seq, items[k].seq, "%s: item %zu seq",
                         c->row, k);
            cr_expect(bytes_eq(got.sse, got.len, items[k].sse, items[k].len),
                      "%s: item %zu bytes", c->row, k);
            cr_expect(inside(got.sse, got.len, p, n), "%s: item %zu view",
                      c->row, k);
        }
        cr_expect_eq(k, c->nitems, "%s: %zu of %zu items", c->row, k,
                     c->nitems);
        cr_expect_eq(sse_wire_replayed_next(&out, &got), 0,
                     "%s: no end after the last item", c->row);
        cr_expect_eq(sse_wire_replayed_next(&out, &got), 0,
                     "%s: no end on the second call", c->row);
        guard_free(&g);
        sse_buf_free(&b);
        free_items(c->nitems, bufs);
    }
}

Test(sse_wire, replayed_decode_refuses_every_strict_prefix)
{
    for (size_t i = 0; i < NREPLAYED; i++) {
        struct sse_wire_item items[NITEMS];
        struct sse_buf bufs[NITEMS], b;

        encode_replayed(&replayed_cases[i], items, bufs, &b);
        expect_only_whole_frame(replayed_cases[i].row, dec_replayed, &b);
        sse_buf_free(&b);
        free_items(replayed_cases[i].nitems, bufs);
    }
}

/* Hand-built replayed frames: instance 1, req 2, seq-now 3, then the
 * fields below as they stand. */
struct raw_item {
    unsigned char flags;
    const char   *sse;          /* len32 is its strlen */
};

struct replayed_raw {
    const char     *row;
    unsigned char   version;
    unsigned char   type;
    unsigned char   rflags;
    uint32_t        count;
    size_t          nitems;
    struct raw_item items[3];
    int             trailing;   /* one more byte at the end */
    int             want;
};

static void
replayed_raw_frame(const struct replayed_raw *r, struct sse_buf *b)
{
    sse_buf_init(b, 0);
    put_u8(b, r->version);
    put_u8(b, r->type);
    put_u8(b, r->rflags);
    put_u64(b, 1);
    put_u64(b, 2);
    put_u64(b, 3);
    put_u32(b, r->count);
    for (size_t i = 0; i < r->nitems; i++) {
        size_t len = strlen(r->items[i].sse);

        put_u8(b, r->items[i].flags);
        put_u64(b, 10 + i);
        put_u32(b, (uint32_t)len);
        put_bytes(b, r->items[i].sse, len);
    }
    if (r->trailing)
        put_u8(b, 0);
}

#define X { 0, "data: x\n\n" }

Test(sse_wire, replayed_decode_refuses_malformed_answers)
{
    static const struct replayed_raw cases[] = {
        { "valid, no items", 2, 'Y', 0, 0, 0, { X }, 0, 0 },
        { "valid, one item", 2, 'Y', 0, 1, 1, { X }, 0, 0 },
        { "valid, missed, two items", 2, 'Y', 1, 2, 2,
          { X, { 3, "event: e\ndata: y\n\n" } }, 0, 0 },
        { "version 1", 1, 'Y', 0, 1, 1, { X }, 0, -1 },
        { "version 0", 0, 'Y', 0, 1, 1, { X }, 0, -1 },
        { "version 3", 3, 'Y', 0, 1, 1, { X }, 0, -1 },
        { "deliver type", 2, 'D', 0, 1, 1, { X }, 0, -1 },
        { "replay type", 2, 'R', 0, 1, 1, { X }, 0, -1 },
        { "rflags 0x02", 2, 'Y', 0x02, 1, 1, { X }, 0, -1 },
        { "rflags 0x80", 2, 'Y', 0x80, 0, 0, { X }, 0, -1 },
        { "count 1, no items", 2, 'Y', 0, 1, 0, { X }, 0, -1 },
        { "count 2, one item", 2, 'Y', 0, 2, 1, { X }, 0, -1 },
        { "count 4294967295, one item", 2, 'Y', 0, UINT32_MAX, 1, { X }, 0,
          -1 },
        { "count 0, one item", 2, 'Y', 0, 0, 1, { X }, 0, -1 },
        { "count 1, two items", 2, 'Y', 0, 1, 2, { X, X }, 0, -1 },
        { "count 1, a trailing byte", 2, 'Y', 0, 1, 1, { X }, 1, -1 },
        { "count 0, a trailing byte", 2, 'Y', 0, 0, 0, { X }, 1, -1 },
        { "item without final blank line", 2, 'Y', 0, 1, 1,
          { { 0, "data: x\n" } }, 0, -1 },
        { "item of two events", 2, 'Y', 0, 1, 1,
          { { 0, "data: x\n\ndata: y\n\n" } }, 0, -1 },
        { "item with extra blank line", 2, 'Y', 0, 1, 1,
          { { 0, "data: x\n\n\n" } }, 0, -1 },
        { "empty item", 2, 'Y', 0, 1, 1, { { 0, "" } }, 0, -1 },
        { "item of a lone LF", 2, 'Y', 0, 1, 1, { { 0, "\n" } }, 0, -1 },
        { "second item not one event", 2, 'Y', 0, 2, 2,
          { X, { 0, "data: y\n" } }, 0, -1 },
        { "item flags 0x04", 2, 'Y', 0, 1, 1, { { 4, "data: x\n\n" } }, 0,
          -1 },
        { "item flags 0x80", 2, 'Y', 0, 1, 1, { { 0x80, "data: x\n\n" } },
          0, -1 },
        { "second item flags 0x04", 2, 'Y', 0, 2, 2,
          { X, { 4, "data: x\n\n" } }, 0, -1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sse_buf b;

        replayed_raw_frame(&cases[i], &b);
        cr_expect_eq(decode_guarded(dec_replayed, sse_buf_head(&b),
                                    sse_buf_len(&b)), cases[i].want,
                     "%s", cases[i].row);
        sse_buf_free(&b);
    }
}

Test(sse_wire, replayed_decode_refuses_an_item_longer_than_the_frame)
{
    static const struct replayed_raw one = {
        "one item", 2, 'Y', 0, 1, 1, { X }, 0, 0,
    };
    struct sse_buf b;
    size_t n;

    replayed_raw_frame(&one, &b);
    n = sse_buf_len(&b);
    /* len32 sits 4 bytes before the 9 event bytes: say 10, then 2^32-1. */
    b.data[b.off + n - 9 - 1] = 10;
    cr_expect_eq(decode_guarded(dec_replayed, sse_buf_head(&b), n), -1,
                 "len32 one past the end accepted");
    memset(b.data + b.off + n - 9 - 4, 0xff, 4);
    cr_expect_eq(decode_guarded(dec_replayed, sse_buf_head(&b), n), -1,
                 "len32 of 2^32-1 accepted");
    b.data[b.off + n - 9 - 4] = 0;
    b.data[b.off + n - 9 - 3] = 0;
    b.data[b.off + n - 9 - 2] = 0;
    b.data[b.off + n - 9 - 1] = 8;
    cr_expect_eq(decode_guarded(dec_replayed, sse_buf_head(&b), n), -1,
                 "len32 one short accepted");
    sse_buf_free(&b);
}

Test(sse_wire, replayed_encode_refuses_unknown_flags_and_full_buffer)
{
    const struct replayed_case *c = &replayed_cases[5];
    struct sse_wire_item items[NITEMS];
    struct sse_buf bufs[NITEMS], probe, b;
    struct sse_wire_replayed h;
    size_t need;

    encode_replayed(c, items, bufs, &probe);
    need = sse_buf_len(&probe);
    sse_buf_free(&probe);
    memset(&h, 0, sizeof h);
    h.flags = c->flags;
    h.instance = c->instance;
    h.req = c->req;
    h.seq_now = c->seq_now;

    /* Each ceiling from "no room for the header" to one byte short. */
    for (size_t max = 2; max < 2 + need; max++) {
        sse_buf_init(&b, max);
        cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
        cr_expect_eq(sse_wire_replayed_encode(&h, items, NITEMS, &b), -1,
                     "ceiling %zu: accepted", max);
        cr_expect_eq(sse_buf_len(&b), 2, "ceiling %zu: buffer touched", max);
        sse_buf_free(&b);
    }
    sse_buf_init(&b, 2 + need);
    cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
    cr_expect_eq(sse_wire_replayed_encode(&h, items, NITEMS, &b), 0,
                 "exact fit refused");
    cr_expect_eq(sse_buf_len(&b), 2 + need);
    sse_buf_free(&b);

    sse_buf_init(&b, 0);
    h.flags = 0x02;
    cr_expect_eq(sse_wire_replayed_encode(&h, items, NITEMS, &b), -1,
                 "rflags 0x02 accepted");
    h.flags = SSE_WIRE_MISSED;
    items[2].flags = 0x04;
    cr_expect_eq(sse_wire_replayed_encode(&h, items, NITEMS, &b), -1,
                 "item flags 0x04 accepted");
    cr_expect_eq(sse_buf_len(&b), 0, "buffer touched");
    sse_buf_free(&b);
    free_items(NITEMS, bufs);
}

Test(sse_wire, replay_round_trips_the_latest_kind)
{
    struct sse_wire_replay r, d;
    struct sse_buf b;

    memset(&r, 0, sizeof(r));
    r.req = 9;
    r.topic = "t";
    r.topic_len = 1;
    r.after = SSE_WIRE_AFTER_LATEST;
    r.nkeys = 1;
    r.keys[0] = "k1";
    r.key_lens[0] = 2;
    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_replay_encode(&r, &b), 0);
    cr_assert_eq(sse_wire_replay_decode(sse_buf_head(&b), sse_buf_len(&b),
                                        &d), 0);
    cr_expect_eq(d.after, SSE_WIRE_AFTER_LATEST);
    cr_expect_eq(d.nkeys, 1);
    sse_buf_free(&b);
}

Test(sse_wire, publish_carries_the_if_changed_flag)
{
    struct sse_wire_publish m, d;
    struct sse_buf b;
    const char *reason;

    memset(&m, 0, sizeof(m));
    m.flags = SSE_WIRE_IF_CHANGED;
    m.key = "k";
    m.key_len = 1;
    m.ev.retry = -1;
    m.ev.data = "3";
    m.ev.data_len = 1;
    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_publish_encode(&m, &b), 0);
    cr_assert_eq(sse_wire_publish_decode(sse_buf_head(&b), sse_buf_len(&b),
                                         &d, 100, &reason), 0);
    cr_expect_eq(d.flags, SSE_WIRE_IF_CHANGED);
    sse_buf_free(&b);
}

Test(sse_wire, report_round_trips_its_keys)
{
    struct sse_wire_report r;
    struct sse_buf b;
    const char *k;
    size_t len;
    uint32_t n;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_report_begin(&b, 0x0102030405060708ULL, 77, 5), 0);
    cr_assert_eq(sse_wire_report_key(&b, "a", 1, 3), 0);
    cr_assert_eq(sse_wire_report_key(&b, "bc", 2, 2), 0);
    sse_wire_report_end(&b, 0, 2);
    cr_assert_eq(sse_wire_report_decode(sse_buf_head(&b), sse_buf_len(&b),
                                        &r), 0);
    cr_expect_eq(r.worker, 0x0102030405060708ULL);
    cr_expect_eq(r.pid, 77);
    cr_expect_eq(r.streams, 5);
    cr_expect_eq(r.count, 2);
    cr_assert_eq(sse_wire_report_next(&r, &k, &len, &n), 1);
    cr_expect(len == 1 && k[0] == 'a' && n == 3);
    cr_assert_eq(sse_wire_report_next(&r, &k, &len, &n), 1);
    cr_expect(len == 2 && memcmp(k, "bc", 2) == 0 && n == 2);
    cr_expect_eq(sse_wire_report_next(&r, &k, &len, &n), 0);
    /* Every strict prefix, and a count that promises more, is refused. */
    for (size_t i = 0; i < sse_buf_len(&b); i++) {
        struct guarded g;
        const char *p = guard_copy(&g, sse_buf_head(&b), i);

        cr_expect_eq(sse_wire_report_decode(p, i, &r), -1, "prefix %zu", i);
        guard_free(&g);
    }
    sse_wire_report_end(&b, 0, 3);
    cr_expect_eq(sse_wire_report_decode(sse_buf_head(&b), sse_buf_len(&b),
                                        &r), -1, "count 3 of 2 keys");
    cr_expect_eq(sse_wire_report_key(&b, "bad key", 7, 1), 0);
    sse_wire_report_end(&b, 0, 3);
    cr_expect_eq(sse_wire_report_decode(sse_buf_head(&b), sse_buf_len(&b),
                                        &r), -1, "an invalid key");
    sse_buf_free(&b);
}

Test(sse_wire, stats_and_counts_round_trip)
{
    struct sse_buf b;
    const char *key, *json, *topic;
    size_t len, tlen;
    uint32_t seq;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_stats_encode(9, "k1", 2, NULL, 0, &b), 0);
    cr_assert_eq(sse_wire_stats_decode(sse_buf_head(&b), sse_buf_len(&b),
                                       &seq, &key, &len, &topic, &tlen), 0);
    cr_expect(seq == 9 && len == 2 && memcmp(key, "k1", 2) == 0);
    cr_expect(topic == NULL && tlen == 0);
    sse_buf_clear(&b);
    cr_assert_eq(sse_wire_stats_encode(3, NULL, 0, "wT", 2, &b), 0);
    cr_assert_eq(sse_wire_stats_decode(sse_buf_head(&b), sse_buf_len(&b),
                                       &seq, &key, &len, &topic, &tlen), 0);
    cr_expect(seq == 3 && len == 0 && key == NULL);
    cr_expect(tlen == 2 && memcmp(topic, "wT", 2) == 0);
    cr_expect_eq(sse_wire_stats_decode(sse_buf_head(&b), sse_buf_len(&b) - 1,
                                       &seq, &key, &len, &topic, &tlen), -1,
                 "a cut topic");
    sse_buf_clear(&b);
    cr_assert_eq(sse_wire_stats_encode(3, "a b", 3, NULL, 0, &b), 0);
    cr_expect_eq(sse_wire_stats_decode(sse_buf_head(&b), sse_buf_len(&b),
                                       &seq, &key, &len, &topic, &tlen), -1,
                 "bad key");
    sse_buf_clear(&b);
    cr_assert_eq(sse_wire_counts_encode(4, "{}", 2, &b), 0);
    cr_assert_eq(sse_wire_counts_decode(sse_buf_head(&b), sse_buf_len(&b),
                                        &seq, &json, &len), 0);
    cr_expect(seq == 4 && len == 2 && memcmp(json, "{}", 2) == 0);
    for (size_t i = 0; i < sse_buf_len(&b); i++) {
        struct guarded g;
        const char *p = guard_copy(&g, sse_buf_head(&b), i);

        cr_expect_eq(sse_wire_counts_decode(p, i, &seq, &json, &len), -1,
                     "prefix %zu", i);
        guard_free(&g);
    }
    sse_buf_free(&b);
}
