#!/usr/bin/env bash
# dev.sh - set up, build, run and test siogate on a Debian machine.
#
#   deploy/dev.sh run [siogate flags...]  install what is missing, build, start on 127.0.0.1:3000
#   deploy/dev.sh test                    install what is missing, build, run the whole suite
#   deploy/dev.sh build                   install what is missing and build only
#
# SG_SANITIZE=1 builds and tests with AddressSanitizer + UndefinedBehaviorSanitizer
# (in build-asan/). Installing needs root (or sudo) the first time only.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD

# Debian packages: the build, the tests (node/npm drive the official clients,
# chromium runs the demo page, redis-server (also as Redis Cluster nodes),
# redis-sentinel and nginx for the cluster tests,
# valgrind for the valgrind_* memcheck entries, see tests/valgrind/;
# prometheus for promtool, which checks /metrics; openssl makes the
# throw-away certificates of tls.test.js; file lets CPack run dpkg-shlibdeps
# and systemd has systemd-analyze, both for tests/install; python3-redis and
# python3-msgpack run the Python gateway worker of examples/).
packages=(build-essential cmake pkg-config
          libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libhiredis-dev
          libmsgpack-dev libjansson-dev libcmocka-dev libssl-dev)
test_packages=(chromium redis-server redis-sentinel nginx-light gnuplot-nox valgrind prometheus openssl
               file systemd python3-redis python3-msgpack)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "dev.sh: need root to run: $*" >&2; return 1; fi
}

install_packages() {
    local missing=()
    for p in "$@"; do
        [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
    done
    command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
    if [ ${#missing[@]} -gt 0 ]; then
        echo "dev.sh: installing ${missing[*]}"
        as_root apt-get update -q
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
}

install_npm() {
    # tests/integration: the official client bundle that siogate serves, the
    # test clients and Node peers; tests/bench: the Node server it compares to.
    local dir stamp
    for dir in tests/integration tests/bench; do
        stamp=$dir/node_modules/.sg-lock
        if [ ! -f "$stamp" ] || ! cmp -s "$dir/package-lock.json" "$stamp"; then
            echo "dev.sh: npm ci in $dir"
            (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
            cp "$dir/package-lock.json" "$stamp"
        fi
    done
}

build() {
    local dir=build opts=(-DSG_WERROR=ON)
    if [ "${SG_SANITIZE:-0}" = 1 ]; then
        dir=build-asan
        opts+=(-DSG_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
    fi
    cmake -S . -B "$dir" "${opts[@]}" >/dev/null
    cmake --build "$dir" -j"$(nproc)"
    BUILD_DIR=$top/$dir
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
run)
    install_packages "${packages[@]}"
    install_npm
    build
    exec "$BUILD_DIR/server/siogate" --host 127.0.0.1 --port 3000 "$@"
    ;;
build)
    install_packages "${packages[@]}"
    install_npm
    build
    ;;
test)
    install_packages "${packages[@]}" "${test_packages[@]}"
    install_npm
    build
    if [ "${SG_SANITIZE:-0}" = 1 ]; then
        export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
        export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    fi
    ctest --test-dir "$BUILD_DIR" --output-on-failure --timeout 600
    ;;
*)
    sed -n '2,10p' "$0" >&2
    exit 2
    ;;
esac
