#!/usr/bin/env bash
# cluster.sh - a local siogate cluster: redis-server, three siogate nodes with
# the Redis adapter, and nginx with sticky sessions in front of them.
#
#   deploy/cluster.sh up       start everything (ports below), print the URL
#   deploy/cluster.sh down     stop exactly what `up` started
#   deploy/cluster.sh status   show what is running
#
# Runs as an ordinary user and touches no system service: every process gets
# its pid file and log in $SG_CLUSTER_DIR (default: build/cluster). Ports can
# be moved with SG_FRONT_PORT (3000), SG_NODE_PORTS ("3001 3002 3003") and
# SG_REDIS_PORT (6390). Build first (deploy/dev.sh build).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
dir=${SG_CLUSTER_DIR:-$top/build/cluster}
front=${SG_FRONT_PORT:-3000}
nodes=(${SG_NODE_PORTS:-3001 3002 3003})
redis_port=${SG_REDIS_PORT:-6390}
bin=${SG_BIN:-$top/build/server/siogate}
nginx_bin=${SG_NGINX:-/usr/sbin/nginx}
redis_bin=${SG_REDIS:-/usr/bin/redis-server}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() { # host port seconds
    local end=$((SECONDS + $3))
    until (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; do
        [ $SECONDS -lt $end ] || { echo "cluster.sh: nothing listens on $1:$2" >&2; return 1; }
        sleep 0.1
    done
}

nginx_conf() {
    local servers=""
    for p in "${nodes[@]}"; do servers+="    server 127.0.0.1:$p;\n"; done
    cat <<CONF
worker_processes 1;
daemon on;
pid $dir/nginx.pid;
error_log $dir/nginx.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
$(sed -e "/^ *server 127.0.0.1:300[1-3];/d" \
      -e "s/^\( *hash .*\)$/\1\n$servers/" \
      -e "s/listen 127.0.0.1:3000;/listen 127.0.0.1:$front;/" deploy/nginx/siogate.conf)
}
CONF
}

up() {
    mkdir -p "$dir/tmp"
    [ -x "$bin" ] || { echo "cluster.sh: $bin not built (deploy/dev.sh build)" >&2; exit 1; }
    if ! alive "$dir/redis.pid"; then
        "$redis_bin" --bind 127.0.0.1 --port "$redis_port" --save "" --appendonly no \
            --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
        wait_port 127.0.0.1 "$redis_port" 10
    fi
    for p in "${nodes[@]}"; do
        alive "$dir/node-$p.pid" && continue
        "$bin" --host 127.0.0.1 --port "$p" --adapter redis \
            --set redisUrl="redis://127.0.0.1:$redis_port" ${SG_NODE_ARGS:-} \
            >"$dir/node-$p.log" 2>&1 &
        echo $! >"$dir/node-$p.pid"
    done
    for p in "${nodes[@]}"; do wait_port 127.0.0.1 "$p" 20; done
    if ! alive "$dir/nginx.pid"; then
        nginx_conf >"$dir/nginx.conf"
        "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/nginx.log"
        wait_port 127.0.0.1 "$front" 10
    fi
    echo "siogate cluster up: http://127.0.0.1:$front/ (nodes ${nodes[*]}, redis $redis_port, state in $dir)"
}

stop_pid() { # pidfile
    alive "$1" || { rm -f "$1"; return 0; }
    local pid; pid=$(cat "$1")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    rm -f "$1"
}

down() {
    [ -d "$dir" ] || return 0
    stop_pid "$dir/nginx.pid"
    for f in "$dir"/node-*.pid; do [ -e "$f" ] && stop_pid "$f"; done
    stop_pid "$dir/redis.pid"
    echo "siogate cluster down"
}

status() {
    local f
    for f in "$dir/redis.pid" "$dir"/node-*.pid "$dir/nginx.pid"; do
        [ -e "$f" ] || continue
        if alive "$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$f"))"
        else echo "$(basename "$f" .pid): not running"; fi
    done
}

case "${1:-}" in
up) up ;;
down) down ;;
status) status ;;
nginx-conf) nginx_conf ;;
*) sed -n '2,12p' "$0" >&2; exit 2 ;;
esac
