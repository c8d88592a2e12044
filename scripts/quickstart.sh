#!/usr/bin/env bash
# The README's first command: install what is needed, build, install `clinic`, create a store
# (in $CLINIC_STORE, else ~/.clinic) and import the sample recordings. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/install-deps.sh

echo "== Building clinic and clinic-server (release; the first build takes several minutes)"
for product in clinic clinic-server; do
  swift build -c release --product "$product" 2>&1 | grep -E "error|Build complete" || true
done
bin="$(swift build -c release --show-bin-path)/clinic"
[ -x "$bin" ] || { echo "error: the build did not produce $bin" >&2; exit 1; }

prefix="${PREFIX:-}"
if [ -z "$prefix" ]; then
  if [ "$(id -u)" -eq 0 ]; then prefix=/usr/local; else prefix="$HOME/.local"; fi
fi
install -d "$prefix/bin"
install -m 755 "$bin" "$prefix/bin/clinic"
install -m 755 "$(dirname "$bin")/clinic-server" "$prefix/bin/clinic-server"
echo "== Installed $prefix/bin/clinic and $prefix/bin/clinic-server"
case ":$PATH:" in *":$prefix/bin:"*) ;; *) echo "   (add $prefix/bin to your PATH)";; esac
clinic="$prefix/bin/clinic"

store="${CLINIC_STORE:-$HOME/.clinic}"
export CLINIC_STORE="$store"
if [ ! -f "$store/clinic.sqlite" ]; then
  "$clinic" init --site "Demo clinic" --device-name "$(hostname)"
fi

# Demo patients (registered once, found again by external id) and their sample recordings.
demo_patient() { # external-id given family sex age-group
  local id
  id=$("$clinic" patient list --search "$1" 2>/dev/null | awk 'NR==1 {print $1}')
  if [ -z "$id" ]; then
    id=$("$clinic" patient add --external-id "$1" --given-name "$2" --family-name "$3" --sex "$4" --age-group "$5")
  fi
  echo "$id"
}
import_sample() { # patient location file
  local rc=0 said
  said=$("$clinic" add-recording --patient "$1" --location "$2" --operator "Demo nurse" "$3" 2>&1 >/dev/null) || rc=$?
  case $rc in
    0) echo "   $(basename "$3"):"; printf '%s\n' "$said" | sed 's/^/      /';;  # stored, and its assessment
    5) echo "   $(basename "$3") is already in the store";;
    *) echo "$said" >&2; exit $rc;;
  esac
}
echo "== Importing the sample recordings into $store"
p1=$(demo_patient DEMO-0001 Demo "Patient One" male child)
p2=$(demo_patient DEMO-0002 Demo "Patient Two" female child)
p3=$(demo_patient DEMO-0003 Demo "Patient Three" female child)
p4=$(demo_patient DEMO-0004 Demo "Patient Four" unknown adult)
import_sample "$p1" AV Samples/circor2022_13918_AV.flac
import_sample "$p1" PV Samples/circor2022_13918_PV.flac
import_sample "$p2" AV Samples/circor2022_31737_AV.flac
import_sample "$p3" TV Samples/circor2022_68318_TV.flac
import_sample "$p4" other Samples/physionet2016_b0001.flac

echo "== Status"
"$clinic" status
"$clinic" doctor | tail -n 1

# The local central server: a site for the demo clinic, this laptop enrolled under its own
# device id, the server started on 127.0.0.1, and this laptop's records and audio synced to it.
server="$prefix/bin/clinic-server"
export CLINIC_SERVER_DATA="${CLINIC_SERVER_DATA:-$HOME/.clinic-server}"
echo "== Local server in $CLINIC_SERVER_DATA"
device_id=$("$clinic" status --json | sed -n 's/.*"device_id" : "\(.*\)".*/\1/p')
"$server" site list | grep -q "Demo clinic" || "$server" site add "Demo clinic" >/dev/null
token_file="$CLINIC_SERVER_DATA/demo-device-token"
if ! "$server" device list | grep -q "$device_id"; then
  "$server" device enroll --site "Demo clinic" --name "$(hostname)" --device-id "$device_id" 2>/dev/null > "$token_file"
  chmod 600 "$token_file"
fi
port="${CLINIC_DEMO_PORT:-18080}"
"$server" serve --port "$port" > "$CLINIC_SERVER_DATA/demo-server.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/v1/health" >/dev/null && break; sleep 0.2; done
echo "   health:       $(curl -sf "http://127.0.0.1:$port/v1/health")"
echo "== clinic sync to the local server"
"$clinic" config set server "http://127.0.0.1:$port"
if [ -s "$token_file" ]; then
  "$clinic" config set token < "$token_file"
fi
"$clinic" sync
"$clinic" status | grep -E "^(Changes|Sync) "
kill $server_pid; wait $server_pid 2>/dev/null || true
echo "   (server stopped; run it with: clinic-server serve)"
echo
echo "Done. Try: clinic patient list    clinic recording list    clinic sync --help    clinic --help    clinic-server --help"
