/*
 * sse-fcgi: the FastCGI worker.
 *
 * Spawned by the web server (listening socket on fd 0), standalone on a
 * socket (--listen), or run as a plain CGI program, which is detected on its
 * own. Options come from the command line or, for a worker the web server
 * spawns, from the environment it is given.
 */
#include "config.h"

#include <errno.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse_auth.h"
#include "sse_cli.h"
#include "sse_config.h"
#include "sse_event.h"
#include "sse_log.h"
#include "sse_opt.h"
#include "sse_worker.h"

enum {
    O_LISTEN, O_BACKLOG, O_RUNDIR, O_PUB, O_HEARTBEAT, O_LIFETIME, O_QUEUE,
    O_MAXSTREAMS, O_RETRY, O_POLL, O_STATUS, O_CORS, O_JWT_KEY, O_JWT_ALG,
    O_JWT_CLAIM, O_JWT_COOKIE, O_CURVE_SERVER, O_CURVE_KEY, O_LOGLEVEL,
    O_CHECK, O_HELP, O_VERSION, O_COUNT
};

static const struct sse_opt opts[O_COUNT] = {
    [O_LISTEN] = { "listen", 'l', SSE_OPT_STR, NULL, 0, 0, "ADDR",
        "serve on a socket: /path or host:port (default: fd 0 or CGI)" },
    [O_BACKLOG] = { "backlog", 0, SSE_OPT_NUM, NULL, 1, 65535, "N",
        "listen backlog with --listen (default 1024)" },
    [O_RUNDIR] = SSE_CLI_RUNDIR,
    [O_PUB] = SSE_CLI_PUB_ENDPOINT,
    [O_HEARTBEAT] = { "heartbeat", 0, SSE_OPT_NUM, "SSE_HEARTBEAT", 1, 3600,
        "SECONDS", "seconds between heartbeat comments (default 15)" },
    [O_LIFETIME] = { "lifetime", 0, SSE_OPT_NUM, "SSE_LIFETIME", 0,
        2000000, "SECONDS", "end each stream after this long (default 0: never)" },
    [O_QUEUE] = { "queue-max", 0, SSE_OPT_NUM, "SSE_QUEUE_MAX", 4096,
        1073741824, "BYTES", "bytes queued per stream before the client "
        "is dropped (default 1048576)" },
    [O_MAXSTREAMS] = { "max-streams", 0, SSE_OPT_NUM, "SSE_MAX_STREAMS", 0,
        100000000, "N", "open streams per worker, then 503 (default 0: no limit)" },
    [O_RETRY] = { "retry", 0, SSE_OPT_NUM, "SSE_RETRY", 0,
        SSE_EVENT_RETRY_MAX, "MS", "reconnection delay sent to browsers" },
    [O_POLL] = { "poll-timeout", 0, SSE_OPT_NUM, "SSE_POLL_TIMEOUT", 1, 300,
        "SECONDS", "how long a mode=poll request waits (default 25)" },
    [O_STATUS] = { "status", 0, SSE_OPT_FLAG, "SSE_STATUS", 0, 0, NULL,
        "answer ?mode=status with the open streams as JSON (default off)" },
    [O_CORS] = { "cors-origins", 0, SSE_OPT_STR, "SSE_CORS_ORIGINS", 0, 0,
        "LIST", "origins allowed cross-origin access, or * (default none)" },
    [O_JWT_KEY] = { "jwt-key", 0, SSE_OPT_STR, "SSE_JWT_KEY", 0, 0, "FILE",
        "require tokens: HS256 secret or PEM public key in FILE" },
    [O_JWT_ALG] = { "jwt-alg", 0, SSE_OPT_STR, "SSE_JWT_ALG", 0, 0, "ALG",
        "HS256, RS256 or ES256 (default HS256)" },
    [O_JWT_CLAIM] = { "jwt-claim", 0, SSE_OPT_STR, "SSE_JWT_CLAIM", 0, 0,
        "NAME", "claim listing allowed keys or key* prefixes "
        "(default sse_keys)" },
    [O_JWT_COOKIE] = { "jwt-cookie", 0, SSE_OPT_STR, "SSE_JWT_COOKIE", 0, 0,
        "NAME", "cookie that may carry the token (default sse_token)" },
    [O_CURVE_SERVER] = SSE_CLI_CURVE_SERVER,
    [O_CURVE_KEY] = SSE_CLI_CURVE_KEY,
    [O_LOGLEVEL] = SSE_CLI_LOG_LEVEL,
    [O_CHECK] = SSE_CLI_CHECK,
    [O_HELP] = SSE_CLI_HELP,
    [O_VERSION] = SSE_CLI_VERSION,
};

static const struct sse_cli cli = {
    .prog = "sse-fcgi",
    .synopsis = "usage: sse-fcgi [options]\n"
        "Serve server-sent event streams over FastCGI or CGI.\n",
    .opts = opts, .nopts = O_COUNT,
    .help = O_HELP, .version = O_VERSION, .log_level = O_LOGLEVEL,
};

/* Read the key file and make the token verifier, or exit 64 saying why. */
static struct sse_auth *
load_auth(const struct sse_opt_val *v)
{
    char key[65536], err[256];
    struct sse_auth *a;
    size_t n;
    FILE *fp;

    if ((fp = fopen(v[O_JWT_KEY].str, "rb")) == NULL) {
        fprintf(stderr, "sse-fcgi: cannot read %s: %s\n", v[O_JWT_KEY].str,
                strerror(errno));
        exit(64);
    }
    n = fread(key, 1, sizeof(key), fp);
    fclose(fp);
    /* A secret written with echo ends in a newline that is not part of it. */
    const char *alg = v[O_JWT_ALG].set ? v[O_JWT_ALG].str : "HS256";

    while (n > 0 && (key[n - 1] == '\n' || key[n - 1] == '\r') &&
           strcmp(alg, "HS256") == 0)
        n--;
    a = sse_auth_new(alg, key, n,
                     v[O_JWT_CLAIM].str, v[O_JWT_COOKIE].str, err,
                     sizeof(err));
    explicit_bzero(key, sizeof(key));
    if (a == NULL) {
        fprintf(stderr, "sse-fcgi: %s: %s\n", v[O_JWT_KEY].str, err);
        exit(64);
    }
    return a;
}

int
main(int argc, char **argv)
{
    struct sse_opt_val v[O_COUNT];
    struct sse_worker_config cfg;
    struct sse_auth *auth = NULL;
    char *endpoint;
    int listen_fd = 0, status;

    sse_cli_parse(&cli, argc, argv, v);
    endpoint = sse_config_endpoint(v[O_PUB].str, v[O_RUNDIR].str,
                                   SSE_PUB_SOCKET);
    cfg.pub_endpoint = endpoint;
    cfg.heartbeat = v[O_HEARTBEAT].set ? (int)v[O_HEARTBEAT].num :
        SSE_HEARTBEAT_DEFAULT;
    cfg.lifetime = (int)v[O_LIFETIME].num;
    cfg.queue_max = v[O_QUEUE].set ? (size_t)v[O_QUEUE].num :
        SSE_QUEUE_DEFAULT;
    cfg.max_streams = (size_t)v[O_MAXSTREAMS].num;
    cfg.retry = v[O_RETRY].set ? (long)v[O_RETRY].num : -1;
    cfg.cors_origins = v[O_CORS].set ? v[O_CORS].str : NULL;
    cfg.poll_timeout = v[O_POLL].set ? (int)v[O_POLL].num : 25;
    cfg.status = v[O_STATUS].set;
    cfg.curve_server = v[O_CURVE_SERVER].set ? v[O_CURVE_SERVER].str : NULL;
    cfg.curve_key = v[O_CURVE_KEY].set ? v[O_CURVE_KEY].str : NULL;

    cfg.auth = NULL;
    if (v[O_JWT_KEY].set)
        cfg.auth = auth = load_auth(v);
    if (v[O_CHECK].set) {
        printf("broker %s\nheartbeat %ds\nlifetime %ds\nqueue-max %zu\n"
               "max-streams %zu\n", cfg.pub_endpoint, cfg.heartbeat,
               cfg.lifetime, cfg.queue_max, cfg.max_streams);
        sse_auth_destroy(&auth);
        free(endpoint);
        return 0;
    }
    if (FCGX_Init() != 0)
        fatalx("FCGX_Init failed");
    if (v[O_LISTEN].set) {
        int backlog = v[O_BACKLOG].set ? (int)v[O_BACKLOG].num : 1024;

        listen_fd = FCGX_OpenSocket(v[O_LISTEN].str, backlog);
        if (listen_fd < 0)
            fatalx("cannot listen on %s", v[O_LISTEN].str);
        status = sse_worker_run_fcgi(&cfg, listen_fd);
    } else if (FCGX_IsCGI()) {
        status = sse_worker_run_cgi(&cfg);
    } else {
        status = sse_worker_run_fcgi(&cfg, listen_fd);
    }
    sse_auth_destroy(&auth);
    free(endpoint);
    return status;
}
