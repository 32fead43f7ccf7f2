/*
 * sse_curve: CURVE key files and socket setup.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "sse_curve.h"

static int
valid_z85(const char *s)
{
    unsigned char bin[32];

    return strlen(s) == SSE_CURVE_KEY_LEN &&
        zmq_z85_decode(bin, s) != NULL;
}

int
sse_curve_keygen(const char *path, char *err, size_t errlen)
{
    char pub[41], sec[41], pubpath[4096];
    FILE *fp;
    int fd;

    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "this libzmq has no CURVE support");
        return -1;
    }
    if ((size_t)snprintf(pubpath, sizeof(pubpath), "%s.pub", path) >=
        sizeof(pubpath)) {
        snprintf(err, errlen, "path too long");
        return -1;
    }
    /* The secret is never readable by others, not even for a moment. */
    if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
        (fp = fdopen(fd, "w")) == NULL) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fprintf(fp, "public %s\nsecret %s\n", pub, sec);
    explicit_bzero(sec, sizeof(sec));
    if (fclose(fp) != 0 || (fp = fopen(pubpath, "w")) == NULL) {
        snprintf(err, errlen, "cannot write %s: %s", pubpath,
                 strerror(errno));
        return -1;
    }
    fprintf(fp, "%s\n", pub);
    if (fclose(fp) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", pubpath,
                 strerror(errno));
        return -1;
    }
    return 0;
}

int
sse_curve_read(const char *path, char *pub, char *sec, char *err,
               size_t errlen)
{
    char line[256];
    FILE *fp = fopen(path, "r");
    int lines = 0;

    pub[0] = sec[0] = '\0';
    if (fp == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *v = line;

        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '\0' || line[0] == '#')
            continue;
        lines++;
        if (strncmp(line, "public ", 7) == 0)
            v = line + 7;
        else if (strncmp(line, "secret ", 7) == 0) {
            if (!valid_z85(line + 7))
                break;
            memcpy(sec, line + 7, 41);
            continue;
        }
        if (!valid_z85(v))
            break;
        memcpy(pub, v, 41);
    }
    explicit_bzero(line, sizeof(line));
    fclose(fp);
    if (pub[0] == '\0' || lines == 0 || (sec[0] == '\0' && lines > 1)) {
        snprintf(err, errlen, "%s is not a key file (sse-broker --keygen "
                 "writes them)", path);
        return -1;
    }
    return 0;
}

int
sse_curve_server(void *sock, const char *key_file, char *err, size_t errlen)
{
    char pub[41], sec[41];
    int one = 1, rc;

    if (sse_curve_read(key_file, pub, sec, err, errlen) != 0)
        return -1;
    if (sec[0] == '\0') {
        snprintf(err, errlen, "%s holds no secret key", key_file);
        return -1;
    }
    rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof(one)) |
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40) |
        zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "sse-gateway", 11);
    explicit_bzero(sec, sizeof(sec));
    if (rc != 0) {
        snprintf(err, errlen, "CURVE: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int
sse_curve_client(void *sock, const char *server_file, const char *key_file,
                 char *err, size_t errlen)
{
    char server[41], spare[41], pub[41], sec[41];
    int rc;

    if (sse_curve_read(server_file, server, spare, err, errlen) != 0)
        return -1;
    if (key_file != NULL) {
        if (sse_curve_read(key_file, pub, sec, err, errlen) != 0)
            return -1;
        if (sec[0] == '\0') {
            snprintf(err, errlen, "%s holds no secret key", key_file);
            return -1;
        }
    } else if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "this libzmq has no CURVE support");
        return -1;
    }
    rc = zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 40) |
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40) |
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
    explicit_bzero(sec, sizeof(sec));
    if (rc != 0) {
        snprintf(err, errlen, "CURVE: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}
