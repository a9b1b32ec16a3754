/* static.c - files served over plain HTTP: the demo page (staticDir) and
 * the official client bundle (clientDir), with an ETag validator. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "static.h"
#include "util.h"

static const char *mime_of(const char *path)
{
    const char *dot = strrchr(path, '.');
    if (!dot)
        return "application/octet-stream";
    if (!strcmp(dot, ".html"))
        return "text/html; charset=utf-8";
    if (!strcmp(dot, ".js"))
        return "application/javascript; charset=utf-8";
    if (!strcmp(dot, ".css"))
        return "text/css; charset=utf-8";
    if (!strcmp(dot, ".map") || !strcmp(dot, ".json"))
        return "application/json; charset=utf-8";
    if (!strcmp(dot, ".png"))
        return "image/png";
    if (!strcmp(dot, ".svg"))
        return "image/svg+xml";
    if (!strcmp(dot, ".ico"))
        return "image/x-icon";
    return "application/octet-stream";
}

#define SG_STATIC_MAX (16u << 20)

int sg_static_serve(struct lws *wsi, const char *dir, const char *rel, int head_only)
{
    char full[2048];
    struct stat st;
    if (!dir || !*dir || strstr(rel, "..") || rel[0] == '\0')
        goto not_found;
    snprintf(full, sizeof(full), "%s/%s", dir, rel);
    int fd = open(full, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        goto not_found;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > SG_STATIC_MAX) {
        close(fd);
        goto not_found;
    }
    /* Validator from size and modification time: cheap, and it changes
     * whenever the npm package is reinstalled with another version. */
    char etag[64], inm[128], hdrs[160];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    snprintf(hdrs, sizeof(hdrs), "Cache-Control: public, max-age=0\r\nETag: %s\r\n", etag);
    if (sg_http_header(wsi, WSI_TOKEN_HTTP_IF_NONE_MATCH, inm, sizeof(inm)) >= 0 && !strcmp(inm, etag)) {
        close(fd);
        return sg_http_respond(wsi, 304, NULL, hdrs, NULL, 0);
    }
    size_t len = (size_t)st.st_size, got = 0;
    char *body = sg_malloc(len ? len : 1);
    while (got < len) {
        ssize_t n = read(fd, body + got, len - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    int rc = sg_http_respond(wsi, 200, mime_of(full), hdrs, body, head_only ? 0 : got);
    sg_free(body);
    return rc;
not_found:
    return sg_http_respond(wsi, 404, "text/plain; charset=utf-8", NULL, "Not Found", 9);
}

/* The official client bundle, served under the endpoint path. */
static const char *const client_files[] = {
    "socket.io.js",           "socket.io.js.map",           "socket.io.min.js",
    "socket.io.min.js.map",   "socket.io.msgpack.min.js",   "socket.io.msgpack.min.js.map",
    "socket.io.esm.min.js",   "socket.io.esm.min.js.map",   NULL};

int sg_static_client(struct lws *wsi, const char *dir, const char *name, int head_only)
{
    for (int i = 0; client_files[i]; i++)
        if (!strcmp(name, client_files[i]))
            return sg_static_serve(wsi, dir, client_files[i], head_only);
    return 1;
}
