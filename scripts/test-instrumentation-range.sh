#!/usr/bin/env bash
# Runs tests/instrumentation under the oldest and the newest releases of the range obs[instrumentation]
# declares in pyproject.toml (opentelemetry-api/-sdk/-exporter, prometheus-client), each in a
# throwaway virtualenv: the instrumentation reads private names of those packages (behind
# instrumentation/_internals.py), so both ends of the range must pass, fast paths included.
#
#   bash scripts/test-instrumentation-range.sh            # both ends, the tests that start no server
#   bash scripts/test-instrumentation-range.sh oldest     # one end
#   RANGE_PYTEST_ARGS="-m ''" bash scripts/test-instrumentation-range.sh   # real servers too (slower)
#
# Needs network access to PyPI. Prints each end's resolved versions and the pytest summary; exits
# non-zero if either end fails.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3.11 || command -v python3)"
PYTEST_ARGS="${RANGE_PYTEST_ARGS:--m 'not slow'}"
ENDS=("${@:-oldest newest}")
# shellcheck disable=SC2206
ENDS=(${ENDS[*]})

# The instrumentation extra's requirements, as pip reads them: the oldest end pins each lower bound.
mapfile -t RANGE < <("$PYTHON" - "$ROOT/pyproject.toml" <<'EOF'
import sys, tomllib
extra = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]
for spec in extra["instrumentation"] + extra["otlp-grpc"]:
    print(spec)
EOF
)

# The contrib instrumentations the tests use (client spans, and the ones obs must coexist with), of
# the release line of each end (0.51b0 goes with 1.30).
CONTRIB=(requests httpx fastapi flask)
# What the tests themselves need (not part of the range): frameworks, servers, the OTLP receiver.
TEST_DEPS=(pyyaml pytest hypothesis fastapi flask httpx requests uvicorn gunicorn grpcio msgpack)

oldest() {  # "name>=1.30,<1.46" -> "name==1.30"
    local spec
    for spec in "${RANGE[@]}"; do
        echo "${spec%%>=*}==$(echo "${spec#*>=}" | cut -d, -f1)"
    done
}

run_end() {
    local end="$1" tmp venv status specs
    tmp="$(mktemp -d -t obs-range-XXXXXX)"
    venv="$tmp/venv"
    trap 'rm -rf "$tmp"' RETURN
    "$PYTHON" -m venv "$venv"
    if [ "$end" = oldest ]; then
        mapfile -t specs < <(oldest)
        # The contrib client instrumentations and the proto package of the same release line.
        specs+=("opentelemetry-proto==$(echo "${specs[1]}" | cut -d= -f3)")
        for contrib in "${CONTRIB[@]}"; do specs+=("opentelemetry-instrumentation-$contrib==0.51b0"); done
    else
        specs=("${RANGE[@]}" "opentelemetry-proto<1.46")
        for contrib in "${CONTRIB[@]}"; do specs+=("opentelemetry-instrumentation-$contrib"); done
    fi
    echo "== $end: ${specs[*]}"
    # (pip's warnings about this machine's extra index locations are left out)
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${specs[@]}" "${TEST_DEPS[@]}" \
        2> >(grep -v "^WARNING: Location" >&2)
    "$venv/bin/pip" list --disable-pip-version-check 2>/dev/null \
        | grep -Ei '^(opentelemetry-(api|sdk|exporter-otlp-proto-http) |prometheus.client )' || true
    status=0
    (cd "$ROOT" && eval "\"$venv/bin/python\" -m pytest tests/instrumentation -q -p no:cacheprovider $PYTEST_ARGS") \
        | tail -3 || status=$?
    return "$status"
}

failed=0
for end in "${ENDS[@]}"; do
    case "$end" in
        oldest|newest) start=$SECONDS; run_end "$end" || failed=1; echo "== $end: $((SECONDS - start)) s" ;;
        *) echo "unknown end '$end': use oldest and/or newest" >&2; exit 2 ;;
    esac
done
exit "$failed"
