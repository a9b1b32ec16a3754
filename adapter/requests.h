/* requests.h - requests this node made to the other nodes of a cluster,
 * backend-neutral: a table by requestId, completion by a response count or
 * by a set of peers, one deadline per request (one uv timer per table), and
 * a result reported exactly once.
 *
 * Completion modes:
 *  - SG_REQUEST_COUNT: done once `expected` responses were accepted. The
 *    expected count (server count - 1) may be set after the request started,
 *    when the server count comes back; until then responses accumulate.
 *  - SG_REQUEST_PEERS: done once every peer uid given at start has answered
 *    or has been removed (sg_requests_peer_gone: expiry, ADAPTER_CLOSE).
 *    Started with no peer, it completes (successfully, empty) on the next
 *    loop iteration.
 *  - SG_REQUEST_OPEN: never completes by responses; only by its deadline,
 *    sg_request_finish or the table closing (broadcasts with acks, whose
 *    responses the backend forwards itself).
 *
 * Timeout texts are Node's: COUNT "timeout reached: only X responses
 * received out of Y" (ClusterAdapter), PEERS "timeout reached: missing N
 * responses" (ClusterAdapterWithHeartbeat), unless the request has a fixed
 * text (the classic adapter's "timeout reached while waiting for
 * fetchSockets response"). */
#ifndef SG_REQUESTS_H
#define SG_REQUESTS_H

#include <stddef.h>
#include <jansson.h>

#include "adapter.h"

struct uv_loop_s;
typedef struct sg_requests sg_requests_t;
typedef struct sg_request sg_request_t;

typedef enum {
    SG_REQUEST_COUNT = 0,
    SG_REQUEST_PEERS = 1,
    SG_REQUEST_OPEN = 2,
} sg_request_mode_t;

/** Responses one request accepts at most (COUNT mode before the expected
 *  count is known; a bound against a flood, far above any cluster size). */
#define SG_REQUEST_MAX_RESPONSES 4096

typedef struct sg_request_params {
    const char *id; /* requestId, copied; must not be pending in the table */
    size_t id_len;
    int kind; /* the backend's tag, returned by sg_request_kind */
    sg_request_mode_t mode;
    unsigned timeout_ms;      /* 0: no deadline (capped at one hour) */
    const char *timeout_text; /* NULL: Node's text for the mode (see above) */
    int keep_partial;         /* on error, report the results so far (else []) */
    const sg_name_t *peers;   /* SG_REQUEST_PEERS: uids (copied) */
    size_t npeers;
    /** Called exactly once, unless the request is cancelled: err 0,
     *  SG_ETIMEOUT (msg: the timeout text), SG_ESTATE (table closed) or
     *  whatever sg_request_finish was given. results is a borrowed array. */
    sg_adapter_result_cb cb;
    void *ud;
} sg_request_params_t;

/** A table on loop. Free with sg_requests_free. */
sg_requests_t *sg_requests_new(struct uv_loop_s *loop);
/** Fail every pending request (SG_ESTATE, "adapter closed"), then release the
 *  table once its timer handle has closed (the loop must run on). Starting a
 *  request from one of those callbacks fails. NULL is a no-op. */
void sg_requests_free(sg_requests_t *t);

/** Start a request. Returns 0 and *out (borrowed: valid while pending, or
 *  while the caller holds a reference), SG_EINVAL when the id is pending
 *  already or the params are inconsistent, SG_ESTATE when the table is
 *  closing. */
int sg_requests_start(sg_requests_t *t, const sg_request_params_t *p, sg_request_t **out);
/** The pending request with this id, or NULL. */
sg_request_t *sg_requests_find(const sg_requests_t *t, const char *id, size_t len);
size_t sg_requests_count(const sg_requests_t *t);
/** Peer uid is gone: every pending PEERS request stops waiting for it (and
 *  completes if it was the last one missing). */
void sg_requests_peer_gone(sg_requests_t *t, const char *uid, size_t len);

/** Keep q allocated past its completion (an asynchronous step still refers
 *  to it); check sg_request_pending before using it again. */
sg_request_t *sg_request_ref(sg_request_t *q);
void sg_request_unref(sg_request_t *q);
/** 1 while q waits for its result. */
int sg_request_pending(const sg_request_t *q);
const char *sg_request_id(const sg_request_t *q);
int sg_request_kind(const sg_request_t *q);
void *sg_request_ud(const sg_request_t *q);
sg_request_mode_t sg_request_mode(const sg_request_t *q);

/** COUNT mode: the number of responses to wait for. Completes q at once
 *  (synchronously) when that many were accepted already. */
void sg_request_set_expected(sg_request_t *q, size_t expected);

typedef enum {
    SG_REQUEST_COUNT_ONLY = 0, /* counts, nothing added to the results */
    SG_REQUEST_APPEND = 1,     /* value (NULL: null) appended to the results */
    SG_REQUEST_EXTEND = 2,     /* each element of the array value appended */
} sg_request_add_t;

/** One response to a pending COUNT or PEERS request from the node `from`
 *  (NULL: unknown sender, as in the classic protocol). A response is
 *  ignored when it is a second one from the same sender, when in PEERS mode
 *  the sender is not a peer it waits for, or past SG_REQUEST_MAX_RESPONSES.
 *  Returns 1 when accepted (then q may have completed, synchronously), 0
 *  when ignored. value is borrowed. */
int sg_request_respond(sg_request_t *q, const char *from, size_t from_len, const json_t *value,
                       sg_request_add_t how);

/** Complete q now with err (0: the results so far) and msg. No-op when q is
 *  not pending. */
void sg_request_finish(sg_request_t *q, int err, const char *msg);
/** Forget q: no callback. No-op when q is not pending. */
void sg_request_cancel(sg_request_t *q);

#endif
