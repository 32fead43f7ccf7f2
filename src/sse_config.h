/*
 * sse_config: defaults and where the three programs meet.
 *
 * With no flags, the broker binds and the workers and sse-push connect to
 * ipc sockets in one runtime directory (SSE_RUNDIR, default
 * SSE_RUNDIR_DEFAULT). An explicit endpoint (flag or environment variable)
 * replaces the default, so tcp:// works too.
 */
#ifndef SSE_CONFIG_H
#define SSE_CONFIG_H

#include <stddef.h>

#define SSE_RUNDIR_DEFAULT   "/run/sse-gateway"
#define SSE_PUSH_SOCKET      "push.sock"  /* sse-push -> broker */
#define SSE_PUB_SOCKET       "pub.sock"   /* broker -> workers */

#define SSE_HEARTBEAT_DEFAULT 15          /* seconds between heartbeats */
#define SSE_TIMEOUT_DEFAULT   5000        /* ms sse-push waits for an ack */
#define SSE_QUEUE_DEFAULT     (1024 * 1024) /* bytes queued per stream */

/* Return the endpoint to use: explicit if it is non-NULL and non-empty,
 * else "ipc://RUNDIR/sockname" with rundir (or SSE_RUNDIR_DEFAULT if rundir
 * is NULL or empty). The result is the caller's to free. */
char *sse_config_endpoint(const char *explicit_ep, const char *rundir,
                          const char *sockname);

/* The runtime directory: rundir if non-NULL and non-empty, else the
 * default. Borrowed. */
const char *sse_config_rundir(const char *rundir);

/* If endpoint is "ipc://PATH", return PATH (borrowed, inside endpoint);
 * else NULL. */
const char *sse_config_ipc_path(const char *endpoint);

/* Is word[0..len) one of list's entries? Entries are separated by spaces,
 * tabs or commas (allowed origins, FCGI_WEB_SERVER_ADDRS); an empty word
 * is never one. Returns 1 or 0. */
int sse_config_listed(const char *list, const char *word, size_t len);

#endif /* SSE_CONFIG_H */
