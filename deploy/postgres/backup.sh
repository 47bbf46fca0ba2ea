#!/bin/sh
# Logical backup of the GuitarOnline database with pg_dump (custom format, compressed).
#
#   DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/guitaronline deploy/postgres/backup.sh [--out DIR] [--schema NAME]...
#
# Without --schema: ONE consistent dump of the whole database (every service's schema and
# the btree_gist extension): the file to restore after losing the database.
# With --schema NAME (repeatable): one file per service schema, for restoring one service
# (restore.sh --schema). Separate files are separate snapshots, not consistent with each other.
#
# DATABASE_URL must be a superuser (or a member of every <service>_svc role) so it can
# read every schema. pg_dump must be at least the server's major version.
# Writes DIR/<database>[-<schema>]-<UTC time>.dump and a .sha256 next to it, after checking
# that the archive's table of contents reads back.
set -eu

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

: "${DATABASE_URL:?DATABASE_URL must point at the database (a superuser connection)}"
out=./backups
schemas=""
while [ $# -gt 0 ]; do
  case "$1" in
    --out) [ $# -ge 2 ] || usage; out="$2"; shift 2 ;;
    --schema)
      [ $# -ge 2 ] || usage
      case "$2" in
        [a-z_]*) ;;
        *) echo "backup: bad schema name '$2'" >&2; exit 64 ;;
      esac
      case "$2" in
        *[!a-z0-9_]*) echo "backup: bad schema name '$2'" >&2; exit 64 ;;
      esac
      schemas="$schemas $2"; shift 2 ;;
    -h | --help) usage ;;
    *) echo "backup: unknown argument '$1'" >&2; usage ;;
  esac
done

mkdir -p "$out"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
database=$(psql "$DATABASE_URL" -X --no-password -At -c 'select current_database()')

# dump FILE [pg_dump options…]: write to FILE.partial, verify, then rename, so an
# interrupted backup never leaves a file that looks complete.
dump() {
  file="$1"
  shift
  pg_dump --dbname="$DATABASE_URL" --no-password --format=custom --compress=6 "$@" --file="$file.partial"
  pg_restore --list "$file.partial" >/dev/null
  mv "$file.partial" "$file"
  (cd "$(dirname "$file")" && sha256sum "$(basename "$file")" >"$(basename "$file").sha256")
  echo "backup: wrote $file ($(wc -c <"$file" | tr -d ' ') bytes)"
}

if [ -z "$schemas" ]; then
  dump "$out/$database-$stamp.dump"
else
  for schema in $schemas; do
    dump "$out/$database-$schema-$stamp.dump" --schema="$schema"
  done
fi
