/* cluster_world.h - the fake transport and fake server test_cluster.c runs
 * the cluster code with (see cluster_world.c). */
#ifndef SG_TEST_CLUSTER_WORLD_H
#define SG_TEST_CLUSTER_WORLD_H

#include <uv.h>

#include "cluster.h"
#include "json.h"
#include "sio.h"

#define MAXS 8
#define MAXPENDING 64

#define assert_json_equal(ctx, want, got)                                                          \
    do {                                                                                           \
        char *w_ = dump(want), *g_ = dump(got);                                                    \
        if (strcmp(w_, g_) != 0)                                                                   \
            fail_msg("%s:\n  want %s\n  got  %s", ctx, w_, g_);                                    \
        sg_free(w_);                                                                               \
        sg_free(g_);                                                                               \
    } while (0)

typedef struct tsock {
    sg_asock_t a; /* first: the host casts back */
    char id[32];
    int removed;
} tsock_t;

typedef struct pending {
    sg_cluster_published_cb pcb;
    sg_cluster_count_cb ccb;
    void *ud;
} pending_t;

typedef struct world {
    uv_loop_t loop;
    json_t *fx;
    const char *me; /* the Node server this world plays: "A", "B", "H1"... */
    sg_adapter_t *a;
    sg_cluster_t *c;
    char uid[SG_CLUSTER_ID_LEN + 1]; /* the cluster's, kept past its close */
    sg_adapter_env_t env;
    sg_cluster_opts_t copts;
    tsock_t socks[MAXS];
    size_t nsocks;
    /* Transport. */
    json_t *pubs; /* [{op, to?, msg}] in fixture form */
    pending_t pend[MAXPENDING];
    size_t npend;
    int fail_publish, fail_count;
    /* Host. */
    json_t *recv;                /* client name -> what it received */
    json_t *disc;                /* [[client, close]] */
    json_t *events;              /* serverSideEmit events the handlers logged */
    json_t *describe;            /* socket id -> RemoteSocket */
    sg_adapter_reply_t *fwd[16]; /* broadcasts with acks awaiting client acks */
    json_t *fwd_to[16];          /* [client, event] per forward */
    size_t nfwd;
    sg_adapter_reply_t *kept; /* a serverSideEmit reply the test answers itself */
    int64_t next_ack_id;
    unsigned last_ack_timeout;
    /* Results. */
    json_t *results; /* [{err, msg, results}] of fetch / serverSideEmit */
    int outstanding;
    json_t *sink;    /* broadcast-with-ack sink calls */
    json_t *offsets; /* offset hook calls */
    int logs[4];
} world_t;

/* JSON text in JavaScript's key order (sg_free it). */
char *dump(const json_t *v);
json_t *parse(const char *s);
/* s with every occurrence of from replaced by to (s is freed). */
char *subst(char *s, const char *from, const char *to);
/* Fixture form ({"$bin":"hex"}) <-> seam form (placeholders into bins). */
json_t *from_fx(const json_t *v, sg_buf_t ***bins, size_t *nbins);
json_t *to_fx(const json_t *v, sg_buf_t *const *bins, size_t nbins);
json_t *bin_fx(const sg_buf_t *b);
void free_bins(sg_buf_t **bins, size_t n);
json_t *load_fixture(void);
const json_t *scenario(const world_t *w, const char *name);

/* A world for Node server `me` ("A", "B", "H1", ...), with its sockets as
 * scenario rooms_from left them (NULL: none). world_open opens the adapter
 * (the cluster is created then); world_free closes everything, answers
 * what the transport still owes (after the cluster is gone) and runs the
 * loop until every handle closed. */
world_t *world_new(const char *me, const char *rooms_from, int heartbeat);
void world_open(world_t *w);
void world_free(world_t *w);
void world_add_socket(world_t *w, const char *id, const json_t *rooms);
/* sg_adapter_close: the cluster is freed (ADAPTER_CLOSE with heartbeats). */
void close_cluster(world_t *w);
/* The transport answers everything pending, in order: publishes with
 * status and offset, server counts with status and count. */
void tp_answer(world_t *w, int status, const char *offset, size_t count);
/* The clients of pending broadcasts with acks answer, as the recorder's. */
void ack_all(world_t *w);

/* Result callback of fetch / serverSideEmit (appends to w->results,
 * decrements w->outstanding), the broadcast-with-ack sink (appends to
 * w->sink), the offset hook (appends to w->offsets; appends the offset to
 * remote broadcasts). */
void on_result(void *ud, int err, const char *msg, const json_t *results);
extern const sg_adapter_ack_sink_t sg_test_sink;
void on_offset(void *ud, sg_sio_packet_t *pkt, const sg_bcast_opts_t *opts, const char *offset,
               int remote);
void run_until_results(world_t *w);

#endif
