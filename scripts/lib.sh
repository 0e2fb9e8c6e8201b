# Shared by scripts/demo and scripts/test: install what is missing, use what is there.
# Sourced, not run.

# apt_install PKG... installs Debian packages that are missing (as root, or with sudo).
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "==> installing ${missing[*]} (Debian packages)" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if [ -z "${APT_UPDATED:-}" ]; then
    $sudo apt-get update -qq >&2
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

# use_promtool puts promtool on PATH, so the alert rules' own tests
# (deploy/prometheus/alerts_test.yml) run: the installed one, else the one in
# Debian's prometheus package, unpacked but not installed (no server starts).
use_promtool() {
  command -v promtool >/dev/null 2>&1 && return 0
  local dir
  dir=$(mktemp -d /tmp/optout-promtool.XXXXXX)
  if (cd "$dir" && apt-get download prometheus >/dev/null 2>&1 && dpkg -x prometheus_*.deb root) && [ -x "$dir/root/usr/bin/promtool" ]; then
    export PATH="$dir/root/usr/bin:$PATH"
  else
    echo "==> promtool not available: the alert rules' tests (alerts_test.yml) will not run" >&2
  fi
}

# pg_bindir prints the directory holding initdb and pg_ctl, or nothing.
pg_bindir() {
  local d
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
}

# pg_answers URL reports whether a PostgreSQL server answers at URL.
pg_answers() {
  command -v pg_isready >/dev/null 2>&1 || { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; return; }
  pg_isready -q -d "$1" -t 3
}

# start_throwaway_pg starts a private PostgreSQL cluster in a temporary
# directory on a free port, exports TEST_DATABASE_URL, and stops it on exit.
start_throwaway_pg() {
  apt_install postgresql
  local bindir dir port run=""
  bindir=$(pg_bindir)
  dir=$(mktemp -d /tmp/optout-pg.XXXXXX)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 55432)
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres "$dir"
    run="runuser -u postgres --"
  fi
  echo "==> starting a throwaway PostgreSQL on 127.0.0.1:$port" >&2
  $run "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
  $run "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  $run "$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres test
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
  # shellcheck disable=SC2064
  trap "$run '$bindir/pg_ctl' -D '$dir/data' -m fast stop >/dev/null 2>&1; rm -rf '$dir'" EXIT
}
