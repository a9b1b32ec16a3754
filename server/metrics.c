/* metrics.c - see metrics.h. */
#include "metrics.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "server_internal.h"
#include "sio_internal.h"

__attribute__((format(printf, 2, 3))) static void put(sg_sbuf_t *o, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n > 0)
        sg_sbuf_append(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static void head(sg_sbuf_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(sg_sbuf_t *o, const char *name, const char *type, const char *help,
                unsigned long long v)
{
    head(o, name, type, help);
    put(o, "%s %llu\n", name, v);
}

/* A label value: backslash, double quote and newline escaped. */
static void label_value(sg_sbuf_t *o, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sg_sbuf_putc(o, '\\');
        if (*v == '\n') {
            sg_sbuf_puts(o, "\\n");
            continue;
        }
        sg_sbuf_putc(o, *v);
    }
}

static void engineio(sg_sbuf_t *o, const sg_stats_t *st)
{
    head(o, "engineio_sessions", "gauge", "Engine.IO sessions open, by transport.");
    put(o, "engineio_sessions{transport=\"polling\"} %llu\n", (unsigned long long)st->sessions[0]);
    put(o, "engineio_sessions{transport=\"websocket\"} %llu\n",
        (unsigned long long)st->sessions[1]);
    one(o, "engineio_sessions_opened_total", "counter", "Engine.IO handshakes accepted.",
        st->sessions_opened);
    static const char *const reasons[SG_CLOSE_REASONS] = {
        "transport close", "transport error", "ping timeout", "parse error",
        "forced close",    "server shutting down", "other"};
    head(o, "engineio_sessions_closed_total", "counter", "Engine.IO sessions closed, by reason.");
    for (int i = 0; i < SG_CLOSE_REASONS; i++)
        put(o, "engineio_sessions_closed_total{reason=\"%s\"} %llu\n", reasons[i],
            (unsigned long long)st->sessions_closed[i]);
    one(o, "engineio_upgrades_total", "counter", "Sessions upgraded from polling to WebSocket.",
        st->upgrades);
    one(o, "engineio_handshakes_refused_total", "counter",
        "Handshakes refused because maxSessions was reached.", st->refused_full);
    one(o, "engineio_packets_received_total", "counter", "Engine.IO packets received.",
        st->packets_in);
    one(o, "engineio_received_bytes_total", "counter", "Payload bytes of the packets received.",
        st->bytes_in);
    one(o, "engineio_packets_sent_total", "counter", "Engine.IO packets queued to clients.",
        st->packets_out);
    one(o, "engineio_sent_bytes_total", "counter", "Payload bytes queued to clients.",
        st->bytes_out);
    one(o, "engineio_output_queue_bytes", "gauge", "Bytes waiting in every output queue.",
        st->queue_bytes);
    one(o, "engineio_volatile_dropped_total", "counter",
        "Volatile packets dropped because the transport was not writable.", st->drops_volatile);
    one(o, "engineio_slow_consumer_closes_total", "counter",
        "Clients closed for an output queue over outqHardLimit / outqSoftLimit.",
        st->slow_closes);
}

/* A gauge with one sample per namespace. */
static void per_nsp(sg_sbuf_t *o, sg_server_t *srv, const char *name, const char *help,
                    size_t (*count)(const sg_adapter_t *))
{
    head(o, name, "gauge", help);
    for (sg_nsp_t *n = srv->nsps; n; n = n->next) {
        put(o, "%s{namespace=\"", name);
        label_value(o, n->name);
        put(o, "\"} %zu\n", count(n->adapter));
    }
}

static void socketio(sg_sbuf_t *o, sg_server_t *srv)
{
    const sg_stats_t *st = &srv->stats;
    per_nsp(o, srv, "socketio_sockets", "Sockets connected, by namespace.",
            sg_adapter_socket_count);
    per_nsp(o, srv, "socketio_rooms",
            "Rooms with members here (socket-id rooms not counted), by namespace.",
            sg_adapter_room_count);
    one(o, "socketio_connects_total", "counter", "Sockets connected to a namespace.",
        st->connects);
    one(o, "socketio_disconnects_total", "counter", "Sockets disconnected from a namespace.",
        st->disconnects);
    one(o, "socketio_events_received_total", "counter", "EVENT packets received from clients.",
        st->events_in);
    one(o, "socketio_broadcasts_total", "counter", "Broadcasts issued by this node.",
        st->broadcasts);
    one(o, "socketio_broadcast_deliveries_total", "counter",
        "Packets queued to clients by broadcasts (local and from other nodes), one per "
        "recipient.",
        st->deliveries);
    one(o, "socketio_acks_pending", "gauge", "Acknowledgements awaited from clients.",
        st->acks_pending);
    one(o, "socketio_ack_timeouts_total", "counter", "Acknowledgements that timed out.",
        st->acks_timeouts);
}

static void adapter(sg_sbuf_t *o, sg_server_t *srv)
{
    const char *state = srv->backend ? sg_backend_state(srv->backend) : "single";
    head(o, "siogate_adapter_info", "gauge", "The cluster adapter and its connection state.");
    sg_sbuf_puts(o, "siogate_adapter_info{adapter=\"");
    label_value(o, srv->cfg.adapter);
    put(o, "\",state=\"%s\"} 1\n", state);
    one(o, "siogate_adapter_up", "gauge",
        "1 when the adapter can reach the other nodes (or there are none), else 0.",
        !strcmp(state, "ready") || !strcmp(state, "single"));
    sg_backend_stats_t bs;
    sg_backend_stats(srv->backend, &bs);
    if (bs.has_redis) {
        one(o, "siogate_redis_reconnects_total", "counter",
            "Redis connections ready again after a loss.", bs.reconnects);
        one(o, "siogate_redis_connect_timeouts_total", "counter",
            "Redis connection attempts abandoned after redisConnectTimeout.", bs.timeouts);
        one(o, "siogate_redis_dropped_total", "counter",
            "Publishes and commands refused for redisOutputLimit.", bs.dropped);
        one(o, "siogate_redis_pending_bytes", "gauge",
            "Bytes of commands sent to Redis and not yet answered.", bs.pending_bytes);
        one(o, "siogate_redis_pending_commands", "gauge",
            "Commands sent to Redis and not yet answered.", bs.pending_cmds);
    }
    if (bs.has_outbox) {
        one(o, "siogate_streams_outbox_entries", "gauge",
            "Stream entries waiting for Redis (Streams adapter).", bs.outbox_entries);
        one(o, "siogate_streams_outbox_bytes", "gauge", "Bytes of those entries.",
            bs.outbox_bytes);
        one(o, "siogate_streams_outbox_dropped_total", "counter",
            "Entries dropped from a full outbox.", bs.outbox_dropped);
        one(o, "siogate_streams_written_total", "counter", "Stream entries Redis acknowledged.",
            bs.written);
        one(o, "siogate_streams_read_total", "counter", "Stream entries read from other nodes.",
            bs.read);
        one(o, "siogate_streams_skipped_total", "counter",
            "Stream entries read and dropped as malformed.", bs.skipped);
    }
}

static unsigned long long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    unsigned long long n = 0;
    if (!d)
        return 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n ? n - 1 : 0; /* the directory's own descriptor */
}

static void process(sg_sbuf_t *o, sg_server_t *srv)
{
    unsigned long long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%llu %llu", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    long page = sysconf(_SC_PAGESIZE);
    one(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
        rss * (unsigned long long)(page > 0 ? page : 4096));
    one(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
        pages * (unsigned long long)(page > 0 ? page : 4096));
    one(o, "process_open_fds", "gauge", "Open file descriptors.", open_fds());
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        one(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
            (unsigned long long)rl.rlim_cur);
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        head(o, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.");
        put(o, "process_cpu_seconds_total %.6f\n",
            (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                ru.ru_stime.tv_usec / 1e6);
    }
    head(o, "process_start_time_seconds", "gauge",
         "Start time of the process since the Unix epoch in seconds.");
    put(o, "process_start_time_seconds %.3f\n", srv->started_at);
}

void sg_metrics_render(sg_server_t *srv, sg_sbuf_t *out)
{
    engineio(out, &srv->stats);
    socketio(out, srv);
    one(out, "siogate_connections", "gauge", "TCP connections held (clients, probes, requests).",
        srv->listener.conns);
    one(out, "siogate_draining", "gauge", "1 while the node drains before it exits.",
        srv->draining);
    adapter(out, srv);
    for (size_t i = 0; i < srv->nmetrics; i++)
        srv->metrics[i].fn(srv->metrics[i].ud, out);
    process(out, srv);
}

void sg_metrics_head(sg_sbuf_t *o, const char *name, const char *type, const char *help)
{
    head(o, name, type, help);
}

void sg_metrics_one(sg_sbuf_t *o, const char *name, const char *type, const char *help,
                    unsigned long long v)
{
    one(o, name, type, help, v);
}

void sg_metrics_labelled(sg_sbuf_t *o, const char *name, const char *label, const char *value,
                         unsigned long long v)
{
    put(o, "%s{%s=\"", name, label);
    label_value(o, value);
    put(o, "\"} %llu\n", v);
}
