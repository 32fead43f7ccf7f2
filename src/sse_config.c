/*
 * sse_config: where the broker, the workers and sse-push find each other.
 *
 * All three programs build their default endpoints here from one runtime
 * directory, so that with no flags at all they agree on the same ipc
 * sockets; an explicit endpoint always wins, which is how tcp:// is used.
 */
#include "config.h"

#include <assert.h>
#include <string.h>

#include "sse_config.h"
#include "sse_xmalloc.h"

#define IPC_SCHEME "ipc://"

const char *
sse_config_rundir(const char *rundir)
{
    return rundir != NULL && rundir[0] != '\0' ? rundir : SSE_RUNDIR_DEFAULT;
}

char *
sse_config_endpoint(const char *explicit_ep, const char *rundir,
                    const char *sockname)
{
    const char *dir;
    size_t dirlen, namelen, len;
    char *ep, *p;

    if (explicit_ep != NULL && explicit_ep[0] != '\0')
        return xstrdup(explicit_ep);

    assert(sockname != NULL);
    dir = sse_config_rundir(rundir);
    dirlen = strlen(dir);
    /* "/run/sse/" and "/run/sse" name the same directory: no "//". */
    if (dirlen > 0 && dir[dirlen - 1] == '/')
        dirlen--;
    namelen = strlen(sockname);

    len = strlen(IPC_SCHEME) + dirlen + 1 + namelen;
    p = ep = xmalloc(len + 1);
    memcpy(p, IPC_SCHEME, strlen(IPC_SCHEME));
    p += strlen(IPC_SCHEME);
    memcpy(p, dir, dirlen);
    p += dirlen;
    *p++ = '/';
    memcpy(p, sockname, namelen);
    p[namelen] = '\0';
    return ep;
}

const char *
sse_config_ipc_path(const char *endpoint)
{
    size_t n = strlen(IPC_SCHEME);

    /* An empty path names no socket file, so it is not an ipc path. */
    if (endpoint == NULL || strncmp(endpoint, IPC_SCHEME, n) != 0 ||
        endpoint[n] == '\0')
        return NULL;
    return endpoint + n;
}

int
sse_config_listed(const char *list, const char *word, size_t len)
{
    while (*list != '\0') {
        size_t n;

        list += strspn(list, " \t,");
        n = strcspn(list, " \t,");
        if (n > 0 && n == len && memcmp(list, word, n) == 0)
            return 1;
        list += n;
    }
    return 0;
}
