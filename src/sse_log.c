/*
 * sse_log: leveled logging to stderr, one line per event.
 *
 * Lines are written with a single write(2) so that lines from the several
 * worker processes that share the web server's error log do not interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sse_log.h"

static const char *log_progname = "sse";
static enum sse_log_level log_level = LOG_LEVEL_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_init(const char *progname, enum sse_log_level level)
{
    log_progname = progname;
    log_level = level;
}

int
log_level_parse(const char *s)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
        if (strcmp(s, level_names[i]) == 0)
            return (int)i;
    return -1;
}

static void __attribute__((format(printf, 3, 0)))
vlog(enum sse_log_level level, const char *errstr, const char *fmt,
     va_list ap)
{
    char line[1024];
    int n, m;

    if (level > log_level)
        return;
    n = snprintf(line, sizeof(line), "%s[%ld]: %s: ", log_progname,
                 (long)getpid(), level_names[level]);
    if (n < 0 || (size_t)n >= sizeof(line))
        return;
    m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (m < 0)
        return;
    n = (size_t)(n + m) >= sizeof(line) - 1 ? (int)sizeof(line) - 2 : n + m;
    if (errstr != NULL) {
        m = snprintf(line + n, sizeof(line) - (size_t)n, ": %s", errstr);
        if (m > 0)
            n = (size_t)(n + m) >= sizeof(line) - 1 ?
                (int)sizeof(line) - 2 : n + m;
    }
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* Nowhere left to report it. */
    }
}

void
log_warn(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_WARN, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_WARN, NULL, fmt, ap);
    va_end(ap);
}

void
log_info(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_INFO, NULL, fmt, ap);
    va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_DEBUG, NULL, fmt, ap);
    va_end(ap);
}

void
fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_ERROR, strerror(saved), fmt, ap);
    va_end(ap);
    exit(1);
}

void
fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vlog(LOG_LEVEL_ERROR, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}

char *
log_escape(const char *s, size_t n, char *out, size_t outlen)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t need = (c < 0x20 || c > 0x7e || c == '\\' || c == '"') ? 4 : 1;

        /* Keep room for "..." and the NUL. */
        if (o + need + 4 > outlen) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
        if (need == 1) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
    return out;
}
