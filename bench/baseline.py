"""The same rules as bench/rules/*.regie, hand-written as plain Python loops over the parsed JSON.

The speed reference of bench/run.py (what a Python engine could hope for: no facts, no
interpretation, no generality) and a second opinion on Regie's results for Regie's own
inputs (bench/gen.py). It reads states as Regie's Terraform connector does: managed,
current (not deposed) instances, Terraform addresses with quoted string keys, the
provider key from the provider address, regions looked up as ``provider/region`` in the
bench catalogue (bench/catalog).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from regie.engine.catalog import Catalogs

Pair = tuple[str, str]

FLAG = {
    "aws_ebs_volume": "encrypted",
    "aws_db_instance": "storage_encrypted",
    "azurerm_storage_account": "infrastructure_encryption_enabled",
}
BLOCK = {"aws_s3_bucket": "server_side_encryption_configuration", "google_storage_bucket": "encryption"}
ACL_TYPES = {"aws_s3_bucket", "scaleway_object_bucket"}
PUBLIC = {"public-read", "public-read-write"}
LEVELS = {"BBN2", "BBN3"}
CLASSIFICATIONS = {"public", "BBN1", "BBN2", "BBN3"}
MODELS = {"gpt-nl", "mistral-large-2411", "mistral-small-3.1-24b", "pixtral-12b"}
REGISTRIES = ("registry.example.eu/",)
MAX_SHARE = 0.8


def catalogue(catalogs: Catalogs) -> dict[str, Any]:
    """The bench catalogue as plain lookups."""
    eu = {k for k, c in catalogs.entries["countries"].items() if c.get("eu") is True}
    return {
        "eu": eu,
        "eu_providers": {
            k for k, p in catalogs.entries["providers"].items() if p.get("parent_jurisdiction") in eu
        },
        "regions": {k: v.get("country") for k, v in catalogs.entries["regions"].items()},
        "bare_regions": {
            k.partition("/")[2]: v.get("country") for k, v in catalogs.entries["regions"].items()
        },
    }


def _provider(address: str) -> str:
    start = address.find('provider["')
    if start == -1:
        return address.rsplit("provider.", 1)[-1].split(".", 1)[0]
    return address[start + 10 : address.find('"]', start)].rsplit("/", 1)[-1]


def evaluate_w1(state: dict[str, Any], cat: dict[str, Any]) -> set[Pair]:
    eu, eu_providers, regions = cat["eu"], cat["eu_providers"], cat["regions"]
    out: set[Pair] = set()
    add = out.add
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    vital_services: set[str] = set()
    for res in state["resources"]:
        if res.get("mode") != "managed":
            continue
        rtype = res["type"]
        prov = _provider(res["provider"])
        base = f"{res['module']}.{rtype}.{res['name']}" if res.get("module") else f"{rtype}.{res['name']}"
        for inst in res["instances"]:
            if "deposed" in inst:
                continue
            a = inst["attributes"]
            key = inst.get("index_key")
            addr = base if key is None else (f'{base}["{key}"]' if isinstance(key, str) else f"{base}[{key}]")
            tags = a.get("tags")
            if tags is None:
                tags = a.get("labels")
            if tags is not None:
                level = tags.get("classification")
                if level in LEVELS and prov not in eu_providers:
                    add(("R01", addr))
                vital = tags.get("vital") == "true"
                if vital and not tags.get("exit_plan"):
                    add(("R04", addr))
                if "service" not in tags or "classification" not in tags:
                    add(("R12", addr))
                if level is not None and level not in CLASSIFICATIONS:
                    add(("R13", addr))
                service = tags.get("service")
                if service is not None:
                    counts[service][prov] += 1
                    if vital:
                        vital_services.add(service)
            region = a.get("region")
            if region is None:
                region = a.get("location")
            if region is None:
                region = a.get("zone")
            if region is not None:
                country = regions.get(f"{prov}/{region}")
                if country is None:
                    add(("R03", addr))
                elif country not in eu:
                    add(("R02", addr))
            flag = FLAG.get(rtype)
            if flag is not None and a.get(flag) is not True:
                add(("R05", addr))
            block = BLOCK.get(rtype)
            if block is not None and not a.get(block):
                add(("R06", addr))
            if rtype in ACL_TYPES and a.get("acl") in PUBLIC:
                add(("R07", addr))
            if rtype == "aws_s3_bucket_public_access_block" and not (
                a.get("block_public_acls") is True and a.get("block_public_policy") is True
            ):
                add(("R08", addr))
            if (rtype == "google_storage_bucket" and a.get("public_access_prevention") != "enforced") or (
                rtype == "azurerm_storage_account" and a.get("allow_nested_items_to_be_public") is True
            ):
                add(("R09", addr))
            if rtype == "aws_bedrockagent_agent":
                if a.get("foundation_model") not in MODELS:
                    add(("R10", addr))
            elif rtype == "azurerm_cognitive_deployment":
                blocks = a.get("model") or []
                if (blocks[0].get("name") if blocks else None) not in MODELS:
                    add(("R10", addr))
            elif rtype == "scaleway_inference_deployment" and a.get("model_name") not in MODELS:
                add(("R10", addr))
            if (
                (rtype == "aws_instance" and (a.get("instance_type") or "").startswith(("t2.", "m4.", "c4.")))
                or (rtype == "hcloud_server" and a.get("server_type") in ("cx11", "cx21"))
                or (
                    rtype == "azurerm_linux_virtual_machine"
                    and (a.get("size") or "").startswith("Standard_A")
                )
            ):
                add(("R11", addr))
            if (rtype == "aws_db_instance" and a.get("publicly_accessible") is True) or (
                rtype == "azurerm_postgresql_flexible_server"
                and a.get("public_network_access_enabled") is True
            ):
                add(("R14", addr))
    for service in vital_services:
        c = counts[service]
        if max(c.values()) / sum(c.values()) > MAX_SHARE:
            add(("R15", "service:" + service))
    return out


def evaluate_w2(review: dict[str, Any], cat: dict[str, Any]) -> set[Pair]:
    obj = review["request"]["object"]
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    pod = obj["spec"]["template"]["spec"]
    pod_non_root = (pod.get("securityContext") or {}).get("runAsNonRoot")
    vital = labels.get("vital") == "true"
    out: set[Pair] = set()
    add = out.add
    for c in (pod.get("initContainers") or []) + pod["containers"]:
        name, image = c["name"], c["image"]
        sc = c.get("securityContext") or {}
        limits = (c.get("resources") or {}).get("limits") or {}
        if not image.startswith(REGISTRIES):
            add(("A01", name))
        if vital and "@sha256:" not in image:
            add(("A02", name))
        if image.endswith(":latest") or ":" not in image:
            add(("A03", name))
        if "memory" not in limits:
            add(("A04", name))
        if "cpu" not in limits:
            add(("A05", name))
        if sc.get("privileged") is True:
            add(("A06", name))
        own = sc.get("runAsNonRoot")
        if (pod_non_root if own is None else own) is not True:
            add(("A07", name))
        if sc.get("allowPrivilegeEscalation") is not False:
            add(("A08", name))
        if any(e.get("name") == "AI_MODEL" and e.get("value") not in MODELS for e in c.get("env") or []):
            add(("A14", name))
    if pod.get("hostNetwork") is True:
        add(("A09", "deployment"))
    if "service" not in labels or "classification" not in labels:
        add(("A10", "deployment"))
    level = labels.get("classification")
    if level is not None and level not in CLASSIFICATIONS:
        add(("A11", "deployment"))
    if vital and "regie.example.eu/exit-plan" not in annotations:
        add(("A12", "deployment"))
    if vital and (obj["spec"].get("replicas") or 1) < 2:
        add(("A13", "deployment"))
    if (
        level in LEVELS
        and cat["bare_regions"].get(annotations.get("regie.example.eu/data-region")) not in cat["eu"]
    ):
        add(("A15", "deployment"))
    return out
