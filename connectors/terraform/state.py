"""Terraform state, format version 4, to resources.

One resource per managed resource instance (``mode: managed``), whatever
module or ``count``/``for_each`` produced it. Data sources (``mode: data``) are
not resources of the estate and are skipped; the reader takes the mode as a
parameter so that they can be kept apart later (their addresses already get
Terraform's ``data.`` prefix). Deposed objects (left over by
``create_before_destroy``, on their way out) are skipped too.

What each resource gets:

``id``
    ``terraform:{source}#{address}``, with Terraform's own address:
    ``module.net.aws_subnet.main[0]``, ``aws_iam_user.users["foo.bar"]``.
``kind``
    The normalised category, from :data:`KINDS` (type → kind) and, for types
    not in it, from the words of the type name (:func:`kind_of`); ``other``
    when nothing matches.
``provider``
    The provider key in the providers catalogue: the last part of the provider
    source address (``provider["registry.terraform.io/hetznercloud/hcloud"]``
    → ``hcloud``), aliases and module prefixes ignored, legacy
    ``provider.aws.alias`` read too; ``google-beta`` counts as ``google``.
``region`` and ``country``
    The region is the first non-null of the attributes ``region``,
    ``location`` and ``zone`` (a non-string value gives no region). The country
    comes from the regions catalogue entry ``{provider}/{region}``. When that
    key is missing and ``zone_fallback`` is on (the default), the zone's region
    is tried once: a trailing ``-a``-style letter, ``-1``-style number, or an
    AWS availability-zone letter (``eu-central-1a``) is cut off
    (``europe-west4-a`` → ``europe-west4``, ``fr-par-1`` → ``fr-par``). A region
    still not found gives an :class:`~regie.dsl.values.Unknown` country with
    the reason; no region at all gives a null country.
``labels``
    The ``tags`` attribute, else ``labels``, as strings (booleans as
    ``true``/``false``, null as the empty string; a list of ``k=v`` strings, as
    Scaleway writes tags, becomes a map). Already-string maps are shared with
    the attributes, not copied.
``service``, ``classification``, ``vital``, ``exit_plan``, ``owner``
    From those labels, by the names of :class:`~regie.connectors.base.Ownership` (the
    first non-empty one wins, as in every connector); ``vital`` is read with
    :func:`~regie.engine.facts.truthy_label`.
``attributes``
    The instance's attributes, untouched, except that every path listed in the
    instance's ``sensitive_attributes`` holds the string ``"(sensitive)"``
    (the containers along such a path are copied; the input is not changed).
    Pre-0.12 ``attributes_flat`` maps are unflattened; their values stay strings.

Speed: this runs once per instance of a state that may hold 100,000 of them,
so it shares what it can (tag maps, attribute maps), caches per resource block
(provider, kind, the region → country map) and fills
:class:`~regie.engine.facts.Resource` slots directly. :func:`load_state` parses
with the cyclic garbage collector paused, which halves the cost of parsing.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import orjson

from regie.connectors import json_doc
from regie.connectors.base import REDACTED, ConnectorError, Ownership, redact_secret_names, redaction_args
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource, truthy_label

__all__ = [
    "KINDS",
    "SENSITIVE",
    "StateError",
    "arn_region",
    "kind_of",
    "load_state",
    "provider_key",
    "resources_from_state",
    "with_model_key",
]

#: What a sensitive value is replaced with (the connectors' common marker).
SENSITIVE: Final = REDACTED

#: The state format this module reads.
STATE_VERSION: Final = 4

_DEFAULT_OWNERSHIP: Final = Ownership()


class StateError(ConnectorError, ValueError):
    """Not a state this module can read (wrong format version, wrong shape, invalid JSON).

    A :class:`~regie.connectors.base.ConnectorError` for the shell, and a ``ValueError``
    for callers of the plain functions.
    """


# --- kinds -------------------------------------------------------------------------------

_KIND_TABLE: dict[str, tuple[str, ...]] = {
    "storage": (
        "aws_s3_bucket",
        "aws_s3_bucket_public_access_block",
        "aws_ebs_volume",
        "aws_efs_file_system",
        "azurerm_storage_account",
        "azurerm_storage_container",
        "azurerm_managed_disk",
        "google_storage_bucket",
        "google_compute_disk",
        "hcloud_volume",
        "ovh_cloud_project_storage",
        "scaleway_object_bucket",
        "scaleway_block_volume",
    ),
    "database": (
        "aws_db_instance",
        "aws_rds_cluster",
        "aws_dynamodb_table",
        "aws_elasticache_cluster",
        "azurerm_postgresql_flexible_server",
        "azurerm_mssql_database",
        "azurerm_cosmosdb_account",
        "google_sql_database_instance",
        "ovh_cloud_project_database",
        "scaleway_rdb_instance",
    ),
    "compute": (
        "aws_instance",
        "aws_launch_template",
        "aws_autoscaling_group",
        "aws_lambda_function",
        "azurerm_linux_virtual_machine",
        "azurerm_windows_virtual_machine",
        "google_compute_instance",
        "hcloud_server",
        "ovh_cloud_project_instance",
        "scaleway_instance_server",
    ),
    "kubernetes.cluster": (
        "aws_eks_cluster",
        "azurerm_kubernetes_cluster",
        "google_container_cluster",
        "ovh_cloud_project_kube",
        "scaleway_k8s_cluster",
    ),
    # An account or workspace that hosts model deployments is not itself a model.
    "ai.service": (
        "azurerm_cognitive_account",
        "azurerm_ai_services",
        "azurerm_machine_learning_workspace",
        "google_vertex_ai_index",
    ),
    "ai.model": (
        "aws_bedrockagent_agent",
        "aws_sagemaker_endpoint",
        "azurerm_cognitive_deployment",
        "google_vertex_ai_endpoint",
        "scaleway_inference_deployment",
    ),
    "network": (
        "aws_vpc",
        "aws_subnet",
        "aws_security_group",
        "aws_lb",
        "azurerm_virtual_network",
        "azurerm_subnet",
        "google_compute_network",
        "hcloud_network",
    ),
    "identity": ("aws_iam_role", "aws_iam_user", "aws_iam_policy", "azurerm_user_assigned_identity"),
}

#: Resource type → kind for the types Regie knows by name.
KINDS: Final[Mapping[str, str]] = {t: kind for kind, types in _KIND_TABLE.items() for t in types}

# For other types: the first group with a word of the type name (split on `_`, the
# provider prefix dropped) decides, in this order (`scaleway_instance_ip` is network).


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_KIND_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "database",
        _words(
            "db rds sql mssql mysql postgresql postgres mariadb redis dynamodb cosmosdb database rdb "
            "elasticache documentdb neptune spanner bigtable firestore mongodb"
        ),
    ),
    ("storage", _words("bucket volume disk storage s3 efs fsx share blob snapshot backup glacier")),
    ("kubernetes.cluster", _words("kube k8s eks aks gke kubernetes")),
    ("ai.model", _words("ai bedrock bedrockagent cognitive openai sagemaker inference vertex")),
    (
        "network",
        _words(
            "vpc subnet network firewall security route router lb alb elb loadbalancer dns route53 eip "
            "ip gateway nat cdn cloudfront vnet peering"
        ),
    ),
    ("compute", _words("instance server vm virtual machine lambda function autoscaling ecs app")),
    ("identity", _words("iam role user identity")),
)


def kind_of(rtype: str) -> str:
    """The normalised kind of a Terraform resource type.

    >>> kind_of("aws_db_instance"), kind_of("google_sql_user"), kind_of("null_resource")
    ('database', 'database', 'other')
    """
    known = KINDS.get(rtype)
    if known is not None:
        return known
    words = set(rtype.split("_")[1:])
    for kind, vocabulary in _KIND_WORDS:
        if words & vocabulary:
            return kind
    return "other"


# --- providers ---------------------------------------------------------------------------

_PROVIDER_ALIASES: dict[str, str] = {"google-beta": "google"}


def provider_key(address: Any) -> str | None:
    """The providers-catalogue key of a state's provider address.

    >>> provider_key('provider["registry.terraform.io/hetznercloud/hcloud"]')
    'hcloud'
    >>> provider_key('module.net.provider["registry.terraform.io/hashicorp/aws"].eu')
    'aws'
    >>> provider_key("provider.aws.west"), provider_key(None)
    ('aws', None)
    """
    if address.__class__ is not str:
        return None
    start = address.find('provider["')
    if start != -1:
        end = address.find('"]', start + 10)
        name = address[start + 10 : end if end != -1 else len(address)].rsplit("/", 1)[-1]
    else:
        at = address.find("provider.")
        if at == -1:
            return None
        name = address[at + 9 :].split(".", 1)[0]
    if not name:
        return None
    return _PROVIDER_ALIASES.get(name, name)


# --- regions -----------------------------------------------------------------------------

_ZONE_SUFFIX = re.compile(r"(?:-[a-z]|-[0-9]+|(?<=[0-9])[a-z])$")


def _country(
    regions: Mapping[str, Mapping[str, Any]], provider: str | None, region: str, zone_fallback: bool
) -> Any:
    entry = regions.get(f"{provider}/{region}")
    if entry is None and zone_fallback:
        parent = _ZONE_SUFFIX.sub("", region)
        if parent != region and parent:
            entry = regions.get(f"{provider}/{parent}")
    if entry is None:
        if provider is None:
            return Unknown(
                f"region `{region}` of a resource without provider is not in the regions catalogue"
            )
        return Unknown(f"region `{region}` of provider `{provider}` is not in the regions catalogue")
    country = entry.get("country")
    if country is None:
        return Unknown(f"region `{provider}/{region}` has no country in the regions catalogue")
    return country


def locate(
    candidates: Iterable[Any], regions: Mapping[str, Mapping[str, Any]], provider: str | None, pending: str
) -> tuple[Any, Any]:
    """(region, country) for plans and HCL: the first non-empty string candidate is the region;
    with none, an unknown candidate makes both unknown ("known after apply", "not known before
    plan"), else both are null."""
    unknown = False
    for candidate in candidates:
        if isinstance(candidate, str) and candidate:
            return candidate, _country(regions, provider, candidate, True)
        if isinstance(candidate, Unknown):
            unknown = True
    if unknown:
        return Unknown(pending), Unknown(f"the region is {pending}")
    return None, None


# --- labels ------------------------------------------------------------------------------


#: Where a Terraform resource of kind ``ai.model`` names the model it serves.
_MODEL_FIELDS: Final[Mapping[str, tuple[str, ...]]] = {
    "azurerm_cognitive_deployment": ("model", "name"),  # user-chosen deployment name; the model is here
    "aws_bedrockagent_agent": ("foundation_model",),
    "scaleway_inference_deployment": ("model_name",),
}


def with_model_key(rtype: str, attrs: dict[str, Any], catalogs: Catalogs) -> dict[str, Any]:
    """``attrs`` with ``model_id`` (the model the resource serves, where its type says) and
    ``model_key`` (its models catalogue key, or null), as the other connectors give ``ai.model``.

    >>> c = Catalogs()
    >>> c.merge("models", {"gpt-4o": {"identifiers": ["gpt-4o"]}}, "t")
    >>> a = with_model_key("azurerm_cognitive_deployment", {"model": [{"name": "gpt-4o"}]}, c)
    >>> a["model_id"], a["model_key"]
    ('gpt-4o', 'gpt-4o')
    """
    value: Any = attrs
    for step in _MODEL_FIELDS.get(rtype, ("",)):
        if isinstance(value, list):
            value = value[0] if value else None
        value = value.get(step) if isinstance(value, dict) else None
    ident = value if isinstance(value, str) and value else None
    out = dict(attrs)
    out["model_id"] = ident
    out["model_key"] = catalogs.model_key(ident) if ident is not None else None
    return out


def arn_region(arn: Any) -> str | None:
    """The region in an AWS ARN: AWS states leave `region` out of most resources, the ARN has it.

    >>> arn_region("arn:aws:dynamodb:eu-central-1:111122223333:table/t"), arn_region("arn:aws:s3:::b")
    ('eu-central-1', None)
    """
    if arn.__class__ is not str or not arn.startswith("arn:"):
        return None
    parts = arn.split(":", 4)
    return parts[3] or None if len(parts) > 4 else None


def _text(value: Any) -> str:
    if value.__class__ is str:
        return value  # type: ignore[no-any-return,unused-ignore]
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if value.__class__ in (dict, list):
        return orjson.dumps(value).decode()
    return str(value)


def _labels(tags: Any) -> dict[str, str]:
    """Tags that are not a map of strings, as one: other values as text, ``k=v`` lists split."""
    if tags.__class__ is dict:
        return {str(k): _text(v) for k, v in tags.items()}
    out: dict[str, str] = {}
    if tags.__class__ is list:
        for item in tags:
            if item.__class__ is str:
                key, _, value = item.partition("=")
                out[key] = value
    return out


# --- sensitive values and legacy attributes -----------------------------------------------


def _path_keys(path: Any) -> list[Any] | None:
    """A cty path (``[{"type": "get_attr", "value": "password"}, {"type": "index", ...}]``) as keys."""
    if path.__class__ is not list or not path:
        return None
    keys: list[Any] = []
    for step in path:
        if step.__class__ is not dict:
            return None
        value = step.get("value")
        if step.get("type") == "index" and value.__class__ is dict:
            value = value.get("value")
            if value.__class__ is float and value.is_integer():
                value = int(value)
        if value is None:
            return None
        keys.append(value)
    return keys


def _redact(attributes: dict[str, Any], paths: Sequence[Any]) -> dict[str, Any]:
    """A copy of the attributes with every sensitive path replaced; containers copied on the way."""
    root = dict(attributes)
    copied = {id(root)}
    for path in paths:
        keys = _path_keys(path)
        if keys is None:
            continue
        node: Any = root
        for key in keys[:-1]:
            child = _child(node, key)
            if child.__class__ not in (dict, list):
                break
            if id(child) not in copied:
                child = dict(child) if child.__class__ is dict else list(child)
                node[key] = child
                copied.add(id(child))
            node = child
        else:
            last = keys[-1]
            if _child(node, last, present=True) is not None:
                node[last] = SENSITIVE
    return root


def _child(node: Any, key: Any, present: bool = False) -> Any:
    """``node[key]`` for a map key or list position; None when absent (``present``: a marker instead)."""
    if node.__class__ is dict:
        if key.__class__ is str and key in node:
            return node[key] if not present else True
        return None
    if node.__class__ is list and key.__class__ is int and -len(node) <= key < len(node):
        return node[key] if not present else True
    return None


def _unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A pre-0.12 flatmap (``{"triggers.%": "1", "triggers.a": "x", "ports.0": "80"}``) as nested data.

    >>> _unflatten({"id": "1", "triggers.%": "1", "triggers.a": "x", "ports.#": "2", "ports.1": "443",
    ...             "ports.0": "80"})
    {'id': '1', 'triggers': {'a': 'x'}, 'ports': ['80', '443']}
    """
    root: dict[str, Any] = {}
    lists: set[tuple[str, ...]] = set()
    for key in flat:
        parts = key.split(".")
        if parts[-1] == "#":
            lists.add(tuple(parts[:-1]))
            continue
        if parts[-1] == "%":
            continue
        node = root
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if nxt.__class__ is not dict:
                break
            node = nxt
        else:
            node[parts[-1]] = flat[key]

    def listify(value: Any, prefix: tuple[str, ...]) -> Any:
        if value.__class__ is not dict:
            return value
        items = {k: listify(v, (*prefix, k)) for k, v in value.items()}
        if prefix in lists:
            return [v for _, v in sorted(items.items(), key=lambda kv: (len(kv[0]), kv[0]))]
        return items

    return {k: listify(v, (k,)) for k, v in root.items()}


def _quote(key: Any) -> str:
    """An instance key as Terraform prints it: ``[0]``, ``["eu-west"]``."""
    if key.__class__ is str:
        return "[" + json.dumps(key, ensure_ascii=False) + "]"
    return f"[{key}]"


# --- the reader --------------------------------------------------------------------------


def resources_from_state(
    data: Mapping[str, Any],
    source: str,
    catalogs: Catalogs,
    *,
    ownership: Ownership = _DEFAULT_OWNERSHIP,
    zone_fallback: bool = True,
) -> list[Resource]:
    """One resource per managed instance of a parsed state (format version 4).

    ``source`` names the state (a path, a workspace) in the ids:
    ``terraform:{source}#{address}``. Raises :class:`StateError` (a ``ValueError``) for
    anything that is not a version 4 state.
    """
    return _read(data, source, catalogs, "managed", ownership, zone_fallback)


def load_state(
    raw: bytes,
    source: str,
    catalogs: Catalogs,
    *,
    ownership: Ownership = _DEFAULT_OWNERSHIP,
    zone_fallback: bool = True,
    freeze: bool = True,
) -> list[Resource]:
    """Parse a state's bytes and read its resources, with the cyclic garbage collector paused.

    A state is millions of small, acyclic objects: the collector would walk them again and
    again for nothing (it doubles the parse time). With ``freeze`` (the default) the objects
    that survive are moved to the permanent generation (:func:`gc.freeze`), so that the
    first collections afterwards do not walk them either; they are still freed by reference
    counting when dropped. Invalid JSON raises :class:`StateError` with the line and column.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        try:
            data = json_doc.loads(raw)
        except json_doc.JSONDecodeError as err:
            raise StateError(f"{source}:{err.lineno}:{err.colno}", f"not valid JSON: {err.msg}") from None
        out = _read(data, source, catalogs, "managed", ownership, zone_fallback, consume=True)
        del data
        if freeze:
            gc.freeze()
    finally:
        if enabled:
            gc.enable()
    return out


_MISSING: Final[Any] = object()

_native_instances: Any
try:
    from regie.connectors._speedups import read_instances as _native_instances
except ImportError:  # not built where Regie was installed: `one` reads every instance
    _native_instances = None

# The common spellings of a ``vital`` tag, read without a call; others go to truthy_label.
_truth: Final[dict[str, bool]] = {"true": True, "false": False}


def _first(labels: Mapping[str, str], names: tuple[str, ...]) -> str | None:
    """The first non-empty value among the names (the connectors' ownership convention)."""
    for name in names:
        value = labels.get(name)
        if value:
            return value
    return None


def _read(
    data: Any,
    source: str,
    catalogs: Catalogs,
    mode: str,
    ownership: Ownership,
    zone_fallback: bool,
    *,
    consume: bool = False,
) -> list[Resource]:
    """The reader. ``consume`` (for a state parsed here, no one else's): each resource block
    is dropped from ``data`` once read, so that what the resources do not keep (instance
    objects, ``private`` blobs) is freed while still in the CPU's caches, and its memory is
    reused for the resources, instead of all of it in one cold pass at the end."""
    if not isinstance(data, Mapping):
        raise StateError(source, f"a Terraform state is a JSON object, got {type(data).__name__}")
    version = data.get("version")
    if version != STATE_VERSION or version.__class__ is not int:
        hint = " (a plan or `terraform show -json` output?)" if "format_version" in data else ""
        raise StateError(
            source,
            f"Terraform state format version {version!r} is not supported{hint}; "
            f"Regie reads version {STATE_VERSION} (Terraform 0.12 and later, OpenTofu)",
        )
    blocks = data.get("resources") or []
    if blocks.__class__ is not list:
        raise StateError(f"{source}: resources", f"expected a list, got {type(blocks).__name__}")
    regions: Mapping[str, Mapping[str, Any]] = catalogs.entries.get("regions", {})
    id_prefix = f"terraform:{source}#"
    origin = f"terraform:{source}"
    o_service, o_class, o_vital = ownership.service, ownership.classification, ownership.vital
    o_exit, o_owner = ownership.exit_plan, ownership.owner
    # The common case, one or two names per fact, is read inline below.
    pairs = all(len(names) == 2 for names in (o_service, o_class, o_vital, o_exit, o_owner))
    s1, s2 = o_service[:2] if pairs else ("", "")
    c1, c2 = o_class[:2] if pairs else ("", "")
    v1, v2 = o_vital[:2] if pairs else ("", "")
    e1, e2 = o_exit[:2] if pairs else ("", "")
    w1, w2 = o_owner[:2] if pairs else ("", "")
    providers: dict[Any, str | None] = {}
    kinds: dict[str, str] = {}
    countries: dict[str | None, dict[str, Any]] = {}
    out: list[Resource] = []
    append = out.append
    new = Resource.__new__

    def one(
        inst: Any,
        i: int,
        base: str,
        kind: str,
        rtype: str,
        name: str,
        provider: str | None,
        cmap: dict[str, Any],
    ) -> None:
        """One instance of a block: its resource appended to ``out`` (none for a deposed one)."""
        if inst.__class__ is not dict:
            raise StateError(f"{source}: resources[{i}] ({base})", "an instance must be an object")
        if "deposed" in inst:
            return  # a deposed object is on its way out; the current one stands for the address
        attrs = inst.get("attributes")
        if attrs is None:
            flat = inst.get("attributes_flat")
            attrs = _unflatten(flat) if flat else {}
        elif attrs.__class__ is not dict:
            raise StateError(f"{source}: resources[{i}] ({base})", "`attributes` must be an object")
        sensitive = inst.get("sensitive_attributes")
        if sensitive:
            attrs = _redact(attrs, sensitive)
        attrs = redact_secret_names(attrs)  # names such as `password`, even when not marked
        if kind == "ai.model":
            attrs = with_model_key(rtype, attrs, catalogs)
        key = inst.get("index_key")
        if key is None:
            address = base
        elif key.__class__ is int:
            address = f"{base}[{key}]"
        else:
            address = base + _quote(key)

        region = attrs.get("region")
        if region is None:
            region = attrs.get("location")
            if region is None:
                region = attrs.get("zone")
                if region is None:
                    region = arn_region(attrs.get("arn"))
        if region is None:
            country = None
        elif region.__class__ is str:
            country = cmap.get(region, _MISSING)
            if country is _MISSING:
                country = cmap[region] = _country(regions, provider, region, zone_fallback)
        else:
            region = country = None

        labels = attrs.get("tags")
        if labels is None:
            labels = attrs.get("labels")
        r = new(Resource)
        if labels:
            if labels.__class__ is dict:
                for value in labels.values():
                    if value.__class__ is not str:
                        labels = _labels(labels)
                        break
            else:
                labels = _labels(labels)
            if pairs:
                get = labels.get
                vital = get(v1) or get(v2) or None
                r.service = get(s1) or get(s2) or None
                r.classification = get(c1) or get(c2) or None
                r.exit_plan = get(e1) or get(e2) or None
                r.owner = get(w1) or get(w2) or None
            else:
                vital = _first(labels, o_vital)
                r.service = _first(labels, o_service)
                r.classification = _first(labels, o_class)
                r.exit_plan = _first(labels, o_exit)
                r.owner = _first(labels, o_owner)
            if vital is not None:
                flag = _truth.get(vital)
                vital = truthy_label(vital) if flag is None else flag
            r.vital = vital
        else:
            labels = {}
            r.service = r.classification = r.vital = r.exit_plan = r.owner = None
        r.id = id_prefix + address
        r.source = origin
        r.kind = kind
        r.type = rtype
        r.address = address
        r.name = name
        r.provider = provider
        r.region = region
        r.country = country
        r.action = None
        r.labels = labels
        r.attributes = attrs
        r.seq = 0
        append(r)

    # The compiled reader (connectors/_speedups.c) reads the common instance itself and hands
    # every other one (flatmaps, sensitive paths, odd index keys or labels) to `one`.
    fast = _native_instances if pairs else None
    if fast is not None:
        reader = (
            Resource,
            id_prefix,
            origin,
            (v1, v2, s1, s2, c1, c2, e1, e2, w1, w2),
            _truth,
            truthy_label,
            arn_region,
            lambda provider, region: _country(regions, provider, region, zone_fallback),
            one,
            *redaction_args(),
        )
    for i in range(len(blocks)):
        block = blocks[i]
        if consume:
            blocks[i] = None
        if block.__class__ is not dict:
            raise StateError(f"{source}: resources[{i}]", "expected an object")
        if block.get("mode", "managed") != mode:
            continue  # data sources: to be kept apart (call with mode "data")
        rtype = block.get("type")
        name = block.get("name")
        if rtype.__class__ is not str or name.__class__ is not str:
            raise StateError(f"{source}: resources[{i}]", "needs a string `type` and `name`")
        raw_provider = block.get("provider")
        provider = providers.get(raw_provider, _MISSING)
        if provider is _MISSING:
            provider = providers[raw_provider] = provider_key(raw_provider)
        kind = kinds.get(rtype)
        if kind is None:
            kind = kinds[rtype] = kind_of(rtype)
        cmap = countries.get(provider)
        if cmap is None:
            cmap = countries[provider] = {}
        module = block.get("module")
        base = f"{rtype}.{name}" if mode == "managed" else f"{mode}.{rtype}.{name}"
        if module:
            base = f"{module}.{base}"
        instances = block.get("instances") or ()
        if fast is not None and instances.__class__ is list and kind != "ai.model":
            fast(reader, instances, i, base, kind, rtype, name, provider, cmap, out)
            continue
        for inst in instances:
            one(inst, i, base, kind, rtype, name, provider, cmap)
    return out
