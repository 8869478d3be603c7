"""The service's request and response bodies, as pydantic models for validation and OpenAPI.

Pydantic sits at this edge only. The admission path parses with orjson and checks
the few fields it needs (admission.py); the AdmissionReview models here describe
that contract in the OpenAPI document, they are not used per request.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AdmissionRequest",
    "AdmissionResponse",
    "AdmissionReviewIn",
    "AdmissionReviewOut",
    "CatalogResponse",
    "Enforcement",
    "ErrorBody",
    "EvaluateRequest",
    "EvaluateResponse",
    "Health",
    "NamespaceCacheOut",
    "NamespaceRefreshOut",
    "ParamOut",
    "PoliciesResponse",
    "PolicyErrorOut",
    "PolicyOut",
    "Readiness",
    "ReloadOut",
    "StatusOut",
    "Summary",
    "ViolationOut",
    "WaiverOut",
    "WaiverRefOut",
]

Context = Literal["ci", "admission", "audit"]
Level = Literal["advisory", "warn", "deny"]


class ErrorBody(BaseModel):
    """Every 4xx answer: what went wrong, and where."""

    error: str = Field(description="Short kind of error, e.g. `bad AdmissionReview`, `unauthorized`.")
    message: str = Field(description="What was wrong and what was expected, for a person to act on.")
    field: str | None = Field(
        None, description="The request field at fault (dotted path), when there is one."
    )


# --- admission (k8s.io/api admission/v1) -------------------------------------------------------


class GroupVersionKind(BaseModel):
    group: str = Field(description="API group; empty for the core group.")
    version: str = Field(description="API version, e.g. `v1`.")
    kind: str = Field(description="Kind, e.g. `Deployment`.")


class GroupVersionResource(BaseModel):
    group: str = Field(description="API group; empty for the core group.")
    version: str = Field(description="API version.")
    resource: str = Field(description="Resource, e.g. `deployments`.")


class UserInfo(BaseModel):
    model_config = ConfigDict(extra="allow")
    username: str | None = Field(None, description="The requesting user's name.")
    uid: str | None = Field(None, description="The requesting user's uid.")
    groups: list[str] | None = Field(None, description="The requesting user's groups.")
    extra: dict[str, list[str]] | None = Field(None, description="Extra attributes from the authenticator.")


class AdmissionRequest(BaseModel):
    """k8s.io/api/admission/v1 AdmissionRequest, as the API server sends it."""

    model_config = ConfigDict(extra="allow")
    uid: str = Field(description="Identifies this round trip; echoed in the response.")
    kind: GroupVersionKind = Field(description="Type of the object submitted.")
    resource: GroupVersionResource = Field(description="Resource requested.")
    subResource: str | None = Field(None, description="Subresource requested, e.g. `status` or `scale`.")
    requestKind: GroupVersionKind | None = Field(None, description="Type of the original request.")
    requestResource: GroupVersionResource | None = Field(
        None, description="Resource of the original request."
    )
    requestSubResource: str | None = Field(None, description="Subresource of the original request.")
    name: str | None = Field(None, description="Object name; empty on CREATE with generateName.")
    namespace: str | None = Field(None, description="Namespace, for namespaced objects.")
    operation: Literal["CREATE", "UPDATE", "DELETE", "CONNECT"] = Field(
        description="Operation; DELETE and CONNECT are allowed without evaluation."
    )
    userInfo: UserInfo = Field(description="Who made the request.")
    object: dict[str, Any] | None = Field(
        None, description="The object as it would be stored (CREATE, UPDATE)."
    )
    oldObject: dict[str, Any] | None = Field(None, description="The existing object (UPDATE, DELETE).")
    dryRun: bool | None = Field(
        None, description="True when nothing will be persisted: evaluated, but the decision is not recorded."
    )
    options: dict[str, Any] | None = Field(None, description="CreateOptions, UpdateOptions or DeleteOptions.")


class AdmissionReviewIn(BaseModel):
    """An AdmissionReview request (admission.k8s.io/v1)."""

    model_config = ConfigDict(extra="allow")
    apiVersion: Literal["admission.k8s.io/v1"] = Field(description="Must be `admission.k8s.io/v1`.")
    kind: Literal["AdmissionReview"] = Field(description="Must be `AdmissionReview`.")
    request: AdmissionRequest = Field(description="The request to decide.")


class StatusOut(BaseModel):
    """metav1.Status: why a request was denied."""

    status: Literal["Failure"] = Field(description="Always `Failure` for a denial.")
    code: int = Field(
        description="403 for a policy denial; 503 when no decision could be made (fail-closed)."
    )
    reason: str = Field(description="`Forbidden` or `ServiceUnavailable`.")
    message: str = Field(
        description="One line per denying policy: id, severity, message and the source it enforces "
        "(at most 3000 characters)."
    )


class AdmissionResponse(BaseModel):
    uid: str = Field(description="The request's uid, echoed.")
    allowed: bool = Field(description="False when a deny-level policy is violated (or fail-closed).")
    status: StatusOut | None = Field(None, description="Present when not allowed.")
    warnings: list[str] | None = Field(
        None,
        description="Warn-level findings, shown by kubectl; each at most 256 characters, "
        "at most 2048 in all (the API server's limits).",
    )


class AdmissionReviewOut(BaseModel):
    """An AdmissionReview response (admission.k8s.io/v1)."""

    apiVersion: Literal["admission.k8s.io/v1"] = Field(description="Always `admission.k8s.io/v1`.")
    kind: Literal["AdmissionReview"] = Field(description="Always `AdmissionReview`.")
    response: AdmissionResponse = Field(description="The decision.")


# --- evaluation --------------------------------------------------------------------------------


class EvaluateRequest(BaseModel):
    """Facts to evaluate: the records `regie eval --facts` reads."""

    model_config = ConfigDict(extra="forbid")
    resources: list[dict[str, Any]] = Field(
        description="Resources: each a record with a unique `id` and the fact fields of docs/cli.md "
        "(kind, type, provider, region, country, service, classification, vital, labels, attributes, …)."
    )
    policies: list[str] | None = Field(
        None, description="Evaluate only these policy ids (default: every policy in force)."
    )
    context: Context | None = Field(
        None, description="Enforcement context: ci, admission or audit (default: each policy's `enforce`)."
    )
    today: dt.date | None = Field(None, description="Evaluate as of this date (default: today).")


class WaiverRefOut(BaseModel):
    id: str = Field(description="Waiver id.")
    reason: str = Field(description="Why the exception was granted.")
    approved_by: str = Field(description="Who approved it.")
    expires: str = Field(description="Last day it applies (YYYY-MM-DD).")


class ViolationOut(BaseModel):
    """One finding (the stable JSON form of docs/cli.md, "JSON output")."""

    policy: str = Field(description="Policy id.")
    title: str = Field(description="Policy title (Dutch).")
    titles: dict[str, str] = Field(description="Titles in other languages, by language code.")
    requirements: list[str] = Field(description="Requirement ids the policy implements.")
    source: str = Field(description="The document and section the policy enforces.")
    basis: str | None = Field(description="Legal basis, when the policy names one.")
    severity: str = Field(description="critical, high, medium, low or info.")
    enforcement: Level = Field(description="Level in force for the context: deny, warn or advisory.")
    outcome: Literal["violation", "unknown"] = Field(
        description="`unknown` when the policy could not decide."
    )
    resource: str = Field(description="Resource id (or `name:key` for a group).")
    item: str | None = Field(description="Inner item, e.g. a container name.")
    address: str | None = Field(description="Native address of the resource, when it has one.")
    origin: str | None = Field(description="The fact source the resource came from.")
    service: str | None = Field(description="The service the resource belongs to.")
    message: str = Field(description="What is wrong, in the policy's words.")
    reason: str | None = Field(description="Why the outcome is unknown, for unknowns.")
    evidence: dict[str, Any] = Field(description="The values the decision rested on.")
    waived: bool = Field(description="Whether a waiver covers it.")
    waiver: WaiverRefOut | None = Field(description="The waiver that covers it.")


class Summary(BaseModel):
    resources: int = Field(description="Resources evaluated.")
    policies: int = Field(description="Policies evaluated.")
    violations: int = Field(description="Violations not waived.")
    blocking: int = Field(description="Deny-level violations not waived.")
    unknown: int = Field(description="Unknown outcomes not waived.")
    waived: int = Field(description="Findings covered by a waiver.")
    seconds: float = Field(description="Evaluation time.")


class WaiverOut(BaseModel):
    id: str = Field(description="Waiver id.")
    policy: str = Field(description="Policy id glob.")
    resource: str = Field(description="Resource id glob.")
    service: str | None = Field(description="Service it is limited to.")
    reason: str = Field(description="Why the exception was granted.")
    approved_by: str = Field(description="Who approved it.")
    expires: str = Field(description="Last day it applies.")
    matched: int = Field(description="Findings it matched in this evaluation.")
    expired: bool = Field(description="True when past its expiry (it then suppresses nothing).")
    where: str = Field(description="File and entry it comes from.")


class PolicyErrorOut(BaseModel):
    policy: str = Field(description="Policy id.")
    message: str = Field(description="How it failed; the other policies still ran.")


class EvaluateResponse(BaseModel):
    version: int = Field(description="Version of this format (as `regie eval --format json`).")
    context: Context | None = Field(description="The enforcement context used.")
    policy_set_hash: str = Field(description="Hash of the policies, parameters and catalogues in force.")
    summary: Summary = Field(description="Counts.")
    violations: list[ViolationOut] = Field(description="Findings, deny first, then by severity.")
    waivers: list[WaiverOut] = Field(description="Waivers in force and what they matched.")
    errors: list[PolicyErrorOut] = Field(description="Policies that failed while evaluating.")


# --- policies and catalogues -------------------------------------------------------------------


class Enforcement(BaseModel):
    default: Level = Field(description="The policy's `enforce` level.")
    ci: Level = Field(description="Level in CI (`enforce.ci`, else the default).")
    admission: Level = Field(description="Level at admission (`enforce.admission`, else the default).")
    audit: Level = Field(description="Level in audit scans (`enforce.audit`, else the default).")


class ParamOut(BaseModel):
    name: str = Field(description="Parameter name.")
    type: str = Field(description="Declared type, in policy syntax.")
    value: Any = Field(description="Value in force (default, or set in regie.toml).")


class PolicyOut(BaseModel):
    id: str = Field(description="Policy id.")
    title: str = Field(description="Title (Dutch).")
    titles: dict[str, str] = Field(description="Titles in other languages, by language code.")
    description: str | None = Field(description="Longer description, when given.")
    requirements: list[str] = Field(description="Requirement ids it implements.")
    source: str = Field(description="The document and section it enforces.")
    basis: str | None = Field(description="Legal basis, when given.")
    severity: str = Field(description="critical, high, medium, low or info.")
    enforcement: Enforcement = Field(description="Enforcement level per context.")
    unknown: str = Field(description="What an unknown outcome becomes: report, violation or pass.")
    tags: list[str] = Field(description="Tags.")
    params: list[ParamOut] = Field(description="Parameters with their values in force.")
    module: str = Field(description="The file it is defined in.")


class PoliciesResponse(BaseModel):
    policy_set_hash: str = Field(description="Hash of the policies, parameters and catalogues in force.")
    loaded_at: dt.datetime = Field(description="When this set was loaded.")
    policies: list[PolicyOut] = Field(description="Every policy in force.")


class CatalogResponse(BaseModel):
    name: str = Field(description="Catalogue name.")
    entries: dict[str, dict[str, Any]] = Field(
        description="Entries by key, as in force; each with `origin`, the file it comes from (or `built-in`)."
    )


# --- health ------------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = Field(description="The process is alive and serving HTTP.")


class ReloadOut(BaseModel):
    ok: bool = Field(description="Whether the last reload attempt succeeded.")
    at: dt.datetime | None = Field(description="When the last reload was attempted.")
    problems: list[str] = Field(description="Why it failed (first problems, rendered as by `regie check`).")
    attempts: int = Field(description="Reload attempts since start.")
    failures: int = Field(description="Failed reload attempts since start.")


class NamespaceRefreshOut(BaseModel):
    ok: bool = Field(description="Whether the last list of namespaces succeeded.")
    at: dt.datetime | None = Field(description="When namespaces were last listed.")
    error: str | None = Field(description="Why the last list failed.")
    attempts: int = Field(description="Namespace lists since start.")
    failures: int = Field(description="Failed namespace lists since start.")


class NamespaceCacheOut(BaseModel):
    source: str = Field(description="Where the labels are listed: `in-cluster` or `context:NAME`.")
    namespaces: int = Field(description="Namespaces whose labels are held.")
    loaded_at: dt.datetime | None = Field(
        description="When the labels held were listed; null: never, decisions are made without them."
    )
    age_seconds: float | None = Field(description="Seconds since then.")
    refresh_seconds: float = Field(description="Seconds between lists (`--namespace-refresh`).")
    stale: bool = Field(
        description="True when the last good list is older than three refresh intervals; its labels "
        "are still used (fail-static)."
    )
    last_refresh: NamespaceRefreshOut = Field(description="The last list attempt.")


class Readiness(BaseModel):
    ready: bool = Field(description="A policy set is loaded and decisions can be made.")
    policies: int = Field(description="Policies in force.")
    policy_set_hash: str | None = Field(description="Hash of the set in force.")
    loaded_at: dt.datetime | None = Field(description="When the set in force was loaded.")
    stale: bool = Field(
        description="True when newer policy files failed to load and the last good set serves (fail-static)."
    )
    last_reload: ReloadOut = Field(description="The last reload attempt.")
    tls: str | None = Field(
        description="A TLS reload problem, when the current certificate could not be replaced."
    )
    tokens: str | None = Field(description="A tokens-file problem, when a changed file could not be read.")
    namespace_labels: NamespaceCacheOut | None = Field(
        default=None,
        description="The namespace label cache (`--namespace-labels`); null when off. Never affects "
        "readiness: without it decisions are made without namespace labels.",
    )
