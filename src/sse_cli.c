/*
 * sse_cli: shared command-line handling.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "sse_cli.h"
#include "sse_log.h"

static const char *
env(const char *name)
{
    return getenv(name);
}

void
sse_cli_usage(const struct sse_cli *cli, int status)
{
    FILE *fp = status == 0 ? stdout : stderr;

    fputs(cli->synopsis, fp);
    fputc('\n', fp);
    sse_opt_usage(fp, cli->opts, cli->nopts);
    if (cli->epilogue != NULL) {
        fputc('\n', fp);
        fputs(cli->epilogue, fp);
    }
    exit(status);
}

int
sse_cli_parse(const struct sse_cli *cli, int argc, char **argv,
              struct sse_opt_val *v)
{
    char err[256];
    int first, level = LOG_LEVEL_INFO;

    log_init(cli->prog, LOG_LEVEL_INFO);
    first = sse_opt_parse(cli->opts, cli->nopts, argc, argv, env, v, err,
                          sizeof(err));
    if (first < 0) {
        fprintf(stderr, "%s: %s (see %s --help)\n", cli->prog, err,
                cli->prog);
        exit(64);
    }
    if (v[cli->help].set)
        sse_cli_usage(cli, 0);
    if (v[cli->version].set) {
        printf("%s %s\n", cli->prog, PACKAGE_VERSION);
        exit(0);
    }
    if (cli->log_level >= 0 && v[cli->log_level].set &&
        (level = log_level_parse(v[cli->log_level].str)) < 0) {
        fprintf(stderr, "%s: unknown log level '%s': use error, warn, info "
                "or debug\n", cli->prog, v[cli->log_level].str);
        exit(64);
    }
    log_init(cli->prog, level);
    return first;
}
