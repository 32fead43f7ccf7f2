/*
 * sse_log: one line per event on stderr, in the manner of OpenBSD's log.c.
 *
 *   sse-fcgi[1234]: info: stream open id=7 keys=user42
 *
 * log_warn adds strerror(errno) and keeps errno; log_warnx, log_info and
 * log_debug print the message alone and are filtered by the level; fatal and
 * fatalx print and exit(1). Untrusted bytes go through log_escape first.
 */
#ifndef SSE_LOG_H
#define SSE_LOG_H

#include <stddef.h>

enum sse_log_level { LOG_LEVEL_ERROR, LOG_LEVEL_WARN, LOG_LEVEL_INFO,
                     LOG_LEVEL_DEBUG };

#define SSE_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* Set the program name shown on each line and the level. */
void log_init(const char *progname, enum sse_log_level level);

/* Parse "error", "warn", "info" or "debug". Returns the level or -1. */
int log_level_parse(const char *s);

void log_warn(const char *fmt, ...) SSE_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) SSE_PRINTF(1, 2);
void log_info(const char *fmt, ...) SSE_PRINTF(1, 2);
void log_debug(const char *fmt, ...) SSE_PRINTF(1, 2);
void fatal(const char *fmt, ...) SSE_PRINTF(1, 2) __attribute__((noreturn));
void fatalx(const char *fmt, ...) SSE_PRINTF(1, 2) __attribute__((noreturn));

/* Write s[0..n) to out (room for outlen bytes, outlen >= 4) with every byte
 * outside printable ASCII, and '\\' and '"', as \xHH; cut with "..." if too
 * long. Returns out. */
char *log_escape(const char *s, size_t n, char *out, size_t outlen);

#endif /* SSE_LOG_H */
