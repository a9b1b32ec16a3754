/* paths.h - where the official client bundle (clientDir) and the chat page
 * (staticDir) are by default.
 *
 * Installed, they are <prefix>/share/siogate/client and .../www, found from
 * where the running code is (so a relocated prefix works); in the build tree,
 * the build's client/ and the source tree's server/www. The settings table
 * (config_table.c) uses these buffers as the rows' defaults; they are filled
 * before main() runs (a constructor), never written afterwards. */
#ifndef SG_PATHS_H
#define SG_PATHS_H

#define SG_PATHS_MAX 4096

extern char sg_paths_client_dir[SG_PATHS_MAX];
extern char sg_paths_static_dir[SG_PATHS_MAX];

/** Fill both buffers (idempotent; the constructor calls it). */
void sg_paths_resolve(void);

#endif
