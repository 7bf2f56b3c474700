"""What the services stand on: PostgreSQL, Redis, the nodes, and the blackbox probes of the sites
users reach from outside. Exporter metric names come from :mod:`obs.contract`."""

from __future__ import annotations

from obs import contract, links
from obs.catalogue.dashboards import navigation as nav
from obs.catalogue.dashboards import queries as q
from obs.catalogue.dashboards.panels import up_stat
from obs.grafana import (
    Dashboard,
    Target,
    Thresholds,
    custom_variable,
    datasource_variable,
    query_variable,
    table,
    timeseries,
)
from obs.grafana.provisioning import prometheus_uid
from obs.model import DependencyKind, Environment, Platform

SERVICE = contract.SERVICE_LABEL
RATE = q.RATE
#: Dependencies picked by the `service` variable (every exporter target carries `service`).
SEL = {SERVICE: "$service"}


def _sel(metric: str) -> str:
    return q.selector(metric, match=SEL)


def _hit_ratio(hits: str, misses: str) -> str:
    """Hits over all lookups, from two counters of the selected dependency."""
    hit_rate = f"sum(rate({_sel(hits)}[{RATE}]))"
    return f"{hit_rate} / ({hit_rate} + sum(rate({_sel(misses)}[{RATE}])))"


def _dependency_variable(platform: Platform, kind: DependencyKind) -> tuple[list[str], str]:
    """The dependencies of ``kind`` and the team whose folder their dashboard goes to: the first
    one's team, else the team owning the shared infrastructure."""
    deps = [d for d in platform.dependencies if d.kind is kind]
    return [d.name for d in deps], (deps[0].team if deps else platform.infra_team)


def _users(platform: Platform, names: list[str]) -> str:
    users = sorted({s.name for s in platform.services if set(s.depends_on) & set(names)})
    return ", ".join(users) if users else "no service"


def postgres_dashboard(platform: Platform, env: Environment) -> Dashboard | None:
    names, team = _dependency_variable(platform, DependencyKind.POSTGRES)
    if not names:
        return None
    P = links.PostgresPanel
    users = _users(platform, names)
    return Dashboard(
        uid=links.POSTGRES_UID,
        title=f"{platform.name} / PostgreSQL",
        description=f"PostgreSQL through postgres_exporter. Used by {users}.",
        team=team,
        tags=("postgres", "dependency"),
        variables=(datasource_variable(prometheus_uid(env)), custom_variable("service", "Database", names)),
        links=(nav.dashboard("Platform overview", links.OVERVIEW_UID),),
        items=(
            up_stat(
                "PostgreSQL up",
                Target(f"min({_sel('pg_up')})", "pg_up"),
                id=P.UP,
                description=(
                    f"Whether postgres_exporter can connect to PostgreSQL. DOWN: {users} fail or queue requests now; check "
                    "the database host, disk and the exporter's credentials."
                ),
            ),
            timeseries(
                "Connections used",
                Target(
                    f"sum({_sel('pg_stat_database_numbackends')}) / max({_sel('pg_settings_max_connections')})",
                    "used / max_connections",
                ),
                id=P.CONNECTIONS,
                unit="percentunit",
                max=1,
                width=18,
                thresholds=Thresholds.above(0.8, 0.9),
                description=(
                    "Share of max_connections in use. Above 90% new connections will soon be refused: look for a leaking "
                    "pool or a stuck deploy in the services' in-flight requests."
                ),
            ),
            timeseries(
                "Deadlocks",
                Target(
                    f"sum by (datname) (rate({_sel('pg_stat_database_deadlocks')}[{RATE}]))", "{{datname}}"
                ),
                id=P.DEADLOCKS,
                unit="short",
                thresholds=Thresholds.above(None, 0.0001),
                description="Deadlocks per second by database. Any is a bug in transaction ordering: find the statements in the PostgreSQL log.",
            ),
            timeseries(
                "Longest running transaction",
                Target(
                    f"max by (datname, state) ({_sel('pg_stat_activity_max_tx_duration')})",
                    "{{datname}} {{state}}",
                ),
                id=P.LONGEST_TRANSACTION,
                unit="s",
                thresholds=Thresholds.above(60, 300),
                description=(
                    "Age of the oldest open transaction. Minutes-long ones hold locks and block vacuum: find it in "
                    "pg_stat_activity and cancel it if it is idle in transaction."
                ),
            ),
            timeseries(
                "Transactions",
                Target(
                    f"sum by (datname) (rate({_sel('pg_stat_database_xact_commit')}[{RATE}]))",
                    "{{datname}} commit",
                ),
                Target(
                    f"sum by (datname) (rate({_sel('pg_stat_database_xact_rollback')}[{RATE}]))",
                    "{{datname}} rollback",
                ),
                id=P.TRANSACTIONS,
                unit="ops",
                description="Commits and rollbacks per second. Rising rollbacks with flat commits: the application is failing writes; check its error logs.",
            ),
            timeseries(
                "Cache hit ratio",
                Target(
                    _hit_ratio("pg_stat_database_blks_hit", "pg_stat_database_blks_read"),
                    "hit ratio",
                ),
                id=P.CACHE_HIT_RATIO,
                unit="percentunit",
                max=1,
                thresholds=Thresholds.below(0.9, 0.99),
                description="Share of block reads served from shared buffers. Under 99% queries go to disk: a new unindexed query or too small shared_buffers.",
            ),
            timeseries(
                "Database size",
                Target(f"sum by (datname) ({_sel('pg_database_size_bytes')})", "{{datname}}"),
                unit="bytes",
                description="Disk space per database. A sudden jump is a runaway table or a failed cleanup job; compare with node filesystem space.",
            ),
        ),
    )


def redis_dashboard(platform: Platform, env: Environment) -> Dashboard | None:
    names, team = _dependency_variable(platform, DependencyKind.REDIS)
    if not names:
        return None
    P = links.RedisPanel
    users = _users(platform, names)
    return Dashboard(
        uid=links.REDIS_UID,
        title=f"{platform.name} / Redis",
        description=f"Redis through redis_exporter. Used by {users}.",
        team=team,
        tags=("redis", "dependency"),
        variables=(datasource_variable(prometheus_uid(env)), custom_variable("service", "Redis", names)),
        links=(nav.dashboard("Platform overview", links.OVERVIEW_UID),),
        items=(
            up_stat(
                "Redis up",
                Target(f"min({_sel('redis_up')})", "redis_up"),
                id=P.UP,
                description=f"Whether redis_exporter reaches Redis. DOWN: sessions, caches and job queues of {users} fail; check the Redis host and its log.",
            ),
            timeseries(
                "Memory used of maxmemory",
                Target(
                    f"sum({_sel('redis_memory_used_bytes')}) / (sum({_sel('redis_memory_max_bytes')}) > 0)",
                    "used / maxmemory",
                ),
                id=P.MEMORY,
                unit="percentunit",
                width=18,
                thresholds=Thresholds.above(0.8, 0.95),
                description=(
                    "Memory used as a share of maxmemory (empty when maxmemory is unlimited). Near 100% Redis evicts keys "
                    "or refuses writes: find the growing keyspace or raise maxmemory."
                ),
            ),
            timeseries(
                "Evicted keys",
                Target(f"sum(rate({_sel('redis_evicted_keys_total')}[{RATE}]))", "evictions"),
                id=P.EVICTIONS,
                unit="short",
                thresholds=Thresholds.above(None, 0.0001),
                description="Keys evicted per second because of maxmemory. Sessions evicted log students out: raise maxmemory or shorten TTLs.",
            ),
            timeseries(
                "Rejected connections",
                Target(f"sum(rate({_sel('redis_rejected_connections_total')}[{RATE}]))", "rejected"),
                id=P.REJECTED_CONNECTIONS,
                unit="short",
                thresholds=Thresholds.above(None, 0.0001),
                description="Connections refused because maxclients was reached. Any: a client leaks connections; check the services' pools.",
            ),
            timeseries(
                "Connected clients",
                Target(f"sum({_sel('redis_connected_clients')})", "clients"),
                Target(f"max({_sel('redis_config_maxclients')})", "maxclients"),
                id=P.CLIENTS,
                unit="short",
                description="Clients connected against maxclients. A steady climb after a deploy is a connection leak.",
            ),
            timeseries(
                "Keyspace hit ratio",
                Target(
                    _hit_ratio("redis_keyspace_hits_total", "redis_keyspace_misses_total"),
                    "hit ratio",
                ),
                id=P.HIT_RATIO,
                unit="percentunit",
                max=1,
                description="Share of lookups that found their key. A drop after a deploy or flush means cold caches: expect slower requests and more database load.",
            ),
            timeseries(
                "Slowest commands",
                Target(
                    f"topk(5, sum by (cmd) (rate({_sel('redis_commands_duration_seconds_total')}[{RATE}])) / sum by (cmd) (rate({_sel('redis_commands_total')}[{RATE}])))",
                    "{{cmd}}",
                ),
                unit="s",
                description="Average duration of the five slowest commands. KEYS or big SMEMBERS/HGETALL block Redis for everyone: find the caller.",
            ),
        ),
    )


def node_dashboard(platform: Platform, env: Environment) -> Dashboard:
    P = links.NodePanel
    inst = {"instance": "$instance"}
    fs_sel = q.selector(
        "node_filesystem_avail_bytes", not_regex={"fstype": "tmpfs|overlay|squashfs"}, match=inst
    )
    size_sel = q.selector(
        "node_filesystem_size_bytes", not_regex={"fstype": "tmpfs|overlay|squashfs"}, match=inst
    )
    return Dashboard(
        uid=links.NODE_UID,
        title=f"{platform.name} / Nodes",
        description="Hosts through node_exporter: disk, memory, CPU and load.",
        # The node exporters are the infra team's scrape job (and alerts): their dashboard too.
        team=platform.infra_team,
        tags=("node", "infrastructure"),
        variables=(
            datasource_variable(prometheus_uid(env)),
            query_variable(
                "instance",
                "Node",
                "label_values(node_load1, instance)",
                multi=True,
                include_all=True,
                all_value=".*",
                default="$__all",
            ),
        ),
        links=(nav.dashboard("Platform overview", links.OVERVIEW_UID),),
        items=(
            timeseries(
                "Filesystem space used",
                Target(f"1 - ({fs_sel} / {size_sel})", "{{instance}} {{mountpoint}}"),
                id=P.FILESYSTEM,
                unit="percentunit",
                max=1,
                thresholds=Thresholds.above(0.8, 0.9),
                description=(
                    "Share of each filesystem used. Above 90% databases and Prometheus stop writing: delete old data or "
                    "grow the volume before it fills."
                ),
            ),
            timeseries(
                "Memory used",
                Target(
                    f"1 - ({q.selector('node_memory_MemAvailable_bytes', match=inst)} / {q.selector('node_memory_MemTotal_bytes', match=inst)})",
                    "{{instance}}",
                ),
                id=P.MEMORY,
                unit="percentunit",
                max=1,
                thresholds=Thresholds.above(0.85, 0.95),
                description="Share of memory not available to new allocations. Above 95% the OOM killer picks a process: find the one growing.",
            ),
            timeseries(
                "CPU busy",
                Target(
                    f"1 - avg by (instance) (rate({q.selector('node_cpu_seconds_total', {'mode': 'idle'}, match=inst)}[{RATE}]))",
                    "{{instance}}",
                ),
                id=P.CPU,
                unit="percentunit",
                max=1,
                thresholds=Thresholds.above(0.8, 0.95),
                description="Share of CPU time not idle, averaged over cores. Sustained near 100%: requests queue; check which service's traffic grew.",
            ),
            timeseries(
                "Load per core",
                Target(
                    f"{q.selector('node_load1', match=inst)} / on (instance) count by (instance) ({q.selector('node_cpu_seconds_total', {'mode': 'idle'}, match=inst)})",
                    "{{instance}}",
                ),
                id=P.LOAD,
                unit="short",
                thresholds=Thresholds.above(1, 2),
                description="1-minute load divided by cores. Above 1 processes wait for CPU or disk; with low CPU busy, suspect disk I/O.",
            ),
        ),
    )


def blackbox_dashboard(platform: Platform, env: Environment) -> Dashboard | None:
    probed = [s.name for s in platform.probed_services]
    probed += [d.name for d in platform.dependencies if d.kind is DependencyKind.HTTP]
    if not probed:
        return None
    P = links.BlackboxPanel
    sel = {SERVICE: "$service"}
    return Dashboard(
        uid=links.BLACKBOX_UID,
        title=f"{platform.name} / Probes",
        description="Sites probed from outside by the blackbox exporter: uptime, latency, TLS expiry.",
        team=platform.infra_team,
        tags=("blackbox", "uptime"),
        variables=(
            datasource_variable(prometheus_uid(env)),
            custom_variable(
                "service", "Site", probed, multi=True, include_all=True, all_value=".*", default="$__all"
            ),
        ),
        links=(nav.dashboard("Platform overview", links.OVERVIEW_UID),),
        items=(
            timeseries(
                "Probe success",
                Target(f"min by (service) ({q.selector('probe_success', match=sel)})", "{{service}}"),
                id=P.PROBE_SUCCESS,
                unit="percentunit",
                min=0,
                max=1,
                thresholds=Thresholds.below(1, style="area"),
                description=(
                    "1 while the site answers the probe with a 2xx, 0 while it does not: users cannot reach it. Check the "
                    "HTTP status panel, then the site's hosting and DNS."
                ),
            ),
            timeseries(
                "Probe latency",
                Target(
                    f"max by (service) ({q.selector('probe_duration_seconds', match=sel)})", "{{service}}"
                ),
                id=P.PROBE_LATENCY,
                unit="s",
                thresholds=Thresholds.above(1, 3),
                description="Total time of the probe (DNS, connect, TLS, response). A jump in one phase is visible in the phase breakdown below.",
            ),
            table(
                "TLS certificate expiry",
                Target(
                    f"min by (service, instance) ({q.selector('probe_ssl_earliest_cert_expiry', match=sel)}) - time()",
                    instant=True,
                    format="table",
                ),
                id=P.TLS_EXPIRY,
                unit="s",
                thresholds=Thresholds.below(7 * 86400, 21 * 86400),
                description=(
                    "Time until the earliest certificate of each site expires. Orange under 21 days, red under 7: renew it "
                    "(check the ACME/renewal job's log)."
                ),
            ),
            timeseries(
                "HTTP status",
                Target(
                    f"max by (service) ({q.selector('probe_http_status_code', match=sel)})", "{{service}}"
                ),
                id=P.HTTP_STATUS,
                unit="short",
                thresholds=Thresholds.above(400, 500),
                description="HTTP status the probe got. 0: no response (DNS, TCP or TLS failed); 5xx: the site is up but failing.",
            ),
            timeseries(
                "Probe phases",
                Target(
                    f"max by (service, phase) ({q.selector('probe_http_duration_seconds', match=sel)})",
                    "{{service}} {{phase}}",
                ),
                unit="s",
                stack=True,
                width=24,
                description="Probe time split by phase (resolve, connect, tls, processing, transfer): which layer became slow.",
            ),
        ),
    )


__all__ = ["blackbox_dashboard", "node_dashboard", "postgres_dashboard", "redis_dashboard"]
