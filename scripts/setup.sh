#!/usr/bin/env bash
# Set up everything obs needs on a Debian machine with Python >= 3.11 (run as root):
#  - Debian packages for the real tools the build and tests use: promtool and Prometheus,
#    amtool and Alertmanager, the blackbox/postgres/redis/node exporters with PostgreSQL and Redis
#    (exporter configs and `obs demo` run for real), VictoriaMetrics with vmalert (the scaled
#    store), kubectl (kustomize, offline), shellcheck (actionlint reads the CI workflow's scripts with it), Ruby (Fluentd/Logstash filters run under the real regex
#    engine), wrk and valgrind (benchmarks), Chromium (dashboard previews);
#  - a virtualenv in .venv with obs and its development extras.
# Idempotent and quick when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v promtool >/dev/null || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null && command -v amtool >/dev/null || need_apt+=(prometheus-alertmanager)
command -v prometheus-blackbox-exporter >/dev/null || need_apt+=(prometheus-blackbox-exporter)
command -v prometheus-postgres-exporter >/dev/null || need_apt+=(prometheus-postgres-exporter)
command -v prometheus-redis-exporter >/dev/null || need_apt+=(prometheus-redis-exporter)
command -v prometheus-node-exporter >/dev/null || need_apt+=(prometheus-node-exporter)
command -v victoria-metrics >/dev/null && command -v vmalert >/dev/null || need_apt+=(victoria-metrics)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v kubectl >/dev/null || need_apt+=(kubernetes-client)
command -v shellcheck >/dev/null || need_apt+=(shellcheck)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v ruby >/dev/null || need_apt+=(ruby)
command -v wrk >/dev/null || need_apt+=(wrk)
command -v valgrind >/dev/null || need_apt+=(valgrind)
command -v chromium >/dev/null || need_apt+=(chromium)
python3 -c 'import ensurepip, venv' 2>/dev/null || need_apt+=(python3-venv)

if ((${#need_apt[@]})); then
  echo "setup: installing Debian packages: ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv" >&2
  python3 -m venv .venv
fi
stamp=.venv/.obs-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing obs[dev] into .venv" >&2
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -m pip install -q -e '.[dev]' 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import obs, instrumentation, promql_parser, grafana_foundation_sdk' # fail loudly if the install did not take
  touch "$stamp"
fi
