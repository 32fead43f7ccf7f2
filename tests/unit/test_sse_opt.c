/*
 * Unit tests for sse_opt: argv forms, the environment fallback, every error
 * message, numbers at and past their range, and the usage listing. Strings
 * the parser reads are placed just before a guard page.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guard.h"
#include "sse_opt.h"

static const struct sse_opt opts[] = {
    { "event", 'e', SSE_OPT_STR, "SSE_EVENT", 0, 0, "NAME", "event name" },
    { "retry", 'r', SSE_OPT_NUM, "SSE_RETRY", 0, 86400000, "MS",
      "reconnection time" },
    { "all", 'a', SSE_OPT_FLAG, "SSE_ALL", 0, 0, NULL, "every stream" },
    { "close", 'c', SSE_OPT_FLAG, NULL, 0, 0, NULL, "end streams after" },
    { "heartbeat", 0, SSE_OPT_NUM, "SSE_HEARTBEAT", 1, 3600, "SEC",
      "seconds between heartbeats" },
    { "offset", 'o', SSE_OPT_NUM, NULL, -10, 10, "N", "a signed number" },
    { NULL, 'v', SSE_OPT_FLAG, NULL, 0, 0, NULL, "verbose" },
};

#define NOPTS (sizeof opts / sizeof opts[0])
#define MAXARGS 8

/* The fake environment: "NAME=value" strings, NULL-terminated. */
static const char *const *fake_env;

static const char *
fake_getenv(const char *name)
{
    size_t len = strlen(name);

    for (const char *const *e = fake_env; e != NULL && *e != NULL; e++)
        if (strncmp(*e, name, len) == 0 && (*e)[len] == '=')
            return *e + len + 1;
    return NULL;
}

/* Render vals as "name=value" words in table order, flags as bare names. */
static void
dump(const struct sse_opt_val *vals, char *out, size_t len)
{
    size_t used = 0;

    out[0] = '\0';
    for (size_t i = 0; i < NOPTS; i++) {
        char name[2] = { opts[i].letter, '\0' };
        const char *n = opts[i].name ? opts[i].name : name;
        int k;

        if (!vals[i].set)
            continue;
        if (opts[i].type == SSE_OPT_FLAG)
            k = snprintf(out + used, len - used, "%s%s", used ? " " : "", n);
        else if (opts[i].type == SSE_OPT_STR)
            k = snprintf(out + used, len - used, "%s%s=%s", used ? " " : "",
                         n, vals[i].str);
        else
            k = snprintf(out + used, len - used, "%s%s=%lld",
                         used ? " " : "", n, vals[i].num);
        cr_assert(k > 0 && (size_t)k < len - used, "dump overflow");
        used += (size_t)k;
    }
}

struct parse_case {
    const char *row;
    const char *argv[MAXARGS];  /* after argv[0]; NULL-terminated */
    const char *env[4];
    int         want_rc;
    const char *want;           /* dump of vals, or the error message */
};

static const struct parse_case parse_cases[] = {
    /* forms */
    { "no arguments", { NULL }, { NULL }, 1, "" },
    { "long with a separate value", { "--event", "tick", "k", NULL },
      { NULL }, 3, "event=tick" },
    { "long with equals", { "--event=tick", "k", NULL }, { NULL }, 2,
      "event=tick" },
    { "long with equals and an empty value", { "--event=", NULL }, { NULL },
      2, "event=" },
    { "value containing equals", { "--event=a=b", NULL }, { NULL }, 2,
      "event=a=b" },
    { "short with a separate value", { "-e", "tick", NULL }, { NULL }, 3,
      "event=tick" },
    { "short with an attached value", { "-etick", NULL }, { NULL }, 2,
      "event=tick" },
    { "long flag", { "--all", NULL }, { NULL }, 2, "all" },
    { "short flag", { "-a", NULL }, { NULL }, 2, "all" },
    { "bundled flags", { "-ac", NULL }, { NULL }, 2, "all close" },
    { "bundled flags then an attached value", { "-acetick", NULL }, { NULL },
      2, "event=tick all close" },
    { "bundled flags then a separate value", { "-ace", "tick", NULL },
      { NULL }, 3, "event=tick all close" },
    { "short-only flag", { "-v", NULL }, { NULL }, 2, "v" },
    { "number", { "--retry", "3000", NULL }, { NULL }, 3, "retry=3000" },
    { "every kind at once",
      { "-a", "--retry=5", "-e", "x", "--heartbeat", "30", "key", NULL },
      { NULL }, 7, "event=x retry=5 all heartbeat=30" },
    /* where options end */
    { "double dash ends options and is skipped", { "--", "--all", NULL },
      { NULL }, 2, "" },
    { "double dash after options", { "-a", "--", "-c", NULL }, { NULL }, 3,
      "all" },
    { "lone dash is an operand", { "-", "--all", NULL }, { NULL }, 1, "" },
    { "first operand ends options", { "key", "--all", NULL }, { NULL }, 1,
      "" },
    { "operands that look like options after a key",
      { "-e", "t", "key", "-5", "degrees", NULL }, { NULL }, 3, "event=t" },
    { "value may start with a dash", { "--event", "-5", "x", NULL },
      { NULL }, 3, "event=-5" },
    { "value may be a double dash", { "-e", "--", NULL }, { NULL }, 3,
      "event=--" },
    /* repeats and ranges */
    { "last occurrence wins", { "--retry", "1", "-r", "2", NULL }, { NULL },
      5, "retry=2" },
    { "last string wins", { "-ea", "--event=b", NULL }, { NULL }, 3,
      "event=b" },
    { "number at its minimum", { "--retry=0", NULL }, { NULL }, 2,
      "retry=0" },
    { "number at its maximum", { "--retry=86400000", NULL }, { NULL }, 2,
      "retry=86400000" },
    { "negative number where allowed", { "--offset", "-10", NULL }, { NULL },
      3, "offset=-10" },
    { "negative number with a short option", { "-o-3", NULL }, { NULL }, 2,
      "offset=-3" },
    /* errors */
    { "unknown long option", { "--foo", NULL }, { NULL }, -1,
      "unknown option '--foo'" },
    { "unknown long option with a value", { "--foo=bar", NULL }, { NULL }, -1,
      "unknown option '--foo'" },
    { "long option by prefix", { "--ev", "x", NULL }, { NULL }, -1,
      "unknown option '--ev'" },
    { "unknown short option", { "-x", NULL }, { NULL }, -1,
      "unknown option '-x'" },
    { "unknown short option in a bundle", { "-ax", NULL }, { NULL }, -1,
      "unknown option '-x'" },
    { "flag given a value", { "--all=1", NULL }, { NULL }, -1,
      "option '--all' takes no value" },
    { "flag given an empty value", { "--all=", NULL }, { NULL }, -1,
      "option '--all' takes no value" },
    { "long option missing its value", { "--event", NULL }, { NULL }, -1,
      "option '--event' needs a value" },
    { "short option missing its value", { "-ae", NULL }, { NULL }, -1,
      "option '-e' needs a value" },
    { "not a number", { "--retry", "x", NULL }, { NULL }, -1,
      "option '--retry': 'x' is not a number from 0 to 86400000" },
    { "number with trailing junk", { "--retry=99x", NULL }, { NULL }, -1,
      "option '--retry': '99x' is not a number from 0 to 86400000" },
    { "number past its maximum", { "-r", "86400001", NULL }, { NULL }, -1,
      "option '-r': '86400001' is not a number from 0 to 86400000" },
    { "number below its minimum", { "--heartbeat", "0", NULL }, { NULL }, -1,
      "option '--heartbeat': '0' is not a number from 1 to 3600" },
    { "negative number where not allowed", { "--retry=-1", NULL }, { NULL },
      -1, "option '--retry': '-1' is not a number from 0 to 86400000" },
    { "empty number", { "--retry=", NULL }, { NULL }, -1,
      "option '--retry': '' is not a number from 0 to 86400000" },
    { "error after good options", { "-a", "--retry=5", "--nope", NULL },
      { NULL }, -1, "unknown option '--nope'" },
    /* environment */
    { "env gives a string", { NULL }, { "SSE_EVENT=news", NULL }, 1,
      "event=news" },
    { "env gives a number", { NULL }, { "SSE_RETRY=100", NULL }, 1,
      "retry=100" },
    { "argv overrides env", { "--event", "x", NULL },
      { "SSE_EVENT=news", NULL }, 3, "event=x" },
    { "bad env ignored when argv has the option",
      { "--heartbeat", "5", NULL }, { "SSE_HEARTBEAT=abc", NULL }, 3,
      "heartbeat=5" },
    { "bad env names the variable", { NULL }, { "SSE_HEARTBEAT=abc", NULL },
      -1, "SSE_HEARTBEAT: 'abc' is not a number from 1 to 3600" },
    { "empty env string ignored", { NULL }, { "SSE_EVENT=", NULL }, 1, "" },
    { "empty env number ignored", { NULL }, { "SSE_HEARTBEAT=", NULL }, 1,
      "" },
    { "env flag 1 sets", { NULL }, { "SSE_ALL=1", NULL }, 1, "all" },
    { "env flag yes sets", { NULL }, { "SSE_ALL=yes", NULL }, 1, "all" },
    { "env flag 0 does not set", { NULL }, { "SSE_ALL=0", NULL }, 1, "" },
    { "env flag empty does not set", { NULL }, { "SSE_ALL=", NULL }, 1, "" },
    { "env applies past a double dash", { "--", "--event", "x", NULL },
      { "SSE_EVENT=news", NULL }, 2, "event=news" },
    { "env and argv together", { "-a", NULL },
      { "SSE_EVENT=n", "SSE_HEARTBEAT=60", NULL }, 2,
      "event=n all heartbeat=60" },
};

static void
run_case(const struct parse_case *c)
{
    struct guarded g[MAXARGS];
    char *argv[MAXARGS + 1];
    struct sse_opt_val vals[NOPTS];
    char err[256], got[256];
    int argc = 1, rc;

    argv[0] = (char *)"prog";
    for (size_t i = 0; c->argv[i] != NULL; i++) {
        argv[argc] = guard_copy(&g[i], c->argv[i], strlen(c->argv[i]) + 1);
        cr_assert_not_null(argv[argc]);
        argc++;
    }
    argv[argc] = NULL;
    fake_env = c->env;
    memset(err, 'X', sizeof err);

    rc = sse_opt_parse(opts, NOPTS, argc, argv, fake_getenv, vals, err,
                       sizeof err);
    cr_expect_eq(rc, c->want_rc, "%s: returned %d, error '%s'", c->row, rc,
                 rc == -1 ? err : "");
    if (rc == -1) {
        cr_expect_str_eq(err, c->want, "%s: message", c->row);
    } else {
        dump(vals, got, sizeof got);
        cr_expect_str_eq(got, c->want, "%s: values", c->row);
    }
    for (int i = 1; i < argc; i++)
        guard_free(&g[i - 1]);
}

Test(sse_opt, parse_accepts_each_form_and_reports_each_error)
{
    for (size_t i = 0; i < sizeof parse_cases / sizeof parse_cases[0]; i++)
        run_case(&parse_cases[i]);
}

Test(sse_opt, values_point_into_argv_and_the_environment)
{
    static const char *const env[] = { "SSE_EVENT=news", NULL };
    char a1[] = "--event=tick";
    char *argv[] = { (char *)"prog", a1, NULL };
    struct sse_opt_val vals[NOPTS];

    fake_env = env;
    cr_assert_eq(sse_opt_parse(opts, NOPTS, 2, argv, fake_getenv, vals, NULL,
                               0), 2);
    cr_expect_eq(vals[0].str, a1 + 8, "argv value is not a view");

    cr_assert_eq(sse_opt_parse(opts, NOPTS, 1, argv, fake_getenv, vals, NULL,
                               0), 1);
    cr_expect_eq(vals[0].str, env[0] + 10, "env value is not a view");
}

Test(sse_opt, vals_are_zeroed_before_parsing)
{
    struct sse_opt_val vals[NOPTS];
    char *argv[] = { (char *)"prog", NULL };

    memset(vals, 0x5a, sizeof vals);
    cr_assert_eq(sse_opt_parse(opts, NOPTS, 1, argv, NULL, vals, NULL, 0), 1);
    for (size_t i = 0; i < NOPTS; i++) {
        cr_expect_eq(vals[i].set, 0, "row %zu: set", i);
        cr_expect_null(vals[i].str, "row %zu: str", i);
        cr_expect_eq(vals[i].num, 0, "row %zu: num", i);
    }
}

Test(sse_opt, no_environment_callback_means_no_environment)
{
    static const char *const env[] = { "SSE_EVENT=news", NULL };
    struct sse_opt_val vals[NOPTS];
    char *argv[] = { (char *)"prog", NULL };

    fake_env = env;
    cr_assert_eq(sse_opt_parse(opts, NOPTS, 1, argv, NULL, vals, NULL, 0), 1);
    cr_expect_eq(vals[0].set, 0);
}

Test(sse_opt, error_is_truncated_and_always_terminated)
{
    static const char full[] = "unknown option '--foo'";
    char *argv[] = { (char *)"prog", (char *)"--foo", NULL };
    struct sse_opt_val vals[NOPTS];
    char err[32];

    for (size_t len = 1; len <= sizeof full; len++) {
        memset(err, 'X', sizeof err);
        cr_expect_eq(sse_opt_parse(opts, NOPTS, 2, argv, NULL, vals, err,
                                   len), -1, "errlen %zu", len);
        cr_expect_eq(strlen(err), len - 1, "errlen %zu: length", len);
        cr_expect_eq(strncmp(err, full, len - 1), 0, "errlen %zu: text", len);
        cr_expect_eq(err[len], 'X', "errlen %zu: wrote past errlen", len);
    }
    cr_expect_eq(sse_opt_parse(opts, NOPTS, 2, argv, NULL, vals, NULL, 0), -1,
                 "no error buffer");
}

Test(sse_opt, error_stays_on_one_line)
{
    char *argv[] = { (char *)"prog", (char *)"--retry=1\n2\r", NULL };
    struct sse_opt_val vals[NOPTS];
    char err[128];

    cr_assert_eq(sse_opt_parse(opts, NOPTS, 2, argv, NULL, vals, err,
                               sizeof err), -1);
    cr_expect_null(strchr(err, '\n'), "LF in '%s'", err);
    cr_expect_null(strchr(err, '\r'), "CR in '%s'", err);
    cr_expect_str_eq(err, "option '--retry': '1?2?' is not a number "
                     "from 0 to 86400000");
}

/* ---- numbers ----------------------------------------------------------- */

static int
parse_num_guarded(const char *s, long long min, long long max,
                  long long *out)
{
    struct guarded g;
    const char *p = guard_copy(&g, s, strlen(s) + 1);
    int rc;

    cr_assert_not_null(p);
    rc = sse_opt_parse_num(p, min, max, out);
    guard_free(&g);
    return rc;
}

Test(sse_opt, parse_num_takes_plain_decimals_in_range_only)
{
    static const struct {
        const char *row;
        const char *s;
        long long   min, max;
        int         want_rc;
        long long   want;
    } cases[] = {
        { "zero", "0", 0, 10, 0, 0 },
        { "maximum", "10", 0, 10, 0, 10 },
        { "past maximum", "11", 0, 10, -1, 0 },
        { "below minimum", "0", 1, 10, -1, 0 },
        { "leading zeros", "007", 0, 10, 0, 7 },
        { "empty", "", 0, 10, -1, 0 },
        { "plus sign", "+5", 0, 10, -1, 0 },
        { "leading space", " 5", 0, 10, -1, 0 },
        { "trailing space", "5 ", 0, 10, -1, 0 },
        { "trailing letter", "5x", 0, 10, -1, 0 },
        { "hex", "0x5", 0, 10, -1, 0 },
        { "minus when min is 0", "-0", 0, 10, -1, 0 },
        { "minus when min is 0, nonzero", "-5", 0, 10, -1, 0 },
        { "minus when min < 0", "-5", -10, 10, 0, -5 },
        { "minus zero when min < 0", "-0", -10, 10, 0, 0 },
        { "lone minus", "-", -10, 10, -1, 0 },
        { "minus then space", "- 5", -10, 10, -1, 0 },
        { "double minus", "--5", -10, 10, -1, 0 },
        { "minus plus", "-+5", -10, 10, -1, 0 },
        { "below negative minimum", "-11", -10, 10, -1, 0 },
        { "largest long long", "9223372036854775807", 0, LLONG_MAX, 0,
          LLONG_MAX },
        { "past long long", "9223372036854775808", 0, LLONG_MAX, -1, 0 },
        { "smallest long long", "-9223372036854775808", LLONG_MIN, 0, 0,
          LLONG_MIN },
        { "below long long", "-9223372036854775809", LLONG_MIN, 0, -1, 0 },
        { "huge", "99999999999999999999999999", 0, LLONG_MAX, -1, 0 },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long out = 12345;
        int rc = parse_num_guarded(cases[i].s, cases[i].min, cases[i].max,
                                   &out);

        cr_expect_eq(rc, cases[i].want_rc, "%s: returned %d", cases[i].row,
                     rc);
        if (cases[i].want_rc == 0)
            cr_expect_eq(out, cases[i].want, "%s: value %lld", cases[i].row,
                         out);
        else
            cr_expect_eq(out, 12345, "%s: out written on error",
                         cases[i].row);
    }
}

Test(sse_opt, parse_num_refuses_every_strict_prefix)
{
    /* Ranges chosen so that no strict prefix is itself in range. */
    static const struct {
        const char *s;
        long long   min, max;
    } cases[] = {
        { "86400000", 10000000, 86400000 },
        { "-3600", -3600, -1000 },
        { "9223372036854775807", 1000000000000000000LL, LLONG_MAX },
    };

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = strlen(cases[i].s);
        long long out;

        cr_assert_eq(parse_num_guarded(cases[i].s, cases[i].min, cases[i].max,
                                       &out), 0, "'%s' itself", cases[i].s);
        for (size_t k = 0; k < n; k++) {
            char prefix[32];

            memcpy(prefix, cases[i].s, k);
            prefix[k] = '\0';
            cr_expect_eq(parse_num_guarded(prefix, cases[i].min, cases[i].max,
                                           &out), -1,
                         "'%s': prefix '%s' accepted", cases[i].s, prefix);
        }
    }
}

Test(sse_opt, parse_num_refuses_null)
{
    long long out;

    cr_expect_eq(sse_opt_parse_num(NULL, 0, 10, &out), -1);
}

/* ---- usage ------------------------------------------------------------- */

Test(sse_opt, usage_lists_every_option_on_one_aligned_line)
{
    char *text = NULL, *line, *save = NULL;
    size_t len = 0, nlines = 0;
    long help_col = -1;
    FILE *fp = open_memstream(&text, &len);

    cr_assert_not_null(fp);
    sse_opt_usage(fp, opts, NOPTS);
    cr_assert_eq(fclose(fp), 0);

    for (line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save), nlines++) {
        const struct sse_opt *o;
        char want[64];
        char *help;

        cr_assert_lt(nlines, NOPTS, "more lines than options: '%s'", line);
        o = &opts[nlines];
        if (o->name != NULL) {
            snprintf(want, sizeof want, "--%s", o->name);
            cr_expect_not_null(strstr(line, want), "'%s' lacks %s", line,
                               want);
        } else {
            cr_expect_null(strstr(line, "--"), "'%s' has a long name", line);
        }
        if (o->letter != 0) {
            snprintf(want, sizeof want, "-%c", o->letter);
            cr_expect_not_null(strstr(line, want), "'%s' lacks %s", line,
                               want);
        }
        if (o->arg != NULL) {
            snprintf(want, sizeof want, " %s ", o->arg);
            cr_expect_not_null(strstr(line, want), "'%s' lacks %s", line,
                               o->arg);
        }
        if (o->env != NULL) {
            snprintf(want, sizeof want, "[%s]", o->env);
            cr_expect_not_null(strstr(line, want), "'%s' lacks %s", line,
                               want);
        } else {
            cr_expect_null(strchr(line, '['), "'%s' names a variable", line);
        }
        help = strstr(line, o->help);
        cr_assert_not_null(help, "'%s' lacks its help", line);
        if (help_col == -1)
            help_col = help - line;
        cr_expect_eq(help - line, help_col, "'%s': help not aligned", line);
    }
    cr_expect_eq(nlines, NOPTS, "one line per option");
    free(text);
}

Test(sse_opt, usage_puts_the_letter_before_the_long_name)
{
    static const struct sse_opt one[] = {
        { "event", 'e', SSE_OPT_STR, "SSE_EVENT", 0, 0, "NAME",
          "event name" },
    };
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);

    cr_assert_not_null(fp);
    sse_opt_usage(fp, one, 1);
    cr_assert_eq(fclose(fp), 0);
    cr_expect_str_eq(text, "  -e, --event NAME  event name [SSE_EVENT]\n");
    free(text);
}
