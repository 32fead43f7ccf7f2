/*
 * sse_opt: command-line options and environment, shared by all programs.
 *
 * Each program describes its options in a table; sse_opt_parse fills one
 * value per entry from argv, falling back to the entry's environment
 * variable. Parsing is POSIX-style: options come first, and the first
 * operand or "--" ends them, so a message such as "-5 degrees" needs no
 * quoting tricks once a key precedes it. Accepted forms: "--name value",
 * "--name=value", "-x value", "-xvalue", and "-x" or "--name" for flags.
 * The parser is pure (the environment comes through a callback) so it can
 * be tested and fuzzed alone.
 */
#ifndef SSE_OPT_H
#define SSE_OPT_H

#include <stddef.h>
#include <stdio.h>

enum sse_opt_type {
    SSE_OPT_FLAG,   /* no value; set or not */
    SSE_OPT_STR,    /* a string value */
    SSE_OPT_NUM,    /* a decimal integer within [min, max] */
};

struct sse_opt {
    const char       *name;     /* long name without "--" */
    char              letter;   /* short option letter, or 0 */
    enum sse_opt_type type;
    const char       *env;      /* environment variable, or NULL */
    long long         min, max; /* range for SSE_OPT_NUM */
    const char       *arg;      /* value's name in usage, e.g. "MS" */
    const char       *help;     /* one line for usage */
};

struct sse_opt_val {
    int         set;    /* 1 if given in argv or the environment */
    const char *str;    /* SSE_OPT_STR value, borrowed from argv or env */
    long long   num;    /* SSE_OPT_NUM value */
};

/* Parse argv[1..argc) against opts[0..nopts), filling vals[i] for opts[i]
 * (vals is zeroed first). An option absent from argv takes its value from
 * getenv_fn(opts[i].env) when that is non-NULL and non-empty; for a flag,
 * any value but "0" sets it. A later occurrence in argv overrides an earlier
 * one. getenv_fn may be NULL (no environment).
 * Returns the index of the first operand (argc if none), or -1 with a
 * one-line message in err such as "unknown option '--foo'",
 * "option '--timeout' needs a value" or
 * "option '--retry': '99x' is not a number from 0 to 86400000". */
int sse_opt_parse(const struct sse_opt *opts, size_t nopts, int argc,
                  char *const argv[], const char *(*getenv_fn)(const char *),
                  struct sse_opt_val *vals, char *err, size_t errlen);

/* Parse s as a decimal integer in [min, max], with no sign but an optional
 * leading '-' when min < 0, no spaces and nothing after. Returns 0 with *out
 * set, or -1. */
int sse_opt_parse_num(const char *s, long long min, long long max,
                      long long *out);

/* Print one aligned line per option ("  -e, --event NAME   help"), with the
 * environment variable in brackets when there is one. */
void sse_opt_usage(FILE *fp, const struct sse_opt *opts, size_t nopts);

#endif /* SSE_OPT_H */
