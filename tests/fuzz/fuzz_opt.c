/*
 * fuzz_opt: sse_opt_parse over any command line and environment.
 *
 * Input: byte 0 says which of the table's environment variables are set
 * (bit i for env_names[i]); the rest is split at NUL bytes into their
 * values, in that order, and then argv[1..] ("fuzz" is argv[0]). The
 * option table covers flags, strings and numbers, with and without short
 * letters, long names and variables, and ranges from one value to all of
 * long long. Properties:
 *
 *   - on success the result is an index into argv at or past 1, and what is
 *     there is an operand (or follows "--"); every number that is set lies
 *     in its range, every string that is set points into argv or the
 *     environment, and what is not set is zero; err is empty;
 *   - on failure err is a non-empty, NUL-terminated single line;
 *   - the same call with a short err buffer, or none, gives the same result,
 *     and the short message is a prefix of the long one;
 *   - sse_opt_parse_num agrees with a model on every piece, for each range.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "sse_opt.h"

static const struct sse_opt opts[] = {
    { "verbose", 'v', SSE_OPT_FLAG, "FUZZ_VERBOSE", 0, 0, NULL, "flag" },
    { "quiet", 'q', SSE_OPT_FLAG, NULL, 0, 0, NULL, "flag, no variable" },
    { "event", 'e', SSE_OPT_STR, "FUZZ_EVENT", 0, 0, "NAME", "string" },
    { "id", 0, SSE_OPT_STR, NULL, 0, 0, "ID", "long name only" },
    { "retry", 'r', SSE_OPT_NUM, "FUZZ_RETRY", 0, 86400000, "MS", "0.." },
    { "offset", 'o', SSE_OPT_NUM, NULL, -100, 100, "N", "negatives" },
    { NULL, 'x', SSE_OPT_NUM, "FUZZ_X", 1, 1, "ONE", "short only" },
    { "wide", 'w', SSE_OPT_NUM, "FUZZ_WIDE", LLONG_MIN, LLONG_MAX, "N",
      "all of long long" },
};
#define NOPTS (sizeof opts / sizeof opts[0])

static const char *const env_names[] = {
    "FUZZ_VERBOSE", "FUZZ_EVENT", "FUZZ_RETRY", "FUZZ_X", "FUZZ_WIDE",
};
#define NENV (sizeof env_names / sizeof env_names[0])
#define ARGS_MAX 64

/* The environment for one input; getenv_fn has no context pointer. */
static const char *env_values[NENV];

static const char *
fuzz_getenv(const char *name)
{
    for (size_t i = 0; i < NENV; i++)
        if (strcmp(name, env_names[i]) == 0)
            return env_values[i];
    FUZZ_CHECK(0, "sse_opt_parse asked for unknown variable %s", name);
    return NULL;
}

/* A decimal integer in [min, max], with a '-' only when min < 0: digits
 * accumulated as unsigned with an overflow test, not strtoll. */
static int
model_num(const char *s, long long min, long long max, long long *out)
{
    unsigned long long v = 0, lim = LLONG_MAX;
    int neg = 0;

    if (s[0] == '-' && min < 0) {
        neg = 1;
        s++;
        lim = (unsigned long long)LLONG_MAX + 1;
    }
    if (*s == '\0')
        return -1;
    for (; *s != '\0'; s++) {
        unsigned d = (unsigned)(*s - '0');

        if (*s < '0' || *s > '9' || v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == lim ? LLONG_MIN : -(long long)v;
    else
        *out = (long long)v;
    return *out >= min && *out <= max ? 0 : -1;
}

/* 1 if p points into one of the NUL-terminated strings of set[0..n). */
static int
points_into(const char *p, char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] != NULL && p >= set[i] && p <= set[i] + strlen(set[i]))
            return 1;
    return 0;
}

static void
check_line(const char *err, size_t errlen)
{
    size_t n = strnlen(err, errlen);

    FUZZ_CHECK(n < errlen, "err is not NUL-terminated within %zu", errlen);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f,
                   "err holds control byte 0x%02x", (unsigned char)err[i]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *piece[NENV + ARGS_MAX];
    size_t len[NENV + ARGS_MAX], k, next = 0;
    char *env_copy[NENV] = { NULL }, **argv, err[256], *small;
    struct sse_opt_val *vals, *again;
    size_t smalllen;
    int argc, rc;

    if (size == 0)
        return 0;
    k = fuzz_split(data + 1, size - 1, NENV + ARGS_MAX, piece, len);
    for (size_t i = 0; i < NENV; i++) {
        env_values[i] = NULL;
        if ((data[0] >> i & 1) && next < k) {
            size_t n = strnlen((const char *)piece[next], len[next]);

            env_values[i] = env_copy[i] = fuzz_strdup(piece[next++], n);
        }
    }
    argc = 1 + (int)(k - next);
    argv = (char **)fuzz_malloc(((size_t)argc + 1) * sizeof *argv);
    argv[0] = fuzz_strdup("fuzz", 4);
    for (int i = 1; i < argc; i++, next++)
        argv[i] = fuzz_strdup(piece[next],
                              strnlen((const char *)piece[next], len[next]));
    argv[argc] = NULL;

    for (int i = 0; i < argc; i++) {
        for (size_t o = 0; o < NOPTS; o++) {
            long long got = 0, want = 0;
            int r = sse_opt_parse_num(argv[i], opts[o].min, opts[o].max,
                                      &got);

            FUZZ_CHECK(r == model_num(argv[i], opts[o].min, opts[o].max,
                                      &want) && (r != 0 || got == want),
                       "parse_num(\"%s\", %lld, %lld) gave %d, %lld",
                       argv[i], opts[o].min, opts[o].max, r, got);
        }
    }

    vals = (struct sse_opt_val *)fuzz_malloc(NOPTS * sizeof *vals);
    memset(err, 'E', sizeof err);
    rc = sse_opt_parse(opts, NOPTS, argc, argv, fuzz_getenv, vals, err,
                       sizeof err);
    check_line(err, sizeof err);
    if (rc == -1) {
        FUZZ_CHECK(err[0] != '\0', "failed without a message");
    } else {
        FUZZ_CHECK(rc >= 1 && rc <= argc, "returned %d for argc %d", rc,
                   argc);
        FUZZ_CHECK(err[0] == '\0', "succeeded with message \"%s\"", err);
        FUZZ_CHECK(rc == argc || argv[rc][0] != '-' ||
                       argv[rc][1] == '\0' || strcmp(argv[rc - 1], "--") == 0,
                   "options stopped at \"%s\"", argv[rc]);
        for (size_t o = 0; o < NOPTS; o++) {
            const struct sse_opt_val *v = &vals[o];

            FUZZ_CHECK(v->set == 0 || v->set == 1, "option %zu: set is %d",
                       o, v->set);
            if (opts[o].type == SSE_OPT_NUM && v->set)
                FUZZ_CHECK(v->num >= opts[o].min && v->num <= opts[o].max,
                           "option %zu: %lld is outside [%lld, %lld]", o,
                           v->num, opts[o].min, opts[o].max);
            else
                FUZZ_CHECK(v->num == 0, "option %zu: num %lld", o, v->num);
            if (opts[o].type == SSE_OPT_STR && v->set)
                FUZZ_CHECK(v->str != NULL &&
                               (points_into(v->str, argv, (size_t)argc) ||
                                points_into(v->str, env_copy, NENV)),
                           "option %zu: string from nowhere", o);
            else
                FUZZ_CHECK(v->str == NULL, "option %zu: stray string", o);
        }
    }

    /* The same call with a short buffer, and with none. */
    smalllen = 1 + size % 40;
    small = fuzz_malloc(smalllen);
    again = (struct sse_opt_val *)fuzz_malloc(NOPTS * sizeof *again);
    FUZZ_CHECK(sse_opt_parse(opts, NOPTS, argc, argv, fuzz_getenv, again,
                             small, smalllen) == rc,
               "a %zu-byte err buffer changed the result", smalllen);
    check_line(small, smalllen);
    FUZZ_CHECK(strncmp(small, err, strlen(small)) == 0,
               "short message \"%s\" is not a prefix of \"%s\"", small, err);
    for (size_t o = 0; o < NOPTS && rc != -1; o++)
        FUZZ_CHECK(again[o].set == vals[o].set &&
                       again[o].str == vals[o].str &&
                       again[o].num == vals[o].num,
                   "a short err buffer changed option %zu", o);
    FUZZ_CHECK(sse_opt_parse(opts, NOPTS, argc, argv, fuzz_getenv, again,
                             NULL, 0) == rc,
               "no err buffer changed the result");

    free(again);
    free(small);
    free(vals);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
    for (size_t i = 0; i < NENV; i++)
        free(env_copy[i]);
    return 0;
}
