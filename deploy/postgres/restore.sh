#!/bin/sh
# Restores a backup made by backup.sh (see README.md for the whole runbook).
#
# Whole database, into an EMPTY database (a new one, or the old one dropped and re-created):
#   DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/guitaronline_restored deploy/postgres/restore.sh FILE.dump
# One service's schema, replacing what is there now (stop that service first):
#   DATABASE_URL=… deploy/postgres/restore.sh --yes --schema billing FILE.dump
#
# DATABASE_URL must be a superuser. A whole restore creates any missing <service>_svc role
# (without a password) before restoring, so objects keep their owners; then run the
# provisioning step, which sets the role passwords and grants and applies newer migrations.
# A schema restore drops the schema and restores it from FILE in ONE transaction: on any
# error nothing changes. FILE may be a whole-database or a per-schema dump.
set -eu

usage() {
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

: "${DATABASE_URL:?DATABASE_URL must point at the target database (a superuser connection)}"
schema=""
confirmed=no
file=""
while [ $# -gt 0 ]; do
  case "$1" in
    --schema)
      [ $# -ge 2 ] || usage
      case "$2" in
        [a-z_]*) ;;
        *) echo "restore: bad schema name '$2'" >&2; exit 64 ;;
      esac
      case "$2" in
        *[!a-z0-9_]*) echo "restore: bad schema name '$2'" >&2; exit 64 ;;
      esac
      schema="$2"; shift 2 ;;
    --yes) confirmed=yes; shift ;;
    -h | --help) usage ;;
    -*) echo "restore: unknown option '$1'" >&2; usage ;;
    *) [ -z "$file" ] || usage; file="$1"; shift ;;
  esac
done
[ -n "$file" ] || usage
[ -f "$file" ] || { echo "restore: no such file: $file" >&2; exit 66; }

if [ -f "$file.sha256" ]; then
  (cd "$(dirname "$file")" && sha256sum -c "$(basename "$file").sha256" >/dev/null) || {
    echo "restore: checksum mismatch for $file" >&2
    exit 65
  }
fi

toc=$(pg_restore --list "$file")
run_psql() { psql "$DATABASE_URL" -X --no-password -v ON_ERROR_STOP=1 -q "$@"; }

if [ -z "$schema" ]; then
  # ---- whole database: only into a database that holds no schema of ours yet
  existing=$(run_psql -At -c "select string_agg(nspname, ', ') from pg_namespace where nspname !~ '^pg_' and nspname not in ('public', 'information_schema')")
  if [ -n "$existing" ]; then
    echo "restore: the target database already has schemas ($existing); restore into an empty database, or use --schema" >&2
    exit 65
  fi
  # owners of the dumped schemas (TOC line: "<id>; <oid> <oid> SCHEMA - <name> <owner>")
  owners=$(printf '%s\n' "$toc" | awk '$4 == "SCHEMA" && $5 == "-" { print $7 }' | sort -u)
  for role in $owners; do
    case "$role" in *[!a-z0-9_]*) echo "restore: unexpected owner '$role' in the dump" >&2; exit 65 ;; esac
    run_psql -c "do \$\$ begin if not exists (select 1 from pg_roles where rolname = '$role') then create role \"$role\" nologin; end if; end \$\$"
  done
  pg_restore --dbname="$DATABASE_URL" --no-password --exit-on-error --single-transaction "$file"
  echo "restore: restored $file; now run the provisioning step (role passwords, grants, newer migrations)"
  exit 0
fi

# ---- one schema: drop and restore it in one transaction
if [ "$confirmed" != yes ]; then
  echo "restore: this DROPS schema '$schema' and replaces it with the contents of $file; stop the $schema service and add --yes" >&2
  exit 64
fi
if ! printf '%s\n' "$toc" | awk -v s="$schema" '$5 == s || ($4 == "SCHEMA" && $6 == s) { found = 1 } END { exit !found }'; then
  echo "restore: $file holds nothing in schema '$schema'" >&2
  exit 65
fi
owner="${schema}_svc"
exists=$(run_psql -At -c "select 1 from pg_roles where rolname = '$owner'")
[ "$exists" = 1 ] || { echo "restore: role $owner does not exist; run the provisioning step first" >&2; exit 65; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf 'drop schema if exists "%s" cascade;\ncreate schema "%s" authorization "%s";\n' "$schema" "$schema" "$owner" >"$work/restore.sql"
pg_restore --schema="$schema" --file="$work/objects.sql" "$file"
cat "$work/objects.sql" >>"$work/restore.sql"
PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning" run_psql --single-transaction --output=/dev/null -f "$work/restore.sql"
echo "restore: schema $schema restored from $file"
