/*
 * Unit tests for sse_wire: exact bytes of each frame, round trips, and
 * decoders fed every strict prefix of a valid frame from just before a
 * guard page.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "guard.h"
#include "sse_buf.h"
#include "sse_event.h"
#include "sse_key.h"
#include "sse_wire.h"

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

/* ---- publish ----------------------------------------------------------- */

Test(sse_wire, publish_encodes_exact_big_endian_bytes)
{
    static const unsigned char want[] = {
        0x01, 'P', 0x01,                    /* version, type, flags */
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
        0x01, 'P', 0x00, 0, 0, 0, 0, 0x01, 'k', 0x00, 0x00, 0x00,
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
        { "version 2", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          0, 2, 0, 100, "unsupported wire version" },
        { "version 0", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          0, 0, 0, 100, "unsupported wire version" },
        { "ack type", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          1, 'A', 0, 100, "not a publish frame" },
        { "unknown flag", { 0, 1, "k", 1, EV(NULL, NULL, -1, "x") },
          2, 0x04, 0, 100, "unknown publish flags" },
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
        { "unknown flag", { 0x04, 0, "k", 1, EV(NULL, NULL, -1, "") }, -1 },
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
        0x01, 'A', 0xfe, 0xdc, 0xba, 0x98, 0x01, 0x03, 'b', 'a', 'd',
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
    struct sse_wire_ack out;
    struct sse_buf b;
    size_t n;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_wire_ack_encode(&a, &b), 0);
    n = sse_buf_len(&b);
    for (size_t k = 0; k < n; k++) {
        struct guarded g;
        const char *p = guard_copy(&g, sse_buf_head(&b), k);

        cr_assert_not_null(p);
        cr_expect_eq(sse_wire_ack_decode(p, k, &out), -1,
                     "prefix of %zu/%zu bytes accepted", k, n);
        guard_free(&g);
    }
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
        { "valid", "\x01" "A" "\0\0\0\1" "\2" "\0", 8, 0 },
        { "version 2", "\x02" "A" "\0\0\0\1" "\0" "\0", 8, -1 },
        { "publish type", "\x01" "P" "\0\0\0\1" "\0" "\0", 8, -1 },
        { "status 3", "\x01" "A" "\0\0\0\1" "\3" "\0", 8, -1 },
        { "status 255", "\x01" "A" "\0\0\0\1" "\xff" "\0", 8, -1 },
        { "trailing byte", "\x01" "A" "\0\0\0\1" "\0" "\0" "x", 9, -1 },
        { "reason longer than said", "\x01" "A" "\0\0\0\1" "\0" "\1" "xy",
          10, -1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct sse_wire_ack out;
        struct guarded g;
        const char *p = guard_copy(&g, cases[i].frame, cases[i].n);

        cr_assert_not_null(p);
        cr_expect_eq(sse_wire_ack_decode(p, cases[i].n, &out), cases[i].want,
                     "%s", cases[i].row);
        guard_free(&g);
    }
}

Test(sse_wire, ack_encode_refuses_unknown_status_and_full_buffer)
{
    struct sse_wire_ack a = { 1, 3, NULL, 0 };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_expect_eq(sse_wire_ack_encode(&a, &b), -1, "status 3 accepted");
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

Test(sse_wire, deliver_is_a_header_then_the_exact_sse_bytes)
{
    for (size_t i = 0; i < NDELIVER; i++) {
        struct sse_buf want, b;

        sse_buf_init(&want, 0);
        cr_assert_eq(sse_buf_append(&want, "\x01" "D" "\x01", 3), 0);
        cr_assert_eq(sse_event_encode(&deliver_events[i], &want), 0);
        sse_buf_init(&b, 0);
        cr_assert_eq(sse_wire_deliver_encode(SSE_WIRE_CLOSE,
                                             &deliver_events[i], &b), 0,
                     "event %zu", i);
        cr_expect(bytes_eq(sse_buf_head(&b), sse_buf_len(&b),
                           sse_buf_head(&want), sse_buf_len(&want)),
                  "event %zu: bytes differ", i);
        sse_buf_free(&want);
        sse_buf_free(&b);
    }
}

Test(sse_wire, deliver_round_trips_flags_and_bytes)
{
    static const unsigned flags[] = {
        0, SSE_WIRE_CLOSE, SSE_WIRE_ALL, SSE_WIRE_CLOSE | SSE_WIRE_ALL,
    };

    for (size_t i = 0; i < NDELIVER; i++) {
        for (size_t f = 0; f < sizeof flags / sizeof flags[0]; f++) {
            struct sse_buf b;
            struct guarded g;
            const char *p, *sse = NULL;
            size_t n, sse_len = 0;
            unsigned got = 99;

            sse_buf_init(&b, 0);
            cr_assert_eq(sse_wire_deliver_encode(flags[f], &deliver_events[i],
                                                 &b), 0);
            n = sse_buf_len(&b);
            p = guard_copy(&g, sse_buf_head(&b), n);
            cr_assert_not_null(p);
            cr_expect_eq(sse_wire_deliver_decode(p, n, &got, &sse, &sse_len),
                         0, "event %zu flags %u: refused", i, flags[f]);
            cr_expect_eq(got, flags[f], "event %zu flags %u", i, flags[f]);
            cr_expect_eq(sse, p + 3, "event %zu: view", i);
            cr_expect_eq(sse_len, n - 3, "event %zu: length", i);
            guard_free(&g);
            sse_buf_free(&b);
        }
    }
}

Test(sse_wire, deliver_decode_refuses_every_strict_prefix)
{
    for (size_t i = 0; i < NDELIVER; i++) {
        struct sse_buf b;
        size_t n;

        sse_buf_init(&b, 0);
        cr_assert_eq(sse_wire_deliver_encode(0, &deliver_events[i], &b), 0);
        n = sse_buf_len(&b);
        for (size_t k = 0; k < n; k++) {
            struct guarded g;
            const char *p = guard_copy(&g, sse_buf_head(&b), k);
            const char *sse;
            size_t sse_len;
            unsigned fl;

            cr_assert_not_null(p);
            cr_expect_eq(sse_wire_deliver_decode(p, k, &fl, &sse, &sse_len),
                         -1, "event %zu: prefix of %zu/%zu bytes accepted",
                         i, k, n);
            guard_free(&g);
        }
        sse_buf_free(&b);
    }
}

Test(sse_wire, deliver_decode_refuses_frames_that_are_not_one_event)
{
    static const struct {
        const char *row;
        const char *frame;
        size_t      n;
        int         want;
    } cases[] = {
        { "valid", "\x01" "D" "\0" "data: x\n\n", 12, 0 },
        { "version 2", "\x02" "D" "\0" "data: x\n\n", 12, -1 },
        { "ack type", "\x01" "A" "\0" "data: x\n\n", 12, -1 },
        { "unknown flag", "\x01" "D" "\x04" "data: x\n\n", 12, -1 },
        { "no blank line", "\x01" "D" "\0" "data: x\n", 11, -1 },
        { "two events", "\x01" "D" "\0" "data: x\n\ndata: y\n\n", 21, -1 },
        { "extra blank line", "\x01" "D" "\0" "data: x\n\n\n", 13, -1 },
        { "header only", "\x01" "D" "\0", 3, -1 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct guarded g;
        const char *p = guard_copy(&g, cases[i].frame, cases[i].n);
        const char *sse;
        size_t sse_len;
        unsigned fl;

        cr_assert_not_null(p);
        cr_expect_eq(sse_wire_deliver_decode(p, cases[i].n, &fl, &sse,
                                             &sse_len), cases[i].want,
                     "%s", cases[i].row);
        guard_free(&g);
    }
}

Test(sse_wire, deliver_encode_leaves_a_full_buffer_unchanged)
{
    const struct sse_event *ev = &deliver_events[1];
    size_t need = 3 + sse_event_encoded_len(ev);
    struct sse_buf b;

    /* Each ceiling from "no room for the header" to one byte short. */
    for (size_t max = 2; max < 2 + need; max++) {
        sse_buf_init(&b, max);
        cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
        cr_expect_eq(sse_wire_deliver_encode(0, ev, &b), -1,
                     "ceiling %zu: accepted", max);
        cr_expect_eq(sse_buf_len(&b), 2, "ceiling %zu: buffer touched", max);
        cr_expect_arr_eq(sse_buf_head(&b), "zz", 2);
        sse_buf_free(&b);
    }
    sse_buf_init(&b, 2 + need);
    cr_assert_eq(sse_buf_append(&b, "zz", 2), 0);
    cr_expect_eq(sse_wire_deliver_encode(0, ev, &b), 0, "exact fit refused");
    sse_buf_free(&b);

    sse_buf_init(&b, 0);
    cr_expect_eq(sse_wire_deliver_encode(0x04, ev, &b), -1,
                 "unknown flag accepted");
    cr_expect_eq(sse_buf_len(&b), 0);
    sse_buf_free(&b);
}
