#!/bin/sh
# Starts the process named by SERVICE (see the Dockerfile): the gateway, the one-shot
# provisioner, or one of the services under services/. `exec` replaces the shell so node
# receives the signals that tini forwards (graceful shutdown on SIGTERM).
set -eu
# APP_ROOT exists so tests/deploy can run this script against a scratch tree
cd "${APP_ROOT:-/app}"

case "${SERVICE:-}" in
  "")
    echo "entrypoint: SERVICE is not set; use gateway, provision or one of: $(ls services | tr '\n' ' ')" >&2
    exit 64
    ;;
  gateway)
    exec node --enable-source-maps gateway/dist/src/main.js
    ;;
  provision)
    exec node --enable-source-maps scripts/provision.js
    ;;
  *[!a-z0-9_-]*)
    echo "entrypoint: bad SERVICE '${SERVICE}'; use gateway, provision or one of: $(ls services | tr '\n' ' ')" >&2
    exit 64
    ;;
  *)
    entry="services/${SERVICE}/dist/src/main.js"
    if [ ! -f "$entry" ]; then
      echo "entrypoint: unknown SERVICE '${SERVICE}'; use gateway, provision or one of: $(ls services | tr '\n' ' ')" >&2
      exit 64
    fi
    exec node --enable-source-maps "$entry"
    ;;
esac
