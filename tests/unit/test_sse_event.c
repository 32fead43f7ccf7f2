/*
 * Unit tests for sse_event: exact bytes, what a browser reads back, the
 * field checks, retry parsing and strict UTF-8.
 */
#include "config.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard.h"
#include "sse_buf.h"
#include "sse_event.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1    /* a literal as pointer and length */

#define THREE      "data: a\ndata: \ndata: b\n\n"   /* "a", "", "b" */
#define NAME_BREAK "event name contains CR, LF or NUL"
#define NAME_UTF8  "event name is not valid UTF-8"

/* Encode ev into a fresh unlimited buffer and compare with want. */
static void
expect_encoding(const char *row, const struct sse_event *ev,
                const char *want, size_t want_len)
{
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_event_encode(ev, &b), 0, "row %s: encode", row);
    cr_expect_eq(sse_buf_len(&b), want_len, "row %s: length %zu, want %zu",
                 row, sse_buf_len(&b), want_len);
    if (sse_buf_len(&b) == want_len)
        cr_expect_arr_eq(sse_buf_head(&b), want, want_len,
                         "row %s: bytes \"%.*s\"", row,
                         (int)sse_buf_len(&b), sse_buf_head(&b));
    cr_expect_eq(sse_event_encoded_len(ev), want_len,
                 "row %s: encoded_len", row);
    sse_buf_free(&b);
}

/* ------------------------------------------------------------------------
 * Exact bytes
 * ------------------------------------------------------------------------ */

Test(sse_event, data_lines_encode_to_exact_bytes)
{
    static const struct {
        const char *name;
        const char *data;
        size_t data_len;
        const char *want;
    } rows[] = {
        { "one line",            S("hello"),     "data: hello\n\n" },
        { "empty message",       S(""),          "data: \n\n" },
        { "lf splits",           S("a\nb"),      "data: a\ndata: b\n\n" },
        { "crlf is one break",   S("a\r\nb"),    "data: a\ndata: b\n\n" },
        { "cr splits",           S("a\rb"),      "data: a\ndata: b\n\n" },
        { "trailing lf",         S("a\n"),       "data: a\ndata: \n\n" },
        { "trailing crlf",       S("a\r\n"),     "data: a\ndata: \n\n" },
        { "trailing cr",         S("a\r"),       "data: a\ndata: \n\n" },
        { "lone lf",             S("\n"),        "data: \ndata: \n\n" },
        { "lf then cr is two",   S("a\n\rb"),    THREE },
        { "cr cr lf is two",     S("a\r\r\nb"),  THREE },
        { "two lfs",             S("a\n\nb"),    THREE },
        { "leading space kept",  S(" x"),        "data:  x\n\n" },
        { "colon in data",       S("k: v"),      "data: k: v\n\n" },
        { "utf-8 passes",        S("\xc3\xa9\n\xe2\x82\xac"),
                                 "data: \xc3\xa9\ndata: \xe2\x82\xac\n\n" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_event ev = { .retry = -1, .data = rows[i].data,
                                .data_len = rows[i].data_len };

        expect_encoding(rows[i].name, &ev, rows[i].want,
                        strlen(rows[i].want));
    }
}

Test(sse_event, crlf_splits_into_two_data_lines)
{
    struct sse_event ev = { .retry = -1, .data = S("first\r\nsecond") };

    expect_encoding("crlf", &ev, S("data: first\ndata: second\n\n"));
}

Test(sse_event, null_data_of_length_zero_is_one_empty_data_line)
{
    struct sse_event ev = { .retry = -1, .data = NULL, .data_len = 0 };

    expect_encoding("null data", &ev, S("data: \n\n"));
}

Test(sse_event, fields_come_in_order_event_id_retry_data)
{
    static const struct {
        const char *name;
        struct sse_event ev;
        const char *want;
    } rows[] = {
        { "all fields",
          { S("ping"), S("7"), 3000, S("x") },
          "event: ping\nid: 7\nretry: 3000\ndata: x\n\n" },
        { "event only",
          { S("ping"), NULL, 0, -1, S("x") },
          "event: ping\ndata: x\n\n" },
        { "id only",
          { NULL, 0, S("42"), -1, S("x") },
          "id: 42\ndata: x\n\n" },
        { "empty id resets the last id",
          { NULL, 0, "", 0, -1, S("x") },
          "id: \ndata: x\n\n" },
        { "retry zero",
          { NULL, 0, NULL, 0, 0, S("x") },
          "retry: 0\ndata: x\n\n" },
        { "retry at the maximum",
          { NULL, 0, NULL, 0, SSE_EVENT_RETRY_MAX, S("x") },
          "retry: 86400000\ndata: x\n\n" },
        { "retry with zeros inside",
          { NULL, 0, NULL, 0, 1000, S("") },
          "retry: 1000\ndata: \n\n" },
        { "all fields, two lines",
          { S("e"), S("i"), 5, S("a\nb") },
          "event: e\nid: i\nretry: 5\ndata: a\ndata: b\n\n" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++)
        expect_encoding(rows[i].name, &rows[i].ev, rows[i].want,
                        strlen(rows[i].want));
}

Test(sse_event, encode_appends_after_existing_bytes)
{
    struct sse_event ev = { .retry = -1, .data = S("x") };
    struct sse_buf b;

    sse_buf_init(&b, 0);
    cr_assert_eq(sse_buf_puts(&b, ": hi\n\n"), 0);
    cr_assert_eq(sse_event_encode(&ev, &b), 0);
    cr_assert_eq(sse_event_encode(&ev, &b), 0);
    cr_expect_eq(sse_buf_len(&b), 6 + 2 * 9);
    cr_expect_arr_eq(sse_buf_head(&b), ": hi\n\ndata: x\n\ndata: x\n\n", 24);
    sse_buf_free(&b);
}

Test(sse_event, encode_past_the_ceiling_leaves_out_unchanged)
{
    struct sse_event ev = { S("e"), S("1"), 10, S("a\nb") };
    size_t n = sse_event_encoded_len(&ev);
    size_t pre;

    for (pre = 0; pre <= 3; pre++) {
        struct sse_buf b;

        /* One byte short of room for the event. */
        sse_buf_init(&b, pre + n - 1);
        cr_assert_eq(sse_buf_append(&b, "abc", pre), 0);
        cr_expect_eq(sse_event_encode(&ev, &b), -1, "prefix %zu", pre);
        cr_expect_eq(sse_buf_len(&b), pre, "prefix %zu: length", pre);
        if (pre > 0)
            cr_expect_arr_eq(sse_buf_head(&b), "abc", pre, "prefix %zu",
                             pre);
        else
            cr_expect_null(b.data, "prefix 0: storage");
        sse_buf_free(&b);

        /* Exactly room for it. */
        sse_buf_init(&b, pre + n);
        cr_assert_eq(sse_buf_append(&b, "abc", pre), 0);
        cr_expect_eq(sse_event_encode(&ev, &b), 0, "prefix %zu: fits", pre);
        cr_expect_eq(sse_buf_len(&b), pre + n, "prefix %zu: fits", pre);
        sse_buf_free(&b);
    }
}

/* Encoding trusts checked data, but must still stop at data_len: a CR at
 * the very end must not look at the byte after it for an LF. */
Test(sse_event, encode_reads_no_byte_past_the_data)
{
    static const struct {
        const char *name;
        const char *data;
        size_t n;
        const char *want;
    } rows[] = {
        { "trailing cr",   S("a\r"),   "data: a\ndata: \n\n" },
        { "only cr",       S("\r"),    "data: \ndata: \n\n" },
        { "trailing lf",   S("a\n"),   "data: a\ndata: \n\n" },
        { "no break",      S("abc"),   "data: abc\n\n" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct sse_event ev = { .retry = -1 };
        struct guarded g;

        ev.data = guard_copy(&g, rows[i].data, rows[i].n);
        cr_assert_not_null(ev.data);
        ev.data_len = rows[i].n;
        expect_encoding(rows[i].name, &ev, rows[i].want,
                        strlen(rows[i].want));
        guard_free(&g);
    }
}

/* ------------------------------------------------------------------------
 * What a browser reads back
 * ------------------------------------------------------------------------ */

struct seen {
    char   type[256];   /* event type, "" if none */
    int    has_id;
    char   id[512];
    long   retry;       /* -1 if none */
    char   data[64];
    size_t data_len;
    size_t used;        /* bytes read up to and including the blank line */
};

/* A model of the WHATWG event-stream parser, for one event: lines end in
 * CRLF, LF or CR, "field: value" strips one space, data lines join with LF
 * and the last LF goes. Returns 0 once a blank line dispatches. */
static int
browser_read(const char *s, size_t n, struct seen *e)
{
    size_t i = 0, j, start, colon, vs;

    memset(e, 0, sizeof(*e));
    e->retry = -1;
    while (i < n) {
        start = i;
        while (i < n && s[i] != '\r' && s[i] != '\n')
            i++;
        if (i == n)
            return -1;  /* an unterminated line is never processed */
        j = i;
        i += (s[i] == '\r' && i + 1 < n && s[i + 1] == '\n') ? 2 : 1;
        if (j == start) {
            if (e->data_len > 0)
                e->data_len--;
            e->used = i;
            return 0;
        }
        for (colon = start; colon < j && s[colon] != ':'; colon++)
            continue;
        vs = colon < j ? colon + 1 : j;
        if (vs < j && s[vs] == ' ')
            vs++;
        if (colon - start == 4 && memcmp(s + start, "data", 4) == 0) {
            memcpy(e->data + e->data_len, s + vs, j - vs);
            e->data_len += j - vs;
            e->data[e->data_len++] = '\n';
        } else if (colon - start == 5 && memcmp(s + start, "event", 5) == 0) {
            memcpy(e->type, s + vs, j - vs);
            e->type[j - vs] = '\0';
        } else if (colon - start == 2 && memcmp(s + start, "id", 2) == 0) {
            e->has_id = 1;
            memcpy(e->id, s + vs, j - vs);
            e->id[j - vs] = '\0';
        } else if (colon - start == 5 && memcmp(s + start, "retry", 5) == 0) {
            e->retry = strtol(s + vs, NULL, 10);
        }
    }
    return -1;
}

/* data with every CRLF and CR turned into LF. */
static size_t
normalise(const char *d, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (d[i] == '\r') {
            if (i + 1 < n && d[i + 1] == '\n')
                i++;
            out[o++] = '\n';
        } else {
            out[o++] = d[i];
        }
    }
    return o;
}

/* Every string of up to 7 bytes over {a, space, CR, LF}, with and without
 * the other fields: the browser must read back the data with its breaks
 * made LF, and encoded_len must match what encode appends. */
Test(sse_event, browser_reads_back_every_short_message)
{
    static const char alpha[] = { 'a', ' ', '\r', '\n' };
    char data[8], norm[8], row[64];
    size_t len, k, fields, count = 0;
    unsigned long code, ncodes;

    for (len = 0; len <= 7; len++) {
        ncodes = 1UL << (2 * len);
        for (code = 0; code < ncodes; code++) {
            for (k = 0; k < len; k++)
                data[k] = alpha[(code >> (2 * k)) & 3];
            for (fields = 0; fields < 2; fields++) {
                struct sse_event ev = { .retry = -1, .data = data,
                                        .data_len = len };
                struct sse_buf b;
                struct seen e;
                size_t nlen = normalise(data, len, norm);

                if (fields) {
                    ev.event = " up";
                    ev.event_len = 3;
                    ev.id = "";
                    ev.id_len = 0;
                    ev.retry = 250;
                }
                snprintf(row, sizeof(row), "len %zu code %lu fields %zu",
                         len, code, fields);
                cr_assert_null(sse_event_check(&ev, 100), "row %s", row);
                sse_buf_init(&b, 0);
                cr_assert_eq(sse_event_encode(&ev, &b), 0, "row %s", row);
                cr_assert_eq(sse_buf_len(&b), sse_event_encoded_len(&ev),
                             "row %s: encoded_len", row);
                cr_assert_eq(browser_read(sse_buf_head(&b), sse_buf_len(&b),
                                          &e), 0, "row %s: no dispatch", row);
                cr_assert_eq(e.used, sse_buf_len(&b),
                             "row %s: bytes after the blank line", row);
                cr_assert_eq(e.data_len, nlen, "row %s: data length", row);
                if (nlen > 0)
                    cr_assert_arr_eq(e.data, norm, nlen, "row %s: data",
                                     row);
                if (fields) {
                    cr_assert_str_eq(e.type, " up", "row %s: event", row);
                    cr_assert(e.has_id, "row %s: id", row);
                    cr_assert_str_eq(e.id, "", "row %s: id", row);
                    cr_assert_eq(e.retry, 250, "row %s: retry", row);
                } else {
                    cr_assert_str_eq(e.type, "", "row %s: event", row);
                    cr_assert(!e.has_id, "row %s: id", row);
                    cr_assert_eq(e.retry, -1, "row %s: retry", row);
                }
                sse_buf_free(&b);
                count++;
            }
        }
    }
    cr_expect_eq(count, 2 * 21845);
}

/* ------------------------------------------------------------------------
 * Checks
 * ------------------------------------------------------------------------ */

/* Reasons go into 400 answers and log lines: short, lowercase, one line. */
static void
expect_reason(const char *row, const char *got, const char *want)
{
    if (want == NULL) {
        cr_expect_null(got, "row %s: refused with \"%s\"", row,
                       got ? got : "");
        return;
    }
    cr_expect_not_null(got, "row %s: accepted", row);
    if (got == NULL)
        return;
    cr_expect_str_eq(got, want, "row %s: reason \"%s\"", row, got);
    cr_expect(strchr(got, '\n') == NULL && islower((unsigned char)got[0]),
              "row %s: reason \"%s\" is not one lowercase line", row, got);
}

struct check_row {
    const char *name;
    const char *s;
    size_t n;
    const char *want;
};

static char long_name[SSE_EVENT_NAME_MAX + 1];
static char long_id[SSE_EVENT_ID_MAX + 1];

static void
fill_long(void)
{
    memset(long_name, 'n', sizeof(long_name));
    memset(long_id, 'i', sizeof(long_id));
}

/* Run f over rows, once in place and once with the input just before a
 * guard page, so reading past the input crashes. */
static void
run_checks(const struct check_row *rows, size_t nrows,
           const char *(*f)(const char *, size_t))
{
    size_t i;

    for (i = 0; i < nrows; i++) {
        struct guarded g;
        const char *p;

        expect_reason(rows[i].name, f(rows[i].s, rows[i].n), rows[i].want);
        p = guard_copy(&g, rows[i].s, rows[i].n);
        cr_assert_not_null(p, "row %s: guard", rows[i].name);
        expect_reason(rows[i].name, f(p, rows[i].n), rows[i].want);
        guard_free(&g);
    }
}

Test(sse_event, check_name_refuses_empty_long_breaking_and_bad_utf8)
{
    const struct check_row rows[] = {
        { "plain",            S("update"),     NULL },
        { "one byte",         S("x"),          NULL },
        { "utf-8",            S("\xc3\xa9t\xc3\xa9"), NULL },
        { "spaces",           S(" a b "),      NULL },
        { "at the maximum",   long_name, SSE_EVENT_NAME_MAX, NULL },
        { "empty",            S(""),           "event name is empty" },
        { "one past max",     long_name, SSE_EVENT_NAME_MAX + 1,
                              "event name is longer than 128 bytes" },
        { "lf",               S("a\nb"),       NAME_BREAK },
        { "cr",               S("a\rdata: x"), NAME_BREAK },
        { "nul",              S("a\0b"),       NAME_BREAK },
        { "trailing lf",      S("a\n"),        NAME_BREAK },
        { "lone continuation", S("a\x80"),     NAME_UTF8 },
        { "truncated at end", S("a\xe2\x82"),  NAME_UTF8 },
    };

    fill_long();
    run_checks(rows, NROWS(rows), sse_event_check_name);
}

Test(sse_event, check_id_allows_empty_and_refuses_breaking_bytes)
{
    const struct check_row rows[] = {
        { "number",           S("42"),         NULL },
        { "empty",            S(""),           NULL },
        { "utf-8",            S("\xe2\x82\xac"), NULL },
        { "at the maximum",   long_id, SSE_EVENT_ID_MAX, NULL },
        { "one past max",     long_id, SSE_EVENT_ID_MAX + 1,
                              "id is longer than 256 bytes" },
        { "lf",               S("1\n"),        "id contains CR, LF or NUL" },
        { "cr",               S("\r1"),        "id contains CR, LF or NUL" },
        { "nul",              S("1\0002"),     "id contains CR, LF or NUL" },
        { "latin-1",          S("\xe9"),       "id is not valid UTF-8" },
        { "truncated at end", S("1\xf0\x9f\x98"), "id is not valid UTF-8" },
    };

    fill_long();
    run_checks(rows, NROWS(rows), sse_event_check_id);
}

static const char *
check_data_10(const char *s, size_t n)
{
    return sse_event_check_data(s, n, 10);
}

Test(sse_event, check_data_refuses_long_binary_and_bad_utf8)
{
    const struct check_row rows[] = {
        { "empty",            S(""),           NULL },
        { "null, empty",      NULL, 0,         NULL },
        { "breaks are fine",  S("a\r\nb\rc\n"), NULL },
        { "at the limit",     S("0123456789"), NULL },
        { "one past limit",   S("0123456789a"),
                              "data is longer than the limit" },
        { "nul",              S("a\0b"),       "data contains a NUL byte" },
        { "nul at the end",   S("ab\0"),       "data contains a NUL byte" },
        { "overlong slash",   S("\xc0\xaf"),   "data is not valid UTF-8" },
        { "truncated at end", S("ab\xc3"),     "data is not valid UTF-8" },
    };

    run_checks(rows, NROWS(rows), check_data_10);
}

Test(sse_event, check_event_checks_every_field)
{
    static const struct {
        const char *name;
        struct sse_event ev;
        const char *want;
    } rows[] = {
        { "data only",        { NULL, 0, NULL, 0, -1, S("x") }, NULL },
        { "every field",      { S("e"), S("1"), 0, S("x") }, NULL },
        { "empty id",         { NULL, 0, "", 0, -1, S("x") }, NULL },
        { "null empty data",  { NULL, 0, NULL, 0, -1, NULL, 0 }, NULL },
        { "retry at max",     { NULL, 0, NULL, 0, SSE_EVENT_RETRY_MAX,
                                S("x") }, NULL },
        { "name injects",     { S("e\ndata: y"), NULL, 0, -1, S("x") },
                              "event name contains CR, LF or NUL" },
        { "empty name",       { "", 0, NULL, 0, -1, S("x") },
                              "event name is empty" },
        { "id injects",       { NULL, 0, S("1\r"), -1, S("x") },
                              "id contains CR, LF or NUL" },
        { "retry below -1",   { NULL, 0, NULL, 0, -2, S("x") },
                              "retry is out of range" },
        { "retry past max",   { NULL, 0, NULL, 0, SSE_EVENT_RETRY_MAX + 1,
                                S("x") }, "retry is out of range" },
        { "data too long",    { NULL, 0, NULL, 0, -1, S("0123456789ab") },
                              "data is longer than the limit" },
        { "binary data",      { NULL, 0, NULL, 0, -1, S("\0") },
                              "data contains a NUL byte" },
        { "data bad utf-8",   { NULL, 0, NULL, 0, -1, S("\xff") },
                              "data is not valid UTF-8" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++)
        expect_reason(rows[i].name, sse_event_check(&rows[i].ev, 10),
                      rows[i].want);
}

/* ------------------------------------------------------------------------
 * Retry
 * ------------------------------------------------------------------------ */

Test(sse_event, parse_retry_takes_digits_only_up_to_one_day)
{
    static const struct {
        const char *name;
        const char *s;
        size_t n;
        long want;
    } rows[] = {
        { "zero",             S("0"),          0 },
        { "typical",          S("3000"),       3000 },
        { "leading zeros",    S("0007"),       7 },
        { "the maximum",      S("86400000"),   SSE_EVENT_RETRY_MAX },
        { "many zeros",       S("000000000000000000000000000001"), 1 },
        { "one past max",     S("86400001"),   -1 },
        { "empty",            S(""),           -1 },
        { "minus",            S("-1"),         -1 },
        { "plus",             S("+1"),         -1 },
        { "leading space",    S(" 1"),         -1 },
        { "trailing space",   S("1 "),         -1 },
        { "trailing lf",      S("1\n"),        -1 },
        { "hex",              S("0x10"),       -1 },
        { "decimal point",    S("1.5"),        -1 },
        { "nul inside",       S("1\0002"),     -1 },
        { "long overflow",    S("99999999999999999999999"), -1 },
        { "wraps to small",   S("18446744073709551617"), -1 },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct guarded g;
        const char *p;

        cr_expect_eq(sse_event_parse_retry(rows[i].s, rows[i].n),
                     rows[i].want, "row %s", rows[i].name);
        p = guard_copy(&g, rows[i].s, rows[i].n);
        cr_assert_not_null(p);
        cr_expect_eq(sse_event_parse_retry(p, rows[i].n), rows[i].want,
                     "row %s (guarded)", rows[i].name);
        guard_free(&g);
    }
}

Test(sse_event, parse_retry_reads_only_n_bytes)
{
    cr_expect_eq(sse_event_parse_retry("12x", 2), 12);
    cr_expect_eq(sse_event_parse_retry("12", 1), 1);
    cr_expect_eq(sse_event_parse_retry(NULL, 0), -1);
}

/* ------------------------------------------------------------------------
 * UTF-8
 * ------------------------------------------------------------------------ */

Test(sse_event, utf8_rejects_overlongs_surrogates_and_truncation)
{
    static const struct {
        const char *name;
        const char *s;
        size_t n;
        int want;
    } rows[] = {
        { "empty",                S(""),                   1 },
        { "ascii",                S("hello"),              1 },
        { "nul is valid utf-8",   S("\0"),                 1 },
        { "U+0080",               S("\xc2\x80"),           1 },
        { "U+07FF",               S("\xdf\xbf"),           1 },
        { "U+0800",               S("\xe0\xa0\x80"),       1 },
        { "U+D7FF",               S("\xed\x9f\xbf"),       1 },
        { "U+E000",               S("\xee\x80\x80"),       1 },
        { "U+FFFF",               S("\xef\xbf\xbf"),       1 },
        { "U+10000",              S("\xf0\x90\x80\x80"),   1 },
        { "U+10FFFF",             S("\xf4\x8f\xbf\xbf"),   1 },
        { "bom",                  S("\xef\xbb\xbf"),       1 },
        { "mixed",                S("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z"),
                                  1 },
        { "lone continuation",    S("\x80"),               0 },
        { "c0 overlong",          S("\xc0\x80"),           0 },
        { "c1 overlong",          S("\xc1\xbf"),           0 },
        { "e0 overlong",          S("\xe0\x9f\xbf"),       0 },
        { "f0 overlong",          S("\xf0\x8f\xbf\xbf"),   0 },
        { "surrogate D800",       S("\xed\xa0\x80"),       0 },
        { "surrogate DFFF",       S("\xed\xbf\xbf"),       0 },
        { "surrogate pair",       S("\xed\xa0\xbd\xed\xb8\x80"), 0 },
        { "U+110000",             S("\xf4\x90\x80\x80"),   0 },
        { "f5 lead",              S("\xf5\x80\x80\x80"),   0 },
        { "ff",                   S("\xff"),               0 },
        { "fe",                   S("\xfe"),               0 },
        { "2-byte cut to 1",      S("\xc3"),               0 },
        { "3-byte cut to 2",      S("\xe2\x82"),           0 },
        { "4-byte cut to 3",      S("\xf0\x9f\x98"),       0 },
        { "4-byte cut to 1",      S("a\xf0"),              0 },
        { "ascii in sequence",    S("\xe2\x41\xac"),       0 },
        { "continuation too many", S("\xc3\xa9\xa9"),      0 },
        { "5-byte form",          S("\xf8\x88\x80\x80\x80"), 0 },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        struct guarded g;
        const char *p;

        cr_expect_eq(sse_utf8_valid(rows[i].s, rows[i].n), rows[i].want,
                     "row %s", rows[i].name);
        p = guard_copy(&g, rows[i].s, rows[i].n);
        cr_assert_not_null(p);
        cr_expect_eq(sse_utf8_valid(p, rows[i].n), rows[i].want,
                     "row %s (guarded)", rows[i].name);
        guard_free(&g);
    }
}

/* Encode cp the plain way, without asking whether it is allowed. */
static size_t
put_utf8(unsigned long cp, unsigned char *out)
{
    if (cp < 0x80) {
        out[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (unsigned char)(0xc0 | cp >> 6);
        out[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (unsigned char)(0xe0 | cp >> 12);
        out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (unsigned char)(0xf0 | cp >> 18);
    out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

Test(sse_event, utf8_accepts_every_scalar_value_and_no_surrogate)
{
    unsigned char buf[4];
    unsigned long cp;
    size_t n;

    for (cp = 0; cp <= 0x10ffff; cp++) {
        int want = !(cp >= 0xd800 && cp <= 0xdfff);

        n = put_utf8(cp, buf);
        cr_assert_eq(sse_utf8_valid((const char *)buf, n), want,
                     "U+%04lX", cp);
    }
}

/* A second, independent definition: decode by bit patterns, then ask for
 * the shortest form, no surrogate and nothing past U+10FFFF. */
static int
ref_valid(const unsigned char *s, size_t n)
{
    size_t i = 0, len, k;
    unsigned long cp;
    static const unsigned long min[] = { 0, 0, 0x80, 0x800, 0x10000 };

    while (i < n) {
        if (s[i] < 0x80)
            len = 1, cp = s[i];
        else if ((s[i] & 0xe0) == 0xc0)
            len = 2, cp = s[i] & 0x1f;
        else if ((s[i] & 0xf0) == 0xe0)
            len = 3, cp = s[i] & 0x0f;
        else if ((s[i] & 0xf8) == 0xf0)
            len = 4, cp = s[i] & 0x07;
        else
            return 0;
        if (n - i < len)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if (cp < min[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}

Test(sse_event, utf8_agrees_with_a_reference_on_every_short_input)
{
    unsigned char s[4];
    unsigned long v;
    static const unsigned char tails[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f,
                                           0x90, 0x9f, 0xa0, 0xbf, 0xc0,
                                           0xff };
    size_t a, b;

    /* Every input of 1, 2 and 3 bytes. */
    for (v = 0; v < 256; v++) {
        s[0] = (unsigned char)v;
        cr_assert_eq(sse_utf8_valid((const char *)s, 1), ref_valid(s, 1),
                     "%02lx", v);
    }
    for (v = 0; v < 65536; v++) {
        s[0] = (unsigned char)(v >> 8);
        s[1] = (unsigned char)v;
        cr_assert_eq(sse_utf8_valid((const char *)s, 2), ref_valid(s, 2),
                     "%04lx", v);
    }
    for (v = 0; v < (1UL << 24); v++) {
        s[0] = (unsigned char)(v >> 16);
        s[1] = (unsigned char)(v >> 8);
        s[2] = (unsigned char)v;
        if (sse_utf8_valid((const char *)s, 3) != ref_valid(s, 3))
            cr_assert_fail("%06lx", v);
    }
    /* 4 bytes: every first two bytes, the edges for the last two. */
    for (v = 0; v < 65536; v++) {
        s[0] = (unsigned char)(v >> 8);
        s[1] = (unsigned char)v;
        for (a = 0; a < sizeof(tails); a++) {
            for (b = 0; b < sizeof(tails); b++) {
                s[2] = tails[a];
                s[3] = tails[b];
                if (sse_utf8_valid((const char *)s, 4) != ref_valid(s, 4))
                    cr_assert_fail("%04lx%02x%02x", v, s[2], s[3]);
            }
        }
    }
}

Test(sse_event, whole_accepts_exactly_one_encoded_event)
{
    static const struct {
        const char *name;
        const char *s;
        int         want;
    } rows[] = {
        { "one data line", "data: x\n\n", 1 },
        { "all fields", "event: e\nid: 1\nretry: 5\ndata: a\ndata: b\n\n", 1 },
        { "empty data", "data: \n\n", 1 },
        { "no blank line", "data: x\n", 0 },
        { "two events", "data: x\n\ndata: y\n\n", 0 },
        { "extra blank line", "data: x\n\n\n", 0 },
        { "bare byte", "x", 0 },
        { "empty", "", 0 },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct guarded g;
        size_t n = strlen(rows[i].s);
        const char *p = guard_copy(&g, rows[i].s, n);

        cr_expect_eq(sse_event_whole(p, n), rows[i].want, "row %s",
                     rows[i].name);
        guard_free(&g);
    }
}

Test(sse_event, encoded_events_read_back_as_json)
{
    static const struct {
        const char      *name;
        struct sse_event ev;
        const char      *json;
    } rows[] = {
        { "plain", { NULL, 0, "17", 2, -1, "hi", 2 },
          "{\"id\":\"17\",\"event\":\"message\",\"data\":\"hi\"}" },
        { "named, two lines", { "unread", 6, "a-7", 3, 5, "1\r\n2", 4 },
          "{\"id\":\"a-7\",\"event\":\"unread\",\"data\":\"1\\n2\"}" },
        { "quotes and controls", { NULL, 0, "x", 1, -1, "\"q\"\t\\\x01", 6 },
          "{\"id\":\"x\",\"event\":\"message\","
          "\"data\":\"\\\"q\\\"\\t\\\\\\u0001\"}" },
        { "no id, empty data", { "e", 1, NULL, 0, -1, "", 0 },
          "{\"event\":\"e\",\"data\":\"\"}" },
        { "UTF-8 kept", { NULL, 0, "1", 1, -1, "gr\xc3\xbc\xc3\x9f" "e", 7 },
          "{\"id\":\"1\",\"event\":\"message\",\"data\":\"gr\xc3\xbc\xc3\x9f"
          "e\"}" },
    };

    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct sse_buf enc, json;
        const char *id;
        size_t id_len;

        sse_buf_init(&enc, 0);
        sse_buf_init(&json, 0);
        cr_assert_eq(sse_event_encode(&rows[i].ev, &enc), 0);
        cr_assert_eq(sse_event_to_json(sse_buf_head(&enc), sse_buf_len(&enc),
                                       &json, &id, &id_len), 0);
        cr_expect_eq(sse_buf_len(&json), strlen(rows[i].json), "row %s: %.*s",
                     rows[i].name, (int)sse_buf_len(&json),
                     sse_buf_head(&json));
        cr_expect(memcmp(sse_buf_head(&json), rows[i].json,
                         strlen(rows[i].json)) == 0, "row %s: %.*s",
                  rows[i].name, (int)sse_buf_len(&json), sse_buf_head(&json));
        cr_expect_eq(id_len, rows[i].ev.id_len, "row %s: id", rows[i].name);
        sse_buf_free(&enc);
        sse_buf_free(&json);
    }
}
