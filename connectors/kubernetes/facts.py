"""Kubernetes objects to resources, and the facts derived from them (pure; no I/O).

:func:`resources_from_objects` is the one entry point every source of objects uses
(manifests, a live cluster, an admission request). It gives, per object:

- one resource with ``id`` ``k8s:{source}/{apiVersion}/{kind}/{namespace or _}/{name}``,
  ``kind`` from :data:`KINDS` (``kubernetes.object`` otherwise), ``type``
  ``apiVersion/kind``, the object's labels, ownership from the object's labels
  and, where the object is silent, its namespace's labels, and the object
  itself as ``attributes`` with secrets redacted (:func:`redact_object`);
- one ``container.image`` resource per container image (:func:`parse_image`,
  registry looked up in the registries catalogue, exact host before pattern);
- one ``ai.model`` resource per container that serves a language model
  (:func:`detect_models`), and one per KServe ``InferenceService``;
- for Nodes, provider and region from ``spec.providerID`` and the topology
  labels (:func:`node_location`). When the objects include nodes, every other
  ``kubernetes.*`` resource (and each ``ai.model``) inherits the cluster's
  provider, region and country; where nodes disagree the value is unknown.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from regie.connectors.base import REDACTED, Ownership, ownership_from_labels
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.facts import Resource

__all__ = [
    "KINDS",
    "WORKLOAD_KINDS",
    "ImageRef",
    "ModelServer",
    "detect_models",
    "is_secret_name",
    "node_location",
    "parse_image",
    "redact_object",
    "registry_entry",
    "resources_from_objects",
]

WORKLOAD_KINDS: Final = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod", "ReplicaSet", "ReplicationController"}
)

#: Kubernetes kind → normalised kind; anything else is ``kubernetes.object``.
KINDS: Final[Mapping[str, str]] = {
    **{k: "kubernetes.workload" for k in WORKLOAD_KINDS},
    "Service": "kubernetes.service",
    "Ingress": "kubernetes.ingress",
    "Namespace": "kubernetes.namespace",
    "Node": "kubernetes.node",
    "ConfigMap": "kubernetes.config",
    "Secret": "kubernetes.secret",
}

_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH|"
    r"CLIENT_?KEY|SESSION_?KEY|ENCRYPTION_?KEY|SIGNING_?KEY|DSN|CONNECTION_?STRING",
    re.IGNORECASE,
)
_SECRET_FLAG = re.compile(
    r"^(--?[A-Za-z0-9_.-]*(?:password|passwd|token|secret|api[-_]?key|access[-_]?key|"
    r"private[-_]?key|credential)[A-Za-z0-9_.-]*)(=.*)?$",
    re.IGNORECASE,
)
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def is_secret_name(name: str) -> bool:
    """Whether an environment variable or config key looks like it holds a secret.

    >>> is_secret_name("DB_PASSWORD"), is_secret_name("OPENAI_API_KEY"), is_secret_name("MODEL_ID")
    (True, True, False)
    """
    return bool(_SECRET_NAME.search(name))


# --- redaction ---------------------------------------------------------------------------


def redact_object(obj: Mapping[str, Any], *, in_place: bool = False) -> dict[str, Any]:
    """A copy of ``obj`` with every secret value replaced by ``(sensitive)``.

    Secret ``data``/``stringData`` values; ConfigMap values under secret-looking keys;
    env ``value`` of secret-looking names and secret-looking ``--flag=value`` arguments
    in every container; the ``last-applied-configuration`` annotation (a full copy of
    the object, secrets included). The input is not changed.

    >>> redact_object({"kind": "Secret", "data": {"pw": "aHVudGVyMg=="}})["data"]
    {'pw': '(sensitive)'}
    """
    # A caller that owns the object (the admission webhook, with a review parsed for this
    # request alone) spares the deep copy.
    out: dict[str, Any] = obj if in_place and obj.__class__ is dict else _copy(obj)
    kind = out.get("kind")
    if kind == "Secret":
        for key in ("data", "stringData"):
            values = out.get(key)
            if isinstance(values, dict):
                out[key] = {str(k): REDACTED for k in values}
            elif values is not None:
                out[key] = REDACTED
    elif kind == "ConfigMap":
        for key in ("data", "binaryData"):
            values = out.get(key)
            if isinstance(values, dict):
                out[key] = {k: REDACTED if is_secret_name(str(k)) else v for k, v in values.items()}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
            annotations[_LAST_APPLIED] = REDACTED
    for container in _all_containers(out):
        _redact_container(container)
    return out


def _copy(value: Any) -> Any:
    # Objects parsed from JSON are plain dicts, lists and scalars: test those by exact type
    # first (the admission path copies every object), the abstract Mapping only after.
    cls = value.__class__
    if cls is dict:
        return {k if k.__class__ is str else str(k): _copy(v) for k, v in value.items()}
    if cls is list or cls is tuple:
        return [_copy(v) for v in value]
    if cls is str or cls is int or cls is float or cls is bool or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    return value


def _redact_container(container: dict[str, Any]) -> None:
    env = container.get("env")
    if isinstance(env, list):
        for var in env:
            if isinstance(var, dict) and "value" in var and is_secret_name(str(var.get("name", ""))):
                var["value"] = REDACTED
    for key in ("args", "command"):
        argv = container.get(key)
        if isinstance(argv, list):
            container[key] = _redact_argv(argv)


def _redact_argv(argv: list[Any]) -> list[Any]:
    out: list[Any] = []
    redact_next = False
    for arg in argv:
        if redact_next:
            out.append(REDACTED)
            redact_next = False
            continue
        if isinstance(arg, str):
            m = _SECRET_FLAG.match(arg)
            if m and m.group(2) is not None:
                out.append(f"{m.group(1)}={REDACTED}")
                continue
            if m:
                redact_next = True
        out.append(arg)
    return out


# --- walking pod specs -------------------------------------------------------------------


def _pod_specs(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pod specs of an object: a Pod's spec, a controller's template, a CronJob's job template."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        return []
    kind = obj.get("kind")
    if kind == "Pod":
        return [spec]
    if kind == "CronJob":
        job = _get(spec, "jobTemplate", "spec", "template", "spec")
        return [job] if isinstance(job, dict) else []
    template = _get(spec, "template", "spec")
    return [template] if isinstance(template, dict) else []


def _all_containers(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for spec in _pod_specs(obj):
        for key in ("initContainers", "containers", "ephemeralContainers"):
            items = spec.get(key)
            if isinstance(items, list):
                out.extend(c for c in items if isinstance(c, dict))
    return out


def _get(value: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


# --- images ------------------------------------------------------------------------------


class ImageRef(NamedTuple):
    """An image reference split as the container runtime reads it."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None


def parse_image(image: str) -> ImageRef:
    """Registry host, repository, tag and digest of an image reference.

    A first component with a ``.`` or ``:``, or ``localhost``, is a host; otherwise the
    image comes from ``docker.io`` (``library/`` added to one-word names). No tag and no
    digest means the runtime pulls ``latest``; ``tag`` is then None.

    >>> parse_image("redis")
    ImageRef(registry='docker.io', repository='library/redis', tag=None, digest=None)
    >>> parse_image("ghcr.io/org/app:1.2@sha256:ab")
    ImageRef(registry='ghcr.io', repository='org/app', tag='1.2', digest='sha256:ab')
    """
    rest, _, digest = image.partition("@")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, path = first.lower(), remainder
    else:
        registry, path = "docker.io", rest
    name, colon, tag = path.rpartition(":")
    if not colon or "/" in tag:
        name, tag = path, ""
    if registry in ("index.docker.io", "docker.io") and "/" not in name:
        name = f"library/{name}"
    if registry == "index.docker.io":
        registry = "docker.io"
    return ImageRef(registry, name, tag or None, digest or None)


def registry_entry(host: str, catalogs: Catalogs) -> tuple[str, dict[str, Any]] | None:
    """The registries catalogue entry for a host: the exact key, else the most specific pattern.

    >>> from regie.engine.catalog import Catalogs
    >>> cats = Catalogs()
    >>> cats.merge("registries", {"*.azurecr.io": {"name": "ACR", "source": "t"}}, "t")
    >>> registry_entry("contoso.azurecr.io", cats)[0]
    '*.azurecr.io'
    """
    entries = catalogs.entries.get("registries", {})
    if host in entries:
        return host, entries[host]
    best: tuple[int, str] | None = None
    for key in entries:
        if "*" in key and fnmatch.fnmatchcase(host, key) and _pattern_ok(host, key):
            score = len(key.replace("*", ""))
            if best is None or score > best[0]:
                best = (score, key)
    return (best[1], entries[best[1]]) if best else None


def _pattern_ok(host: str, pattern: str) -> bool:
    # `*` stands for one or more characters (fnmatch allows zero).
    regex = "^" + ".+".join(re.escape(part) for part in pattern.split("*")) + "$"
    return re.match(regex, host) is not None


# --- model servers ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelServer:
    """A language model served by one container (or one InferenceService predictor)."""

    server: str
    model: str | None
    part: str  # container name, or `predictor`
    note: str | None = None


_VAR = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def _expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes ``$(VAR)`` expansion in command and args (unknown variables stay)."""
    return _VAR.sub(lambda m: env.get(m.group(1), m.group(0)), text)


def _flag(argv: Sequence[str], *names: str) -> str | None:
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def _argv(container: Mapping[str, Any], env: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for key in ("command", "args"):
        items = container.get(key)
        if isinstance(items, list):
            for item in items:
                if isinstance(item, str):
                    # `sh -c "vllm serve x --port 80"`: split shell strings into words too.
                    out.extend(_expand(item, env).split())
    return out


def detect_models(obj: Mapping[str, Any]) -> list[ModelServer]:
    """The language models an object serves: vLLM, TGI, TEI, Ollama, llama.cpp, KServe.

    >>> pod = {"kind": "Pod", "spec": {"containers": [{"name": "m", "image": "vllm/vllm-openai",
    ...        "args": ["--model", "mistralai/Mistral-7B-Instruct-v0.3"]}]}}
    >>> detect_models(pod)[0].model
    'mistralai/Mistral-7B-Instruct-v0.3'
    """
    if obj.get("kind") == "InferenceService":
        return _kserve(obj)
    found: list[ModelServer] = []
    for container in _all_containers(obj):
        server = _container_model(container)
        if server is not None:
            found.append(server)
    return found


def _container_env(container: Mapping[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    items = container.get("env")
    if isinstance(items, list):
        for var in items:
            if (
                isinstance(var, dict)
                and isinstance(var.get("name"), str)
                and isinstance(var.get("value"), str)
            ):
                env[var["name"]] = var["value"]
    return env


def _container_model(container: Mapping[str, Any]) -> ModelServer | None:
    name = str(container.get("name", ""))
    image = str(container.get("image", ""))
    env = _container_env(container)
    argv = _argv(container, env)
    repo = parse_image(image).repository.lower() if image else ""
    words = " ".join(argv)

    def found(server: str, model: str | None, why: str = "") -> ModelServer:
        if model is not None and "$(" in model:
            return ModelServer(
                server, model, name, f"the model comes from {model}, which is not a literal value"
            )
        return ModelServer(server, model, name, why or None)

    if "vllm" in repo or "vllm.entrypoints" in words or re.search(r"\bvllm serve\b", words):
        model = _flag(argv, "--model")
        if model is None and "serve" in argv:
            i = argv.index("serve")
            if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                model = argv[i + 1]
        return found("vllm", model, "" if model else "vLLM serves facebook/opt-125m unless --model is set")
    if "text-generation-inference" in repo or "text-generation-launcher" in words:
        return found("tgi", _flag(argv, "--model-id") or env.get("MODEL_ID"))
    if "text-embeddings-inference" in repo or "text-embeddings-router" in words:
        return found("tei", _flag(argv, "--model-id") or env.get("MODEL_ID"))
    if "ollama" in repo or re.search(r"\bollama (?:serve|run|pull)\b", words):
        m = re.search(r"\bollama (?:run|pull) ([^\s;&|]+)", words)
        model = m.group(1) if m else env.get("OLLAMA_MODEL")
        return found("ollama", model, "" if model else "Ollama pulls its models at run time")
    if "llama.cpp" in repo or "llama-cpp" in repo or "llama-server" in words:
        return found("llama.cpp", _flag(argv, "-m", "--model", "-hf", "--hf-repo"))
    return None


def _kserve(obj: Mapping[str, Any]) -> list[ModelServer]:
    predictor = _get(obj, "spec", "predictor")
    if not isinstance(predictor, dict):
        return []
    model = predictor.get("model")
    if not isinstance(model, dict):  # the older per-framework form: predictor.{sklearn, huggingface, …}
        model = next((v for v in predictor.values() if isinstance(v, dict) and "storageUri" in v), None)
    if not isinstance(model, dict):
        return []
    argv = (
        [str(a) for a in model.get("args", []) if isinstance(a, str)]
        if isinstance(model.get("args"), list)
        else []
    )
    ident = _flag(argv, "--model_id", "--model-id")
    storage = model.get("storageUri")
    fmt = _get(model, "modelFormat", "name")
    server = f"kserve/{fmt}" if isinstance(fmt, str) else "kserve"
    value = ident or (storage if isinstance(storage, str) else None)
    return [ModelServer(server, value, "predictor", None if value else "no storageUri or --model_id")]


# --- nodes -------------------------------------------------------------------------------

#: providerID scheme → providers catalogue key (None: the scheme does not name an operator).
_PROVIDER_SCHEMES: Final[Mapping[str, str | None]] = {
    "aws": "aws",
    "azure": "azurerm",
    "gce": "google",
    "hcloud": "hcloud",
    "scaleway": "scaleway",
    "oci": "oci",
    "ibm": "ibm",
    "exoscale": "exoscale",
    "ionos": "ionoscloud",
    "upcloud": "upcloud",
    "alicloud": "alicloud",
    "huaweicloud": "huaweicloud",
    "stackit": "stackit",
    "openstack": None,
    "kind": None,
    "k3s": None,
}

_ZONE_SUFFIX = re.compile(r"^(?P<region>.+?)(?:-[a-z]|[a-z]|-\d+)$")


def node_location(node: Mapping[str, Any]) -> tuple[Any, Any]:
    """(provider, region) of a Node from ``spec.providerID`` and its topology labels.

    Unknown values carry the reason. ``topology.kubernetes.io/region`` wins over a region
    read from the providerID's zone.

    >>> node_location({"spec": {"providerID": "aws:///eu-central-1a/i-0abc"}})
    ('aws', 'eu-central-1')
    >>> node_location({"spec": {"providerID": "gce://proj/europe-west4-a/n1"}})
    ('google', 'europe-west4')
    """
    labels = _get(node, "metadata", "labels")
    labels = labels if isinstance(labels, Mapping) else {}
    pid = _get(node, "spec", "providerID")
    provider: Any = Unknown("the node has no spec.providerID")
    zone: str | None = None
    if isinstance(pid, str) and "://" in pid:
        scheme, _, rest = pid.partition("://")
        if scheme in _PROVIDER_SCHEMES:
            key = _PROVIDER_SCHEMES[scheme]
            provider = (
                key if key else Unknown(f"providerID `{scheme}://` does not say which operator runs it")
            )
        else:
            provider = Unknown(f"providerID scheme `{scheme}` is not known")
        parts = [p for p in rest.split("/") if p]
        if scheme == "aws" and parts and parts[0] != parts[-1]:
            zone = parts[0]
        elif scheme in ("gce", "scaleway") and len(parts) >= 3:
            zone = parts[1]
    region: Any = labels.get("topology.kubernetes.io/region") or labels.get(
        "failure-domain.beta.kubernetes.io/region"
    )
    if not region:
        zone = labels.get("topology.kubernetes.io/zone") or zone
        if isinstance(zone, str) and zone:
            m = _ZONE_SUFFIX.match(zone)
            region = m.group("region") if m else zone
        else:
            region = Unknown("the node has no topology.kubernetes.io/region label and its providerID no zone")
    return provider, region


def _country(provider: Any, region: Any, catalogs: Catalogs) -> Any:
    if isinstance(provider, Unknown):
        return provider
    if isinstance(region, Unknown):
        return region
    if provider is None or region is None:
        return None
    entry = catalogs.entries.get("regions", {}).get(f"{provider}/{region}")
    if entry is None:
        return Unknown(f"region `{provider}/{region}` is not in the regions catalogue")
    return entry.get("country")


def _agree(values: list[Any], what: str) -> Any:
    known = {v for v in values if not isinstance(v, Unknown)}
    if len(known) == 1 and len(known) == len({str(v) for v in values}):
        return known.pop()
    if not known:
        return values[0] if values else None
    return Unknown(f"the cluster's nodes are in several {what}s: {', '.join(sorted(map(str, known)))}")


# --- objects to resources ----------------------------------------------------------------

_DEFAULT_OWNERSHIP: Final = Ownership()
_OWNERSHIP_FIELDS: Final = ("service", "classification", "vital", "exit_plan", "owner")


def object_id(source: str, obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    ns = meta.get("namespace") or "_"
    name = meta.get("name") or meta.get("generateName") or "_"
    return f"k8s:{source}/{obj.get('apiVersion')}/{obj.get('kind')}/{ns}/{name}"


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels = _get(obj, "metadata", "labels")
    if not isinstance(labels, Mapping):
        return {}
    return {
        str(k): v if isinstance(v, str) else ("" if v is None else str(v)).lower() for k, v in labels.items()
    }


def resources_from_objects(
    objects: Iterable[Mapping[str, Any]],
    *,
    source: str,
    origin: str,
    catalogs: Catalogs,
    ownership: Ownership = _DEFAULT_OWNERSHIP,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    action: str | None = None,
    owned: bool = False,
) -> list[Resource]:
    """Resources for Kubernetes objects (each with ``apiVersion``, ``kind``, ``metadata.name``).

    ``source`` goes into ids (``k8s:{source}/…``); ``origin`` is the resource's ``source``
    field (``k8s:manifests:deploy/``). ``namespace_labels`` supply labels of namespaces
    that are not among the objects (an admission webhook's cache); Namespace objects in
    ``objects`` win over it. ``action`` is set on every resource (admission requests).
    ``owned``: the caller gives the objects up, so secrets are redacted in them rather than
    in copies.
    """
    objs = list(objects)
    ns_labels: dict[str, Mapping[str, str]] = dict(namespace_labels or {})
    nodes = []
    for obj in objs:
        if obj.get("kind") == "Namespace":
            name = _get(obj, "metadata", "name")
            if isinstance(name, str):
                ns_labels[name] = _labels(obj)
        elif obj.get("kind") == "Node":
            nodes.append(obj)
    cluster: tuple[Any, Any, Any] | None = None
    if nodes:
        places = [node_location(n) for n in nodes]
        provider = _agree([p for p, _ in places], "provider")
        region = _agree([r for _, r in places], "region")
        cluster = (provider, region, _country(provider, region, catalogs))

    out: list[Resource] = []
    for obj in objs:
        out.extend(
            _object_resources(obj, source, origin, catalogs, ownership, ns_labels, action, cluster, owned)
        )
    return out


def _object_resources(
    obj: Mapping[str, Any],
    source: str,
    origin: str,
    catalogs: Catalogs,
    ownership: Ownership,
    ns_labels: Mapping[str, Mapping[str, str]],
    action: str | None,
    cluster: tuple[Any, Any, Any] | None,
    owned: bool = False,
) -> list[Resource]:
    api_version = str(obj.get("apiVersion"))
    kind = str(obj.get("kind"))
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), Mapping) else {}
    assert isinstance(meta, Mapping)
    name = meta.get("name") or meta.get("generateName")
    namespace = meta.get("namespace")
    labels = _labels(obj)
    own = ownership_from_labels(labels, ownership)
    if isinstance(namespace, str) and namespace in ns_labels:
        from_ns = ownership_from_labels(ns_labels[namespace], ownership)
        for key in _OWNERSHIP_FIELDS:
            if own[key] is None:
                own[key] = from_ns[key]
    rid = object_id(source, obj)
    norm = KINDS.get(kind, "kubernetes.object")
    resource = Resource(
        rid,
        source=origin,
        kind=norm,
        type=f"{api_version}/{kind}",
        address=rid.removeprefix(f"k8s:{source}/"),
        name=str(name) if name is not None else None,
        action=action,
        labels=labels,
        attributes=redact_object(obj, in_place=owned),
        **own,
    )
    if kind == "Node":
        provider, region = node_location(obj)
        resource.provider, resource.region = provider, region
        resource.country = _country(provider, region, catalogs)
    elif cluster is not None:
        resource.provider, resource.region, resource.country = cluster
    out = [resource]

    seen: set[str] = set()
    for container in _all_containers(obj):
        image = container.get("image")
        cname = str(container.get("name", ""))
        if not isinstance(image, str) or not image or cname in seen:
            continue
        seen.add(cname)
        out.append(_image_resource(image, cname, resource, catalogs, action))
    for served in detect_models(obj):
        out.append(_model_resource(served, resource, catalogs, action, cluster))
    return out


def _inherit(target: Resource, workload: Resource) -> None:
    for key in _OWNERSHIP_FIELDS:
        setattr(target, key, getattr(workload, key))


def _image_resource(
    image: str, container: str, workload: Resource, catalogs: Catalogs, action: str | None
) -> Resource:
    ref = parse_image(image)
    attributes: dict[str, Any] = {
        "image": image,
        "registry": ref.registry,
        "repository": ref.repository,
        "tag": ref.tag,
        "digest": ref.digest,
        "workload": workload.id,
        "container": container,
    }
    found = registry_entry(ref.registry, catalogs)
    provider: Any
    country: Any
    if found is None:
        reason = f"registry `{ref.registry}` is not in the registries catalogue"
        provider, country = Unknown(reason), Unknown(reason)
    else:
        key, entry = found
        provider, country = key, entry.get("jurisdiction")
        attributes["jurisdiction"] = entry.get("jurisdiction")
        attributes["registry_notes"] = entry.get("notes")
    out = Resource(
        f"{workload.id}#image:{container}",
        source=workload.source,
        kind="container.image",
        type="container.image",
        name=image,
        provider=provider,
        country=country,
        action=action,
        labels=dict(workload.labels),
        attributes=attributes,
    )
    _inherit(out, workload)
    return out


def _model_resource(
    served: ModelServer,
    workload: Resource,
    catalogs: Catalogs,
    action: str | None,
    cluster: tuple[Any, Any, Any] | None,
) -> Resource:
    attributes: dict[str, Any] = {
        "model": served.model,
        "server": served.server,
        "workload": workload.id,
        "container": served.part,
    }
    key = catalogs.model_key(served.model) if served.model else None
    attributes["model_key"] = key
    note = served.note
    if key is None and served.model and note is None:
        note = f"model `{served.model}` is not in the models catalogue"
    if note:
        attributes["note"] = note
    # `provider` is who serves the model, as for the AI-gateway connectors: the cluster's
    # provider when the nodes say, else the organisation itself.
    provider: Any = cluster[0] if cluster is not None else SELF_HOSTED
    out = Resource(
        f"{workload.id}#model:{served.part}",
        source=workload.source,
        kind="ai.model",
        type=f"{served.server}/model",
        name=served.model,
        provider=provider,
        action=action,
        labels=dict(workload.labels),
        attributes=attributes,
    )
    if cluster is not None:
        out.region, out.country = cluster[1], cluster[2]
    _inherit(out, workload)
    return out


#: The provider of a model served by the organisation's own servers (as in the HTTP presets).
SELF_HOSTED: Final = "self-hosted"
