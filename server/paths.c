/* paths.c - the default clientDir and staticDir (see paths.h).
 *
 * Candidates, first existing directory wins:
 *   1. code in a shared object (libsiogate.so): <its dir>/SG_LIB_TO_DATA/<leaf>
 *   2. <dir of /proc/self/exe>/SG_BIN_TO_DATA/<leaf>  (an installed siogate,
 *      wherever its prefix was moved)
 *   3. the executable lies in the build tree that compiled this file: the
 *      build's client/ and the source tree's server/www, taken whether they
 *      exist or not (what the tests and `deploy/dev.sh run` serve)
 *   4. SG_INSTALL_DATA_DIR/<leaf> (the configured prefix, e.g. for a program
 *      installed elsewhere that links the static libraries)
 * When none exists, the path of 1 or 2 is kept so that a missing install
 * shows where it was looked for. The build passes SG_* as definitions (see
 * server/CMakeLists.txt); without them only /proc/self/exe is used. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "paths.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef SG_BIN_TO_DATA
#define SG_BIN_TO_DATA "../share/siogate"
#endif
#ifndef SG_LIB_TO_DATA
#define SG_LIB_TO_DATA "../share/siogate"
#endif

char sg_paths_client_dir[SG_PATHS_MAX];
char sg_paths_static_dir[SG_PATHS_MAX];

static int is_dir(const char *p)
{
    struct stat st;
    return *p && stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir of the file at path (no trailing slash), or "" */
static void dir_of(const char *path, char *out, size_t len)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 0;
    if (!slash || n >= len) {
        out[0] = '\0';
        return;
    }
    memcpy(out, path, n);
    out[n] = '\0';
    if (n == 0)
        snprintf(out, len, "/");
}

/* base + "/" + rel + "/" + leaf, with rel's ".." taken off base lexically:
 * "/opt/x/bin" + "../share/siogate" + "www" = "/opt/x/share/siogate/www". */
static void join(char *out, size_t len, const char *base, const char *rel, const char *leaf)
{
    char buf[SG_PATHS_MAX];
    out[0] = '\0';
    if (!*base || snprintf(buf, sizeof buf, "%s", base) >= (int)sizeof buf)
        return;
    const char *p = rel;
    while (*p) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            char *slash = strrchr(buf, '/');
            if (slash && slash != buf)
                *slash = '\0';
            else
                snprintf(buf, sizeof buf, "/");
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            size_t l = strlen(buf);
            if (l + 1 + n >= sizeof buf)
                return;
            if (l == 0 || buf[l - 1] != '/')
                buf[l++] = '/';
            memcpy(buf + l, p, n);
            buf[l + n] = '\0';
        }
        p += n;
        while (*p == '/')
            p++;
    }
    if (snprintf(out, len, "%s%s%s", buf, strcmp(buf, "/") ? "/" : "", leaf) >= (int)len)
        out[0] = '\0';
}

/* Is path inside dir (both resolved)? */
static int inside(const char *path, const char *dir)
{
    char real[SG_PATHS_MAX];
    if (!realpath(dir, real))
        return 0;
    size_t n = strlen(real);
    return strncmp(path, real, n) == 0 && path[n] == '/';
}

static void pick(char *out, const char *lib_dir, const char *exe_dir, int in_build,
                 const char *build_path, const char *leaf)
{
    char cand[SG_PATHS_MAX], first[SG_PATHS_MAX] = "";
    if (*lib_dir) {
        join(cand, sizeof cand, lib_dir, SG_LIB_TO_DATA, leaf);
        if (is_dir(cand))
            goto found;
        snprintf(first, sizeof first, "%s", cand);
    }
    join(cand, sizeof cand, exe_dir, SG_BIN_TO_DATA, leaf);
    if (is_dir(cand))
        goto found;
    if (!*first)
        snprintf(first, sizeof first, "%s", cand);
    if (in_build && build_path) {
        snprintf(cand, sizeof cand, "%s", build_path);
        goto found;
    }
#ifdef SG_INSTALL_DATA_DIR
    join(cand, sizeof cand, SG_INSTALL_DATA_DIR, "", leaf);
    if (is_dir(cand))
        goto found;
#endif
    snprintf(cand, sizeof cand, "%s", first);
found:
    snprintf(out, SG_PATHS_MAX, "%s", cand);
}

void sg_paths_resolve(void)
{
    char exe[SG_PATHS_MAX], exe_dir[SG_PATHS_MAX] = "", lib_dir[SG_PATHS_MAX] = "";
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        dir_of(exe, exe_dir, sizeof exe_dir);
    } else {
        exe[0] = '\0';
    }

    /* Running from a shared object? glibc gives the main program an empty
     * link_map name. */
    Dl_info info;
    struct link_map *lm = NULL;
    if (dladdr1((void *)&sg_paths_resolve, &info, (void **)&lm, RTLD_DL_LINKMAP) && lm &&
        lm->l_name && lm->l_name[0]) {
        char real[SG_PATHS_MAX];
        if (realpath(lm->l_name, real))
            dir_of(real, lib_dir, sizeof lib_dir);
    }

    int in_build = 0;
    const char *build_client = NULL, *build_static = NULL;
#ifdef SG_BUILD_DIR
    in_build = *exe && inside(exe, SG_BUILD_DIR);
#endif
#ifdef SG_BUILD_CLIENT_DIR
    build_client = SG_BUILD_CLIENT_DIR;
#endif
#ifdef SG_BUILD_STATIC_DIR
    build_static = SG_BUILD_STATIC_DIR;
#endif
    pick(sg_paths_client_dir, lib_dir, exe_dir, in_build, build_client, "client");
    pick(sg_paths_static_dir, lib_dir, exe_dir, in_build, build_static, "www");
}

__attribute__((constructor)) static void sg_paths_init(void)
{
    sg_paths_resolve();
}
