/*
 * Unit tests for sse_parse: the WHATWG examples, every line end, the BOM,
 * each field's rules, and the same result however the bytes are split.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "guard.h"
#include "sse_buf.h"
#include "sse_parse.h"

#define NROWS(a) (sizeof(a) / sizeof((a)[0]))
#define S(lit) lit, sizeof(lit) - 1    /* a literal as pointer and length */

/* What the callbacks saw, as text: "type|data|id;" per event (bytes below
 * 0x20 other than LF as \xHH), "#text;" per comment. */
struct seen {
    struct sse_buf log;
};

static void
put_escaped(struct sse_buf *b, const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];

        if (c < 0x20 && c != '\n') {
            snprintf(esc, sizeof(esc), "\\x%02x", c);
            sse_buf_puts(b, esc);
        } else {
            sse_buf_append(b, s + i, 1);
        }
    }
}

static void
on_event(void *arg, const struct sse_parse_event *ev)
{
    struct seen *s = arg;

    put_escaped(&s->log, ev->type, ev->type_len);
    sse_buf_puts(&s->log, "|");
    put_escaped(&s->log, ev->data, ev->data_len);
    sse_buf_puts(&s->log, "|");
    put_escaped(&s->log, ev->id, ev->id_len);
    sse_buf_puts(&s->log, ";");
}

static void
on_comment(void *arg, const char *text, size_t len)
{
    struct seen *s = arg;

    sse_buf_puts(&s->log, "#");
    put_escaped(&s->log, text, len);
    sse_buf_puts(&s->log, ";");
}

/* Parse in[0..n) fed in the pieces that end at cuts[0..ncuts) (ascending),
 * each piece copied just before a guard page. Returns the log as a
 * malloc'd string, or NULL if a feed failed. *retry gets the parser's
 * retry value when retry is not NULL. */
static char *
parse_cuts(const char *in, size_t n, const size_t *cuts, size_t ncuts,
           long *retry)
{
    struct sse_parse p;
    struct seen s;
    size_t from = 0, k;
    char *out;
    int failed = 0;

    sse_buf_init(&s.log, 0);
    sse_parse_init(&p, 0, on_event, on_comment, &s);
    for (k = 0; k <= ncuts && !failed; k++) {
        size_t to = k < ncuts ? cuts[k] : n;
        struct guarded g;
        char *piece = guard_copy(&g, in + from, to - from);

        cr_assert_not_null(piece);
        if (sse_parse_feed(&p, piece, to - from) != 0)
            failed = 1;
        guard_free(&g);
        from = to;
    }
    if (retry != NULL)
        *retry = p.retry;
    sse_parse_free(&p);
    out = failed ? NULL : strndup(sse_buf_head(&s.log) ?
                                  sse_buf_head(&s.log) : "",
                                  sse_buf_len(&s.log));
    sse_buf_free(&s.log);
    return out;
}

static char *
parse_whole(const char *in, size_t n)
{
    return parse_cuts(in, n, NULL, 0, NULL);
}

/* Parse in whole, byte by byte, and in every split into two and three
 * pieces; every way must give want. */
static void
expect_every_split(const char *row, const char *in, size_t n,
                   const char *want)
{
    size_t *cuts = calloc(n + 1, sizeof(*cuts));
    size_t i, j;
    char *got;

    cr_assert_not_null(cuts);
    got = parse_whole(in, n);
    cr_assert_not_null(got, "row %s: whole input failed", row);
    cr_expect_str_eq(got, want, "row %s: whole: got \"%s\"", row, got);
    free(got);

    for (i = 0; i < n; i++)
        cuts[i] = i + 1;
    got = parse_cuts(in, n, cuts, n > 0 ? n - 1 : 0, NULL);
    cr_assert_not_null(got);
    cr_expect_str_eq(got, want, "row %s: byte by byte: got \"%s\"", row, got);
    free(got);

    for (i = 0; i <= n; i++) {
        for (j = i; j <= n; j++) {
            size_t two[2] = { i, j };

            got = parse_cuts(in, n, two, 2, NULL);
            cr_assert_not_null(got);
            cr_expect_str_eq(got, want, "row %s: cut at %zu and %zu: got "
                             "\"%s\"", row, i, j, got);
            free(got);
        }
    }
    free(cuts);
}

/* ------------------------------------------------------------------------
 * The examples of the WHATWG specification, section 9.2.5
 * ------------------------------------------------------------------------ */

Test(sse_parse, spec_example_stock_ticker_joins_data_lines)
{
    expect_every_split("ticker",
                       S("data: YHOO\ndata: +2\ndata: 10\n\n"),
                       "message|YHOO\n+2\n10|;");
}

Test(sse_parse, spec_example_ids_and_a_bare_id_field_resetting_it)
{
    expect_every_split("ids",
                       S(": test stream\n\n"
                         "data: first event\nid: 1\n\n"
                         "data:second event\nid\n\n"
                         "data:  third event\n\n"),
                       "# test stream;"
                       "message|first event|1;"
                       "message|second event|;"
                       "message| third event|;");
}

Test(sse_parse, spec_example_empty_data_and_an_unfinished_event)
{
    /* Two events, "" and "\n"; the last "data:" has no blank line after
     * it and is discarded at the end of the stream. */
    expect_every_split("empty", S("data\n\ndata\ndata\n\ndata:"),
                       "message||;message|\n|;");
}

Test(sse_parse, spec_example_one_space_after_the_colon_is_optional)
{
    expect_every_split("space", S("data:test\n\ndata: test\n\n"),
                       "message|test|;message|test|;");
}

/* ------------------------------------------------------------------------
 * Line ends
 * ------------------------------------------------------------------------ */

Test(sse_parse, every_line_end_and_every_mix_of_them)
{
    static const struct {
        const char *name;
        const char *in;
        size_t in_len;
        const char *want;
    } rows[] = {
        { "lf",             S("data: a\ndata: b\n\n"),     "message|a\nb|;" },
        { "crlf",           S("data: a\r\ndata: b\r\n\r\n"), "message|a\nb|;" },
        { "cr",             S("data: a\rdata: b\r\r"),     "message|a\nb|;" },
        { "mixed",          S("data: a\r\ndata: b\rdata: c\n\r\n"),
                            "message|a\nb\nc|;" },
        { "lf cr is two",   S("data: a\n\rdata: b\n\n"),   "message|a|;"
                                                           "message|b|;" },
        { "cr cr is two",   S("data: a\r\rdata: b\r\r"),   "message|a|;"
                                                           "message|b|;" },
        { "cr cr lf",       S("data: a\r\r\ndata: b\n\n"), "message|a|;"
                                                           "message|b|;" },
        { "crlf lf",        S("data: a\r\n\ndata: b\n\n"), "message|a|;"
                                                           "message|b|;" },
        { "lf in the value is a line end",
                            S("data: a\nb\n\n"),           "message|a|;" },
        { "no line end: discarded", S("data: a\n\ndata: b"), "message|a|;" },
        { "no blank line: discarded", S("data: a\n"),       "" },
        { "blank lines alone", S("\n\r\n\r\n\n"),           "" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++)
        expect_every_split(rows[i].name, rows[i].in, rows[i].in_len,
                           rows[i].want);
}

Test(sse_parse, cr_then_lf_at_the_start_of_the_next_read_is_one_line_end)
{
    /* Were the LF taken as a second line end, the blank line would
     * dispatch "a" alone and "b" would follow as a second event. */
    size_t cut[1] = { 8 };
    static const char in[] = "data: a\r\ndata: b\r\n\r\n";
    char *got = parse_cuts(in, sizeof(in) - 1, cut, 1, NULL);

    cr_assert_not_null(got);
    cr_expect_str_eq(got, "message|a\nb|;", "got \"%s\"", got);
    free(got);
}

Test(sse_parse, cr_at_the_end_of_a_read_ends_the_line_at_once)
{
    /* The event is dispatched by the second CR, without waiting for more
     * bytes to see whether an LF follows. */
    struct sse_parse p;
    struct seen s;

    sse_buf_init(&s.log, 0);
    sse_parse_init(&p, 0, on_event, NULL, &s);
    cr_assert_eq(sse_parse_feed(&p, S("data: x\r\r")), 0);
    cr_assert_eq(sse_buf_len(&s.log), strlen("message|x|;"));
    cr_expect_arr_eq(sse_buf_head(&s.log), "message|x|;", 11);
    /* The LF that follows is part of the second CR's line end, not a new
     * blank line: nothing more is dispatched, and the next event is
     * whole. */
    cr_assert_eq(sse_parse_feed(&p, S("\ndata: y\n\n")), 0);
    cr_expect_eq(sse_buf_len(&s.log), strlen("message|x|;message|y|;"));
    sse_parse_free(&p);
    sse_buf_free(&s.log);
}

/* ------------------------------------------------------------------------
 * The byte order mark
 * ------------------------------------------------------------------------ */

Test(sse_parse, a_bom_at_the_start_is_dropped_once)
{
    static const struct {
        const char *name;
        const char *in;
        size_t in_len;
        const char *want;
    } rows[] = {
        { "bom",            S("\xef\xbb\xbf" "data: x\n\n"), "message|x|;" },
        { "two boms: the second is text",
                            S("\xef\xbb\xbf\xef\xbb\xbf" "data: x\n\n"), "" },
        { "half a bom is text",
                            S("\xef\xbb" "data: x\n\ndata: y\n\n"),
                            "message|y|;" },
        { "bom byte then other text",
                            S("\xef" ": c\n\ndata: y\n\n"), "message|y|;" },
        { "bom alone",      S("\xef\xbb\xbf"), "" },
        { "bom then comment", S("\xef\xbb\xbf: ok\n\n"), "# ok;" },
        { "bom later is data",
                            S("data: \xef\xbb\xbfx\n\n"),
                            "message|\xef\xbb\xbfx|;" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++)
        expect_every_split(rows[i].name, rows[i].in, rows[i].in_len,
                           rows[i].want);
}

/* ------------------------------------------------------------------------
 * Fields
 * ------------------------------------------------------------------------ */

Test(sse_parse, fields_follow_the_interpretation_rules)
{
    static const struct {
        const char *name;
        const char *in;
        size_t in_len;
        const char *want;
    } rows[] = {
        { "comment",        S(": ok\n\n"),                  "# ok;" },
        { "empty comment",  S(":\n"),                       "#;" },
        { "event type",     S("event: tick\ndata: 1\n\n"),  "tick|1|;" },
        { "type is reset after dispatch",
                            S("event: tick\ndata: 1\n\ndata: 2\n\n"),
                            "tick|1|;message|2|;" },
        { "type without data is dropped",
                            S("event: tick\n\ndata: 2\n\n"), "message|2|;" },
        { "empty type is message",
                            S("event:\ndata: 1\n\n"),       "message|1|;" },
        { "last type wins", S("event: a\nevent: b\ndata: 1\n\n"), "b|1|;" },
        { "id sticks to later events",
                            S("id: 7\ndata: a\n\ndata: b\n\n"),
                            "message|a|7;message|b|7;" },
        { "id without data still sets it",
                            S("id: 7\n\ndata: b\n\n"),      "message|b|7;" },
        { "id with nul is ignored",
                            S("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\n"),
                            "message|a|1;message|b|1;" },
        { "empty id clears", S("id: 1\ndata: a\n\nid:\ndata: b\n\n"),
                            "message|a|1;message|b|;" },
        { "one space removed", S("data:  two\n\n"),         "message| two|;" },
        { "tab kept",       S("data:\tx\n\n"),            "message|\\x09x|;" },
        { "colon in value", S("data: a:b\n\n"),             "message|a:b|;" },
        { "no colon: empty value", S("data\n\n"),           "message||;" },
        { "field names are case-sensitive",
                            S("Data: x\nDATA: y\n\n"),      "" },
        { "space before colon makes another field",
                            S("data : x\n\n"),              "" },
        { "unknown fields are ignored",
                            S("foo: bar\ndata: x\nbaz\n\n"), "message|x|;" },
        { "nul in data passes", S("data: a\0b\n\n"),
                            "message|a\\x00b|;" },
        { "trailing empty data line",
                            S("data: a\ndata:\n\n"),        "message|a\n|;" },
        { "comment inside an event",
                            S("data: a\n: note\ndata: b\n\n"),
                            "# note;message|a\nb|;" },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++)
        expect_every_split(rows[i].name, rows[i].in, rows[i].in_len,
                           rows[i].want);
}

Test(sse_parse, retry_takes_ascii_digits_only)
{
    static const struct {
        const char *in;
        long want;
    } rows[] = {
        { "retry: 1000\n",              1000 },
        { "retry:0\n",                  0 },
        { "retry: 250\nretry: 12x\n",   250 },
        { "retry: 250\nretry:\n",       250 },
        { "retry: 250\nretry: -1\n",    250 },
        { "retry: 250\nretry: 5 \n",    250 },
        { "retry: 250\nretry:  5\n",    250 },
        { "retry: 99999999999999999999999\n", LONG_MAX },
        { "retry: 12",                  -1 },   /* unterminated */
        { "data: x\n\n",                -1 },
    };
    size_t i;

    for (i = 0; i < NROWS(rows); i++) {
        long retry = -2;
        char *got = parse_cuts(rows[i].in, strlen(rows[i].in), NULL, 0,
                               &retry);

        cr_assert_not_null(got);
        cr_expect_eq(retry, rows[i].want, "row %zu \"%s\": retry %ld",
                     i, rows[i].in, retry);
        free(got);
    }
}

/* ------------------------------------------------------------------------
 * Ceilings and storage
 * ------------------------------------------------------------------------ */

Test(sse_parse, a_line_over_the_ceiling_fails_for_good)
{
    struct sse_parse p;
    struct seen s;

    sse_buf_init(&s.log, 0);
    sse_parse_init(&p, 16, on_event, NULL, &s);
    cr_assert_eq(sse_parse_feed(&p, S("data: short\n\n")), 0);
    cr_assert_eq(sse_parse_feed(&p, S("data: 0123456789")), 0);
    cr_expect_eq(sse_parse_feed(&p, S("abcdef")), -1);
    cr_expect_eq(sse_parse_feed(&p, S("\n\n")), -1, "stays failed");
    cr_expect_eq(sse_buf_len(&s.log), strlen("message|short|;"));
    sse_parse_free(&p);
    sse_buf_free(&s.log);
}

Test(sse_parse, data_over_the_ceiling_fails)
{
    struct sse_parse p;
    struct seen s;

    sse_buf_init(&s.log, 0);
    sse_parse_init(&p, 16, on_event, NULL, &s);
    cr_assert_eq(sse_parse_feed(&p, S("data: 12345678\n")), 0);
    cr_expect_eq(sse_parse_feed(&p, S("data: 12345678\n")), -1);
    sse_parse_free(&p);
    sse_buf_free(&s.log);
}

Test(sse_parse, an_idle_parser_holds_no_storage)
{
    struct sse_parse p;
    struct seen s;

    sse_buf_init(&s.log, 0);
    sse_parse_init(&p, 0, on_event, NULL, &s);
    cr_assert_eq(sse_parse_feed(&p, S("event: e\nid: 1\ndata: x\n\n"
                                     "data: partial")), 0);
    cr_expect_not_null(p.line.data, "an unterminated line is kept");
    cr_assert_eq(sse_parse_feed(&p, S(" line\n\n")), 0);
    cr_expect_null(p.line.data);
    cr_expect_null(p.data.data);
    cr_expect_null(p.type.data);
    cr_expect_eq(sse_buf_len(&p.id), 1, "the last event ID stays");
    sse_parse_free(&p);
    sse_buf_free(&s.log);
}

Test(sse_parse, a_parser_can_be_set_up_again_after_free)
{
    char *got;

    /* free discards an unfinished event; a new stream starts clean, BOM
     * included. */
    got = parse_whole(S("data: a"));
    cr_assert_not_null(got);
    cr_expect_str_eq(got, "");
    free(got);
    got = parse_whole(S("\xef\xbb\xbf" "data: b\n\n"));
    cr_assert_not_null(got);
    cr_expect_str_eq(got, "message|b|;");
    free(got);
}
