"""The benchmark's two workloads as Regie runs them, shared by peer.py and run.py.

W1: a Terraform state's bytes → resources (regie.connectors.terraform) → an inventory →
``evaluate`` with bench/rules/sovereignty.regie → (rule, Terraform address) pairs.
W2: an AdmissionReview's bytes → one ``kubernetes.workload`` resource → ``evaluate``
with bench/rules/admission.regie → (rule, container name or ``deployment``) pairs.

Policies are compiled once and catalogues loaded once (:class:`Bench`); a run then pays
only :meth:`Bench.load` (bytes → facts) and :meth:`Bench.decide` (facts → pairs).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any

import orjson

from regie.connectors.terraform.state import load_state
from regie.dsl.diagnostics import render
from regie.dsl.values import Unknown
from regie.engine.catalog import Catalogs
from regie.engine.evaluate import Evaluation, PolicySet, evaluate
from regie.engine.facts import Inventory, Resource, truthy_label
from regie.loading import load_catalogs, load_modules

HERE = Path(__file__).resolve().parent
RULES = HERE / "rules"
CATALOG = HERE / "catalog"
POLICY_FILE = {"w1": RULES / "sovereignty.regie", "w2": RULES / "admission.regie"}

#: The AdmissionReview annotation that names a workload's data region (benchmark convention).
DATA_REGION = "regie.example.eu/data-region"

Pair = tuple[str, str]


def compile_policies(workload: str) -> PolicySet:
    """The workload's policies, checked and compiled (raises on any diagnostic)."""
    modules, diags = load_modules([POLICY_FILE[workload]])
    built = diags if diags else PolicySet.build(modules)
    if not isinstance(built, PolicySet):
        raise SystemExit("\n".join(render(d) for d in built))
    return built


def bench_catalogs() -> Catalogs:
    """bench/catalog only: the built-in catalogues hold regions the benchmark's does not."""
    return load_catalogs([CATALOG], builtin=False)


def bare_regions(catalogs: Catalogs) -> dict[str, Any]:
    """Region name → country across providers, for a region named without its provider.

    A name that two providers use for different countries maps to an unknown.
    """
    out: dict[str, Any] = {}
    for key, entry in catalogs.entries["regions"].items():
        _, _, region = key.partition("/")
        country = entry.get("country")
        if region in out and out[region] != country:
            out[region] = Unknown(f"region `{region}` names different countries at different providers")
        else:
            out[region] = country
    return out


def workload_resource(review: Mapping[str, Any], regions: Mapping[str, Any], source: str) -> Resource:
    """The object of an AdmissionReview as one ``kubernetes.workload`` resource.

    Labels as the benchmark names them: ``service``, ``classification``, ``vital``; the
    data region from the ``regie.example.eu/data-region`` annotation, its country from
    the regions catalogue (unknown when absent there).
    """
    obj = review["request"]["object"]
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    if any(v.__class__ is not str for v in labels.values()):
        labels = {str(k): "" if v is None else str(v) for k, v in labels.items()}
    region = (meta.get("annotations") or {}).get(DATA_REGION)
    country: Any = None
    if region is not None:
        country = regions.get(region)
        if country is None:
            country = Unknown(f"data region `{region}` is not in the regions catalogue")
    api, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    address = f"{api}/{kind}/{namespace}/{name}"
    return Resource(
        f"k8s:{source}/{address}",
        source=f"admission:{source}",
        kind="kubernetes.workload",
        type=f"{api}/{kind}",
        address=address,
        name=name,
        region=region,
        country=country,
        service=labels.get("service"),
        classification=labels.get("classification"),
        vital=truthy_label(labels.get("vital")),
        labels=labels,
        attributes=obj,
    )


@contextmanager
def frozen_gc() -> Iterator[None]:
    """Pause the cyclic GC, then move what survived to the permanent generation.

    ``evaluate`` pauses the collector itself but re-enables it with every object it made
    (findings, violations, evidence) still in the youngest generation: the collections that
    follow walk them all, which at 100k resources costs as much again as the evaluation
    (bench/README.md, "Where the time goes"). A batch caller avoids that bill like this; the
    objects are still freed by reference counting when dropped.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


@dataclass(slots=True)
class Bench:
    """One workload, prepared: policies compiled, catalogues loaded.

    ``freeze_gc`` (the default) runs each decision under :func:`frozen_gc`; without it the
    engine's own collector handling is measured, deferred collections included.
    """

    workload: str
    policies: PolicySet
    catalogs: Catalogs
    regions: dict[str, Any] = field(default_factory=dict)
    unknowns: int = 0
    freeze_gc: bool = True
    #: W2 through regie.connectors.kubernetes (redaction, derived image facts) instead of
    #: the object as one resource.
    k8s: bool = False

    @classmethod
    def prepare(cls, workload: str, *, freeze_gc: bool = True, k8s: bool = False) -> Bench:
        catalogs = bench_catalogs()
        policies = compile_policies(workload)
        catalogs.globals()  # computed once, before any timing
        return cls(workload, policies, catalogs, bare_regions(catalogs), freeze_gc=freeze_gc, k8s=k8s)

    def load(self, raw: bytes, source: str = "bench") -> Inventory:
        """Bytes → facts."""
        if self.workload == "w1":
            # zone_fallback off: the benchmark's catalogue lists zones explicitly and treats a
            # zone it does not list (fr-par-3) as unknown, as the baseline does.
            return Inventory(load_state(raw, source, self.catalogs, zone_fallback=False))
        if self.k8s:
            return Inventory(self._k8s_resources(orjson.loads(raw), source))
        return Inventory([workload_resource(orjson.loads(raw), self.regions, source)])

    def _k8s_resources(self, review: Any, source: str) -> list[Resource]:
        from regie.connectors.kubernetes import resources_from_admission

        resources = resources_from_admission(review, where=source, catalogs=self.catalogs)
        region = (review["request"]["object"].get("metadata", {}).get("annotations") or {}).get(DATA_REGION)
        for r in resources:
            if r.kind == "kubernetes.workload" and region is not None:
                r.region = region
                country = self.regions.get(region)
                r.country = country if country is not None else Unknown(f"data region `{region}` is unknown")
        return resources

    def evaluate(self, inventory: Inventory) -> Evaluation:
        return evaluate(self.policies, inventory, self.catalogs)

    def decide(self, inventory: Inventory) -> set[Pair]:
        """Facts → the harness's (rule, target) pairs."""
        if self.workload == "w1" and self.freeze_gc:
            with frozen_gc():
                return self.pairs(self.evaluate(inventory).violations)
        return self.pairs(self.evaluate(inventory).violations)

    def pairs(self, violations: Iterable[Any]) -> set[Pair]:
        found = violations if isinstance(violations, list) else list(violations)
        # Fields by position (outcome 6, requirements 2, resource 7, item 8, address 12), read
        # with itemgetters in C: this runs once per violation inside the timed decision.
        outcomes = set(map(_OUTCOME, found))
        decided = found if outcomes <= {"violation"} else [v for v in found if v[6] == "violation"]
        self.unknowns = len(found) - len(decided)
        rules = map(_FIRST, map(_REQUIREMENTS, decided))
        if self.workload == "w1":
            # a resource's finding carries its Terraform address; a group's is `service:<name>`
            targets = list(map(_ADDRESS, decided))
            if None in targets:
                targets = [t if t is not None else v[7] for t, v in zip(targets, decided, strict=True)]
        else:
            targets = [item if item is not None else "deployment" for item in map(_ITEM, decided)]
        return set(zip(rules, targets, strict=True))


_OUTCOME, _REQUIREMENTS, _ITEM, _ADDRESS = itemgetter(6), itemgetter(2), itemgetter(8), itemgetter(12)
_FIRST = itemgetter(0)


def check_catalogue(catalogs: Catalogs, path: Path) -> list[str]:
    """Differences between bench/catalog and the harness's catalogue.json (empty: same facts)."""
    cat = json.loads(path.read_text())
    problems: list[str] = []
    providers = catalogs.entries["providers"]
    for key, p in cat["providers"].items():
        ours = providers.get(key)
        if (
            ours is None
            or ours.get("parent_jurisdiction") != p["jurisdiction"]
            or ours.get("parent") != p["parent"]
        ):
            problems.append(f"provider {key}: {ours} vs {p}")
    if set(providers) != set(cat["providers"]):
        problems.append(f"providers differ: {sorted(set(providers) ^ set(cat['providers']))}")
    ours_regions = {k.partition("/")[2]: v.get("country") for k, v in catalogs.entries["regions"].items()}
    if ours_regions != cat["regions"]:
        problems.append(f"regions differ: {sorted(set(ours_regions.items()) ^ set(cat['regions'].items()))}")
    if len(ours_regions) != len(catalogs.entries["regions"]):
        problems.append("a region name is filed under two providers")
    eu = sorted(k for k, c in catalogs.entries["countries"].items() if c.get("eu") is True)
    if eu != sorted(cat["eu_countries"]):
        problems.append(f"EU countries differ: {sorted(set(eu) ^ set(cat['eu_countries']))}")
    return problems
