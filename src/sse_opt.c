/*
 * sse_opt: a small option parser shared by sse-fcgi, sse-broker and sse-push.
 *
 * getopt_long would do most of this, but it permutes argv by default, keeps
 * global state, and knows nothing of ranges or the environment. This parser
 * is a pure function of its inputs: argv first, then the environment for
 * whatever argv left out, with numbers checked against their range and every
 * error reported as one line that names the option as the user wrote it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_opt.h"

/* ---- helpers ----------------------------------------------------------- */

static void errf(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Format a one-line message into err. Values come from the command line or
 * the environment, so control bytes become '?' to keep it one line. */
static void
errf(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static const struct sse_opt *
find_long(const struct sse_opt *opts, size_t nopts, const char *name,
          size_t len, size_t *idx)
{
    for (size_t i = 0; i < nopts; i++) {
        const char *n = opts[i].name;

        if (n != NULL && strncmp(n, name, len) == 0 && n[len] == '\0') {
            *idx = i;
            return &opts[i];
        }
    }
    return NULL;
}

static const struct sse_opt *
find_short(const struct sse_opt *opts, size_t nopts, char letter, size_t *idx)
{
    for (size_t i = 0; i < nopts; i++) {
        if (letter != '\0' && opts[i].letter == letter) {
            *idx = i;
            return &opts[i];
        }
    }
    return NULL;
}

/* Store a value for a STR or NUM option; "who" names it in errors. */
static int
set_value(const struct sse_opt *o, struct sse_opt_val *v, const char *value,
          const char *who, char *err, size_t errlen)
{
    if (o->type == SSE_OPT_NUM) {
        if (sse_opt_parse_num(value, o->min, o->max, &v->num) == -1) {
            errf(err, errlen, "%s: '%s' is not a number from %lld to %lld",
                 who, value, o->min, o->max);
            return -1;
        }
    } else
        v->str = value;
    v->set = 1;
    return 0;
}

/* ---- parsing ----------------------------------------------------------- */

int
sse_opt_parse_num(const char *s, long long min, long long max,
                  long long *out)
{
    const char *digits;
    char *end;
    long long v;

    if (s == NULL)
        return -1;
    digits = (s[0] == '-' && min < 0) ? s + 1 : s;
    /* strtoll alone would take spaces, a '+' and a lone sign. */
    if (*digits < '0' || *digits > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Parse one "--name" or "--name=value" at argv[*i]; advances *i past any
 * value it takes. */
static int
parse_long(const struct sse_opt *opts, size_t nopts, int argc,
           char *const argv[], int *i, struct sse_opt_val *vals, char *err,
           size_t errlen)
{
    const char *name = argv[*i] + 2;
    const char *eq = strchr(name, '=');
    size_t len = eq ? (size_t)(eq - name) : strlen(name);
    const struct sse_opt *o;
    char who[128];
    size_t idx;

    if ((o = find_long(opts, nopts, name, len, &idx)) == NULL) {
        errf(err, errlen, "unknown option '--%.*s'", (int)len, name);
        return -1;
    }
    snprintf(who, sizeof who, "option '--%s'", o->name);
    if (o->type == SSE_OPT_FLAG) {
        if (eq != NULL) {
            errf(err, errlen, "%s takes no value", who);
            return -1;
        }
        vals[idx].set = 1;
        return 0;
    }
    if (eq != NULL)
        return set_value(o, &vals[idx], eq + 1, who, err, errlen);
    if (*i + 1 >= argc) {
        errf(err, errlen, "%s needs a value", who);
        return -1;
    }
    ++*i;
    return set_value(o, &vals[idx], argv[*i], who, err, errlen);
}

/* Parse one "-x", "-xvalue" or bundle of flags "-abx value" at argv[*i]. */
static int
parse_short(const struct sse_opt *opts, size_t nopts, int argc,
            char *const argv[], int *i, struct sse_opt_val *vals, char *err,
            size_t errlen)
{
    for (const char *p = argv[*i] + 1; *p != '\0'; p++) {
        const struct sse_opt *o;
        char who[32];
        size_t idx;

        if ((o = find_short(opts, nopts, *p, &idx)) == NULL) {
            errf(err, errlen, "unknown option '-%c'", *p);
            return -1;
        }
        if (o->type == SSE_OPT_FLAG) {
            vals[idx].set = 1;
            continue;
        }
        /* A value option ends the bundle: the rest is its value. */
        snprintf(who, sizeof who, "option '-%c'", *p);
        if (p[1] != '\0')
            return set_value(o, &vals[idx], p + 1, who, err, errlen);
        if (*i + 1 >= argc) {
            errf(err, errlen, "%s needs a value", who);
            return -1;
        }
        ++*i;
        return set_value(o, &vals[idx], argv[*i], who, err, errlen);
    }
    return 0;
}

/* Fill options that argv left out from the environment. */
static int
parse_env(const struct sse_opt *opts, size_t nopts,
          const char *(*getenv_fn)(const char *), struct sse_opt_val *vals,
          char *err, size_t errlen)
{
    for (size_t i = 0; i < nopts; i++) {
        const struct sse_opt *o = &opts[i];
        const char *value;

        if (vals[i].set || o->env == NULL)
            continue;
        value = getenv_fn(o->env);
        if (value == NULL || value[0] == '\0')
            continue;
        if (o->type == SSE_OPT_FLAG)
            vals[i].set = strcmp(value, "0") != 0;
        else if (set_value(o, &vals[i], value, o->env, err, errlen) == -1)
            return -1;
    }
    return 0;
}

int
sse_opt_parse(const struct sse_opt *opts, size_t nopts, int argc,
              char *const argv[], const char *(*getenv_fn)(const char *),
              struct sse_opt_val *vals, char *err, size_t errlen)
{
    int i, rc;

    if (err != NULL && errlen > 0)
        err[0] = '\0';
    memset(vals, 0, nopts * sizeof *vals);

    for (i = argc > 0 ? 1 : 0; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            i++;
            break;
        }
        /* The first operand ends the options; "-" alone is an operand. */
        if (a[0] != '-' || a[1] == '\0')
            break;
        if (a[1] == '-')
            rc = parse_long(opts, nopts, argc, argv, &i, vals, err, errlen);
        else
            rc = parse_short(opts, nopts, argc, argv, &i, vals, err, errlen);
        if (rc == -1)
            return -1;
    }

    if (getenv_fn != NULL &&
        parse_env(opts, nopts, getenv_fn, vals, err, errlen) == -1)
        return -1;
    return i;
}

/* ---- usage ------------------------------------------------------------- */

/* Write the left column for o ("  -e, --event NAME") to buf. */
static int
left_column(const struct sse_opt *o, char *buf, size_t len)
{
    const char *arg = o->type == SSE_OPT_FLAG ? NULL :
        (o->arg != NULL ? o->arg : "VALUE");
    char s[4] = "   ";

    if (o->letter != '\0') {
        s[0] = '-';
        s[1] = o->letter;
        s[2] = o->name != NULL ? ',' : ' ';
    }
    if (o->name == NULL)
        return snprintf(buf, len, "  %.2s%s%s", s, arg ? " " : "",
                        arg ? arg : "");
    return snprintf(buf, len, "  %s --%s%s%s", s, o->name, arg ? " " : "",
                    arg ? arg : "");
}

void
sse_opt_usage(FILE *fp, const struct sse_opt *opts, size_t nopts)
{
    char left[256];
    int width = 0, n;

    for (size_t i = 0; i < nopts; i++) {
        n = left_column(&opts[i], left, sizeof left);
        if (n > width)
            width = n;
    }
    if (width > (int)sizeof left - 1)
        width = (int)sizeof left - 1;
    for (size_t i = 0; i < nopts; i++) {
        const struct sse_opt *o = &opts[i];

        left_column(o, left, sizeof left);
        fprintf(fp, "%-*s  %s", width, left, o->help ? o->help : "");
        if (o->env != NULL)
            fprintf(fp, " [%s]", o->env);
        fputc('\n', fp);
    }
}
