/*
 * sse_curve: ZeroMQ CURVE keys, so that a broker reached over tcp talks
 * only encrypted, and (with a list of client keys) only to workers and
 * publishers it knows.
 *
 * Key files hold Z85 text: a secret file has the lines "public KEY" and
 * "secret KEY" (mode 0600), a public file the 40-character public key
 * alone. sse-broker --keygen FILE writes FILE and FILE.pub.
 */
#ifndef SSE_CURVE_H
#define SSE_CURVE_H

#include <stddef.h>

#define SSE_CURVE_KEY_LEN 40   /* Z85 characters in a key */

/* Write a new key pair: path (secret, mode 0600) and path.pub. Returns 0,
 * or -1 with a one-line message in err. */
int sse_curve_keygen(const char *path, char *err, size_t errlen);

/* Read a key file: a secret file fills pub and sec, a public file pub
 * alone (sec is then ""). pub and sec have room for 41 bytes. Returns 0,
 * or -1 with a one-line message in err. */
int sse_curve_read(const char *path, char *pub, char *sec, char *err,
                   size_t errlen);

/* Make sock a CURVE server with the secret key in key_file, asking ZAP
 * about every client. Returns 0 or -1 with err set. */
int sse_curve_server(void *sock, const char *key_file, char *err,
                     size_t errlen);

/* Make sock a CURVE client of the broker whose public key is in
 * server_file, with the key pair in key_file (NULL: a new one for this
 * process, enough when the broker accepts any client). Returns 0 or -1
 * with err set. */
int sse_curve_client(void *sock, const char *server_file,
                     const char *key_file, char *err, size_t errlen);

#endif /* SSE_CURVE_H */
