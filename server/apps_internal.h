/* apps_internal.h - what the built-in applications share. They are written
 * against the embedding API (siogate.h) only, like any user's application. */
#ifndef SG_APPS_INTERNAL_H
#define SG_APPS_INTERNAL_H

#include "siogate.h"

/** One built-in application. */
typedef struct sg_app_def {
    const char *name;
    /** Adjust settings the user left at their defaults (may be NULL). */
    void (*defaults)(sg_config_t *cfg);
    /** Register namespaces and handlers; 0 or an SG_E* code. */
    int (*install)(sg_server_t *srv);
} sg_app_def_t;

extern const sg_app_def_t sg_app_chat;
extern const sg_app_def_t sg_app_testkit;
extern const sg_app_def_t sg_app_conformance;

/** Data holding the one value v (reference stolen). */
sg_data_t *sg_app__data1(json_t *v);
/** Emit / broadcast one value (stolen); the broadcast operator is consumed. */
void sg_app__emit1(sg_socket_t *s, const char *event, json_t *v);
void sg_app__bcast1(sg_bcast_t *b, const char *event, json_t *v);
/** Answer an ack with one value (stolen); a NULL ack just drops v. */
void sg_app__ack1(sg_ack_t *ack, json_t *v);
/** Emit "auth" with the handshake's auth object to a new socket. */
void sg_app__greet_auth(sg_socket_t *s, void *ud);

/** Length of UTF-8 text in UTF-16 code units (what a browser's maxlength and
 *  JavaScript's String#length count). */
size_t sg_app__js_length(const char *s, size_t n);
/** 1 when the text holds a C0 control character or DEL. */
int sg_app__has_control(const char *s, size_t n);

/** Testkit's cluster and legacy handlers (app_testkit_cluster.c). */
void sg_app__testkit_cluster(sg_nsp_t *nsp);

#endif
