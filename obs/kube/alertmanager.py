"""Alertmanager's configuration for the Prometheus Operator, two ways; secrets referenced, never inlined.

1. :func:`alertmanager_secret`: the whole ``alertmanager.yaml`` in the Secret
   ``alertmanager-<name>`` (what the operator reads for the Alertmanager ``<name>``; in
   kube-prometheus-stack, name it in ``alertmanager.alertmanagerSpec.configSecret``). Secrets stay
   files: ``routing_key_file: /etc/alertmanager/secrets/<secret>/<key>``, where the operator mounts
   each Secret listed in the Alertmanager's ``spec.secrets`` (:func:`mounted_secret_file`).
2. :func:`alertmanager_config`: the same routing as an ``AlertmanagerConfig`` object, each secret
   file becoming a reference to its Secret key. The operator adds a ``namespace="<its namespace>"``
   matcher to its top route and inhibit rules, so only alerts with that label reach it, unless the
   Alertmanager sets ``alertmanagerConfigMatcherStrategy: {type: None}``; alerts aggregated away
   from ``namespace`` (SLO burn rates by service) are why the Secret is the safer default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import PurePosixPath
from typing import Any

import yaml

from obs.kube.base import NO_LABELS, Labels, camel, copy_data, object_meta

ALERTMANAGER_CONFIG_API = "monitoring.coreos.com/v1alpha1"
CONFIG_KEY = "alertmanager.yaml"
#: Where the operator mounts the Secrets named in an Alertmanager's ``spec.secrets``.
SECRETS_DIR = "/etc/alertmanager/secrets"

# Receiver fields that would hold a secret in the configuration itself (each has a *_file twin).
_INLINE_SECRETS: dict[str, frozenset[str]] = {
    "global": frozenset({"slack_api_url", "smtp_auth_password", "smtp_auth_secret", "opsgenie_api_key", "victorops_api_key", "wechat_api_secret", "telegram_bot_token"}),
    "pagerduty_configs": frozenset({"routing_key", "service_key"}),
    "slack_configs": frozenset({"api_url"}),
    "email_configs": frozenset({"auth_password", "auth_secret"}),
    "opsgenie_configs": frozenset({"api_key"}),
    "victorops_configs": frozenset({"api_key"}),
    "pushover_configs": frozenset({"user_key", "token"}),
    "telegram_configs": frozenset({"bot_token"}),
    "wechat_configs": frozenset({"api_secret"}),
    "discord_configs": frozenset({"webhook_url"}),
    "msteams_configs": frozenset({"webhook_url"}),
    "msteamsv2_configs": frozenset({"webhook_url"}),
}
_HTTP_CONFIG_SECRETS = frozenset({"password", "credentials", "bearer_token", "client_secret"})


def mounted_secret_file(secret: str, key: str) -> str:
    """The file path of ``key`` of the Secret ``secret`` inside the operator's Alertmanager pods."""
    return f"{SECRETS_DIR}/{secret}/{key}"


def _file_settings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            if isinstance(key, str) and key.endswith("_file") and isinstance(sub, str):
                yield f"{path}.{key}" if path else key, sub
            else:
                yield from _file_settings(sub, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            yield from _file_settings(sub, f"{path}[{i}]")


def mounted_secrets(config: Mapping[str, Any]) -> list[str]:
    """The Secrets an Alertmanager configuration reads files from, which the operator must mount
    (the Alertmanager's ``spec.secrets``).

    Raises ValueError naming the first ``*_file`` setting outside ``/etc/alertmanager/secrets/<secret>/<key>``:
    the operator mounts nothing anywhere else.
    """
    secrets: set[str] = set()
    for where, path in _file_settings(config, ""):
        match = _SECRET_FILE.fullmatch(path)
        if not match:
            raise ValueError(
                f"{CONFIG_KEY}: {where}: {path} is not where the Prometheus Operator mounts Secrets; "
                f"name the file {mounted_secret_file('<secret>', '<key>')} (e.g. {mounted_secret_file('alert-receivers', PurePosixPath(path).name)})"
            )
        secrets.add(match.group(1))
    return sorted(secrets)


def _walk_http_config(value: Any, path: str) -> Iterator[str]:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            if key in _HTTP_CONFIG_SECRETS and sub:
                yield f"{path}.{key}"
            yield from _walk_http_config(sub, f"{path}.{key}")


def inline_secrets(config: Mapping[str, Any]) -> list[str]:
    """Paths of the secrets written into ``config`` itself rather than read from files."""
    found = [f"global.{k}" for k in sorted(_INLINE_SECRETS["global"]) if (config.get("global") or {}).get(k)]
    found.extend(_walk_http_config((config.get("global") or {}).get("http_config"), "global.http_config"))
    for i, receiver in enumerate(config.get("receivers") or []):
        for kind, settings in receiver.items():
            for j, setting in enumerate(settings if isinstance(settings, list) else []):
                where = f"receivers[{i}].{kind}[{j}]"
                found.extend(f"{where}.{k}" for k in sorted(_INLINE_SECRETS.get(kind, ())) if setting.get(k))
                found.extend(_walk_http_config(setting.get("http_config"), f"{where}.http_config"))
    return found


def alertmanager_secret(
    name: str, namespace: str, alertmanager_yaml: str, *, templates: Mapping[str, str] = NO_LABELS, labels: Labels = NO_LABELS
) -> dict[str, Any]:
    """The Secret ``alertmanager-<name>`` holding ``alertmanager.yaml`` (and template files).

    Raises ValueError when the configuration holds a secret itself: it belongs in a Secret of its
    own, read through a ``*_file`` setting (:func:`mounted_secret_file`).
    """
    config = yaml.safe_load(alertmanager_yaml)
    if not isinstance(config, Mapping):
        raise ValueError(f"{CONFIG_KEY}: not a mapping; give the text of an Alertmanager configuration")
    inlined = inline_secrets(config)
    if inlined:
        raise ValueError(
            f"{CONFIG_KEY}: {inlined[0]}: a secret written into the configuration; use its *_file setting "
            f"with a mounted Secret ({mounted_secret_file('<secret>', '<key>')})"
        )
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(f"alertmanager-{name}", namespace, labels),
        "type": "Opaque",
        "stringData": {CONFIG_KEY: alertmanager_yaml, **dict(sorted(templates.items()))},
    }


# --- alertmanager.yaml -> AlertmanagerConfig -------------------------------------------------------

_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|([^"\s]*))\s*')
_SECRET_FILE = re.compile(rf"{re.escape(SECRETS_DIR)}/([^/]+)/([^/]+)")
_ROUTE_FIELDS = frozenset({"receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "continue", "mute_time_intervals", "active_time_intervals"})
# Per receiver type: plain fields, secret files -> Secret key references, maps -> [{key, value}] lists.
_RECEIVERS: dict[str, tuple[frozenset[str], dict[str, str], frozenset[str]]] = {
    "webhook_configs": (frozenset({"url", "send_resolved", "max_alerts", "timeout"}), {"url_file": "urlSecret"}, frozenset()),
    "slack_configs": (
        frozenset({"channel", "text", "title", "title_link", "send_resolved", "username", "icon_emoji", "icon_url", "image_url", "thumb_url", "color", "fallback", "footer", "pretext", "link_names", "mrkdwn_in", "short_fields", "callback_id"}),
        {"api_url_file": "apiURL"},
        frozenset(),
    ),
    "pagerduty_configs": (
        frozenset({"description", "send_resolved", "severity", "class", "component", "group", "client", "client_url", "url", "source"}),
        {"routing_key_file": "routingKey", "service_key_file": "serviceKey"},
        frozenset({"details"}),
    ),
    "email_configs": (
        frozenset({"to", "from", "smarthost", "hello", "auth_username", "auth_identity", "require_tls", "send_resolved", "html", "text"}),
        {"auth_password_file": "authPassword"},
        frozenset({"headers"}),
    ),
}


def parse_matcher(text: str, where: str) -> dict[str, str]:
    """``severity=~"page|ticket"`` as the operator's ``{name, value, matchType}``."""
    match = _MATCHER.fullmatch(text)
    if not match:
        raise ValueError(f"{CONFIG_KEY}: {where}: {text!r} is not a matcher like name=\"value\" (=, !=, =~, !~)")
    name, op, quoted, bare = match.groups()
    value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare
    return {"name": name, "value": value, "matchType": op}


def _matchers(config: Mapping[str, Any], where: str, field: str, legacy: str) -> list[dict[str, str]]:
    out = [parse_matcher(m, f"{where}.{field}[{i}]") for i, m in enumerate(config.get(field) or [])]
    out.extend({"name": k, "value": str(v), "matchType": "="} for k, v in (config.get(legacy) or {}).items())
    out.extend({"name": k, "value": str(v), "matchType": "=~"} for k, v in (config.get(f"{legacy}_re") or {}).items())
    return out


def _unsupported(where: str, key: str) -> ValueError:
    return ValueError(f"{CONFIG_KEY}: {where}.{key}: cannot be written as an AlertmanagerConfig (use the alertmanager-<name> Secret)")


def _route(route: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in route.items():
        if key in _ROUTE_FIELDS:
            out[camel(key)] = copy_data(value)
        elif key == "routes":
            out["routes"] = [_route(child, f"{where}.routes[{i}]") for i, child in enumerate(value or [])]
        elif key not in ("matchers", "match", "match_re"):
            raise _unsupported(where, key)
    matchers = _matchers(route, where, "matchers", "match")
    if matchers:
        out["matchers"] = matchers
    return out


def _secret_ref(path: Any, where: str) -> dict[str, str]:
    match = _SECRET_FILE.fullmatch(str(path))
    if not match:
        raise ValueError(
            f"{CONFIG_KEY}: {where}: {path!r} is not a mounted Secret file ({mounted_secret_file('<secret>', '<key>')}); "
            "an AlertmanagerConfig names the Secret and key"
        )
    return {"name": match.group(1), "key": match.group(2)}


def _receiver(receiver: Mapping[str, Any], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver["name"]}
    for kind, settings in receiver.items():
        if kind == "name":
            continue
        if kind not in _RECEIVERS:
            raise _unsupported(where, kind)
        plain, secret_files, maps = _RECEIVERS[kind]
        converted = []
        for j, setting in enumerate(settings or []):
            at = f"{where}.{kind}[{j}]"
            item: dict[str, Any] = {}
            for key, value in setting.items():
                if key in plain:
                    item[camel(key)] = copy_data(value)
                elif key in secret_files:
                    item[secret_files[key]] = _secret_ref(value, f"{at}.{key}")
                elif key in maps:
                    item[camel(key)] = [{"key": k, "value": str(v)} for k, v in sorted(value.items())]
                elif key in _INLINE_SECRETS.get(kind, ()):
                    raise ValueError(f"{CONFIG_KEY}: {at}.{key}: a secret written into the configuration; use {key}_file with a mounted Secret")
                else:
                    raise _unsupported(at, key)
            converted.append(item)
        out[camel(kind)] = converted
    return out


def _inhibit_rule(rule: Mapping[str, Any], where: str) -> dict[str, Any]:
    known = {"source_matchers", "target_matchers", "source_match", "source_match_re", "target_match", "target_match_re", "equal"}
    for key in rule:
        if key not in known:
            raise _unsupported(where, key)
    out: dict[str, Any] = {
        "sourceMatch": _matchers(rule, where, "source_matchers", "source_match"),
        "targetMatch": _matchers(rule, where, "target_matchers", "target_match"),
    }
    if rule.get("equal"):
        out["equal"] = list(rule["equal"])
    return out


def alertmanager_config(name: str, namespace: str, config: Mapping[str, Any], *, labels: Labels = NO_LABELS) -> dict[str, Any]:
    """An Alertmanager configuration (as parsed from alertmanager.yaml) as an ``AlertmanagerConfig``.

    ``global.resolve_timeout`` is the Alertmanager's own setting and is left out; anything else an
    AlertmanagerConfig cannot hold (other ``global`` keys, templates, time intervals, receiver types
    or fields not mapped here) raises ValueError naming it, rather than being dropped.
    """
    for key in config:
        if key not in ("global", "route", "receivers", "inhibit_rules"):
            raise _unsupported("<root>", key)
    for key in config.get("global") or {}:
        if key != "resolve_timeout":
            raise _unsupported("global", key)
    if "route" not in config:
        raise ValueError(f"{CONFIG_KEY}: route: required; the top route names the default receiver")
    spec: dict[str, Any] = {
        "route": _route(config["route"], "route"),
        "receivers": [_receiver(r, f"receivers[{i}]") for i, r in enumerate(config.get("receivers") or [])],
    }
    inhibit = [_inhibit_rule(r, f"inhibit_rules[{i}]") for i, r in enumerate(config.get("inhibit_rules") or [])]
    if inhibit:
        spec["inhibitRules"] = inhibit
    return {"apiVersion": ALERTMANAGER_CONFIG_API, "kind": "AlertmanagerConfig", "metadata": object_meta(name, namespace, labels), "spec": spec}


__all__ = [
    "ALERTMANAGER_CONFIG_API",
    "CONFIG_KEY",
    "SECRETS_DIR",
    "alertmanager_config",
    "alertmanager_secret",
    "camel",
    "inline_secrets",
    "mounted_secret_file",
    "mounted_secrets",
    "parse_matcher",
]
