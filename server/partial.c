/* partial.c - a Socket.IO packet whose binary attachments are still on
 * their way.
 *
 * The packet's text is kept as the client sent it, not as parsed JSON: a
 * parsed array of small numbers takes ~70 times its wire size, so twenty
 * clients announcing attachments they never send held 1.4 GB. The text is
 * validated when it arrives (and the parse thrown away), parsed again once
 * the last attachment is in. What one packet may hold in all, text plus
 * attachments, is bounded (maxBinaryPacketSize, twice maxHttpBufferSize by
 * default: one maximal attachment and its text), and the attachments must
 * arrive within attachmentTimeout. */
#include <stddef.h>
#include <string.h>

#include "log.h"
#include "sio_internal.h"
#include "util.h"

struct sg_partial {
    sg_session_t *sess;
    sg_buf_t *text;    /* the packet text, without the Engine.IO '4' */
    size_t expected;   /* attachments announced */
    size_t nbins;
    sg_buf_t **bins;
    size_t bytes;      /* text and attachments held */
    sg_timer_t timer;  /* attachmentTimeout */
};

static size_t limit_of(const sg_config_t *cfg)
{
    size_t l = cfg->max_binary_packet_size;
    return l ? l : 2 * cfg->max_http_buffer_size;
}

static void on_timeout(sg_timer_t *t)
{
    sg_partial_t *pt = (sg_partial_t *)((char *)t - offsetof(sg_partial_t, timer));
    sg_session_t *sess = pt->sess;
    SG_DEBUG(sess->eng->cfg, "session %s: binary attachments did not arrive in time", sess->sid);
    sg_session_close(sess, "forced close", 0); /* frees pt */
}

void sg_partial__free(sg_session_t *sess)
{
    sg_client_t *c = sg_client_of(sess);
    sg_partial_t *pt = c->partial;
    if (!pt)
        return;
    c->partial = NULL;
    sg_timer_stop(sess->eng->timers, &pt->timer);
    sg_buf_unref(pt->text);
    for (size_t i = 0; i < pt->nbins; i++)
        sg_buf_unref(pt->bins[i]);
    sg_free(pt->bins);
    sg_free(pt);
}

int sg_partial__start(sg_session_t *sess, const unsigned char *text, size_t len,
                      size_t attachments)
{
    const sg_config_t *cfg = sess->eng->cfg;
    if (sg_client_of(sess)->partial)
        return SG_ESTATE;
    if (len > limit_of(cfg))
        return SG_ETOOBIG;
    sg_partial_t *pt = sg_calloc(1, sizeof(*pt));
    pt->sess = sess;
    pt->text = sg_buf_new_copy(text, len);
    pt->expected = attachments;
    pt->bins = sg_calloc(attachments, sizeof(*pt->bins));
    pt->bytes = len;
    sg_timer_init(&pt->timer, on_timeout);
    sg_timer_in(sess->eng->timers, &pt->timer, cfg->attachment_timeout);
    sg_client_of(sess)->partial = pt;
    return 0;
}

int sg_partial__add(sg_session_t *sess, sg_buf_t *bin, sg_sio_packet_t *out)
{
    sg_partial_t *pt = sg_client_of(sess)->partial;
    const sg_config_t *cfg = sess->eng->cfg;
    if (!pt)
        return SG_ESTATE; /* binary that nobody announced */
    if (pt->bytes + bin->len > limit_of(cfg))
        return SG_ETOOBIG;
    pt->bins[pt->nbins++] = sg_buf_ref(bin);
    pt->bytes += bin->len;
    if (pt->nbins < pt->expected)
        return 0;
    /* Complete: parse the text again (it was valid on arrival) and give it
     * its attachments, which checks every placeholder. */
    sg_sio_limits_t lim = {cfg->max_attachments};
    int rc = sg_sio_decode(pt->text->data, pt->text->len, &lim, out);
    for (size_t i = 0; rc == 0 && i < pt->nbins; i++) {
        int r = sg_sio_add_attachment(out, pt->bins[i]);
        rc = r < 0 ? r : 0;
    }
    if (rc != 0)
        sg_sio_packet_clear(out);
    sg_partial__free(sess);
    return rc == 0 ? 1 : rc;
}
