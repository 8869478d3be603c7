"""``[ownership]`` of regie.toml: which labels and tags carry the ownership facts, and whether the
service inventory wins where it and the tags disagree (design.md: "defaults a user can change in
configuration"). ``regie scan`` and ``regie facts`` pull with those names, the webhook decides
with them, ``regie replay`` replays with them, and the policy-set hash changes with them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from test_cli import assert_clean, regie

from regie.connectors.base import Ownership
from regie.engine.evaluate import PolicySet
from regie.loading import InputError, load_catalogs, load_config, load_modules
from regie.service.admission import decide
from regie.service.reload import load_snapshot
from regie.store.hashing import policy_set_hash


def config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "regie.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- the section -----------------------------------------------------------------------------


def test_without_the_section_the_defaults_hold(tmp_path: Path) -> None:
    cfg = load_config(config(tmp_path, "[params]\n"))
    assert cfg.ownership == Ownership()
    assert cfg.prefer == "tags"


def test_a_list_replaces_the_names_of_its_fact_only(tmp_path: Path) -> None:
    cfg = load_config(
        config(tmp_path, '[ownership]\nservice = ["team-service", "service"]\nprefer = "inventory"\n')
    )
    assert cfg.ownership.service == ("team-service", "service")
    assert cfg.ownership.classification == Ownership().classification
    assert cfg.ownership.vital == Ownership().vital
    assert cfg.prefer == "inventory"


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ('[ownership]\nservise = ["s"]\n', "ownership.servise", "unknown key (did you mean `service`?)"),
        ('[ownership]\nteam = ["s"]\n', "ownership.team", "expected service, classification, vital"),
        ('[ownership]\nservice = "s"\n', "ownership.service", "a non-empty list of label names"),
        ("[ownership]\nservice = []\n", "ownership.service", "a non-empty list of label names"),
        ('[ownership]\nvital = ["", "x"]\n', "ownership.vital", "a non-empty list of label names"),
        ("[ownership]\nowner = [1]\n", "ownership.owner", "a non-empty list of label names"),
        (
            '[ownership]\nprefer = "both"\n',
            "ownership.prefer",
            'expected "tags" or "inventory", got \'both\'',
        ),
        ("ownership = 3\n", "ownership", "expected a table"),
    ],
)
def test_a_wrong_entry_names_its_key(tmp_path: Path, text: str, key: str, message: str) -> None:
    path = config(tmp_path, text)
    with pytest.raises(InputError) as err:
        load_config(path)
    assert err.value.where == f"{path}: {key}"
    assert message in err.value.message


# --- regie facts and regie scan --------------------------------------------------------------------


def state(tags: dict[str, str]) -> dict[str, Any]:
    """A Terraform state (format 4) of one bucket with these tags."""
    return {
        "version": 4,
        "terraform_version": "1.9.8",
        "serial": 1,
        "lineage": "l",
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_s3_bucket",
                "name": "b",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {"bucket": "b", "region": "eu-central-1", "tags": tags},
                    }
                ],
            }
        ],
    }


def facts(tmp_path: Path, *extra: str) -> dict[str, Any]:
    run = assert_clean(regie("facts", "--config", "regie.toml", *extra, cwd=tmp_path))
    assert run.code == 0, run
    [resource] = [r for r in json.loads(run.stdout)["resources"] if r["kind"] != "service"]
    return dict(resource)


def test_facts_are_read_by_the_configured_tag_names(tmp_path: Path) -> None:
    (tmp_path / "prod.tfstate").write_text(json.dumps(state({"team-service": "pay", "data-class": "BBN2"})))
    sources = '[scan]\nsources = ["terraform:prod.tfstate"]\n'
    config(tmp_path, sources)
    default = facts(tmp_path)
    assert (default["service"], default["classification"]) == (None, None)
    config(tmp_path, sources + '[ownership]\nservice = ["team-service"]\nclassification = ["data-class"]\n')
    configured = facts(tmp_path)
    assert (configured["service"], configured["classification"]) == ("pay", "BBN2")


INVENTORY = """\
version: 1
services:
  - name: pay
    vital: true
    classification: BBN3
    owner: team-pay
"""


def test_the_inventory_wins_a_disagreement_only_when_configured_to(tmp_path: Path) -> None:
    (tmp_path / "prod.tfstate").write_text(json.dumps(state({"service": "pay", "classification": "BBN1"})))
    (tmp_path / "services.yaml").write_text(INVENTORY, encoding="utf-8")
    sources = '[scan]\nsources = ["terraform:prod.tfstate"]\ninventory = "services.yaml"\n'
    config(tmp_path, sources)
    run = assert_clean(regie("facts", "--config", "regie.toml", cwd=tmp_path))
    assert "BBN3" in run.stderr and "BBN1" in run.stderr  # the conflict is reported
    tags_win = facts(tmp_path)
    assert (tags_win["classification"], tags_win["vital"], tags_win["owner"]) == ("BBN1", True, "team-pay")
    config(tmp_path, sources + '[ownership]\nprefer = "inventory"\n')
    assert facts(tmp_path)["classification"] == "BBN3"


def test_a_wrong_section_stops_a_scan_with_its_key(tmp_path: Path) -> None:
    (tmp_path / "prod.tfstate").write_text(json.dumps(state({})))
    config(tmp_path, '[scan]\nsources = ["terraform:prod.tfstate"]\n[ownership]\nservices = ["s"]\n')
    run = assert_clean(regie("scan", "--config", "regie.toml", cwd=tmp_path))
    assert run.code == 2
    assert "regie.toml: ownership.services" in run.stderr and "did you mean `service`" in run.stderr


# --- the webhook's decisions and the policy-set hash -----------------------------------------------

OWNED = """
policy t.owned {
  title "A workload names its service"
  source "test"
  severity high
  enforce deny
  for r in resources
  where r.kind == "kubernetes.workload"
  require r.service != null
  message "no service"
}
"""


def request(labels: dict[str, str]) -> dict[str, Any]:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "namespace": "pay", "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "nginx"}]},
    }
    return {"uid": "u1", "operation": "CREATE", "namespace": "pay", "kind": {"version": "v1", "kind": "Pod"},
            "object": pod}  # fmt: skip


def test_the_webhook_decides_with_the_configured_label_names(tmp_path: Path) -> None:
    policies = tmp_path / "owned.regie"
    policies.write_text(OWNED, encoding="utf-8")
    default = load_snapshot([str(policies)], [], config(tmp_path, "[params]\n"))
    assert not decide(request({"team": "pay"}), default, fail_closed=True).allowed
    configured = load_snapshot([str(policies)], [], config(tmp_path, '[ownership]\nservice = ["team"]\n'))
    assert configured.ownership.service == ("team",)
    assert decide(request({"team": "pay"}), configured, fail_closed=True).allowed
    # the names decide, so the hash the decision records carry says which were in force
    assert configured.hash != default.hash


def test_the_hash_changes_only_when_the_names_do(tmp_path: Path) -> None:
    policies = tmp_path / "owned.regie"
    policies.write_text(OWNED, encoding="utf-8")
    modules, diags = load_modules([policies])
    built = PolicySet.build(modules)
    assert isinstance(built, PolicySet) and not diags
    catalogs = load_catalogs([], builtin=False)
    plain = policy_set_hash(built, catalogs)
    assert policy_set_hash(built, catalogs, Ownership()) == plain
    assert policy_set_hash(built, catalogs, Ownership(service=("team",))) != plain
    assert policy_set_hash(built, catalogs, Ownership(owner=("team",))) != policy_set_hash(
        built, catalogs, Ownership(service=("team",))
    )


def test_replay_decides_with_the_names_the_record_was_decided_with(tmp_path: Path) -> None:
    from regie.connectors.kubernetes.admission import resources_from_admission
    from regie.engine.evaluate import evaluate
    from regie.engine.facts import Inventory
    from regie.replay import render_replay, replay_record
    from regie.store import open_store
    from regie.store.testing import sqlite_file

    policies = tmp_path / "owned.regie"
    policies.write_text(OWNED, encoding="utf-8")
    modules, _ = load_modules([policies])
    policy_set = PolicySet.build(modules)
    assert isinstance(policy_set, PolicySet)
    catalogs = load_catalogs()
    own = Ownership(service=("team",))
    review = request({"team": "pay"})
    resources = resources_from_admission(
        {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": review},
        where="review",
        catalogs=catalogs,
        ownership=own,
    )
    evaluation = evaluate(policy_set, Inventory(resources), catalogs, context="admission")
    assert not evaluation.violations
    with sqlite_file(tmp_path) as url, open_store(url) as store:
        record = store.record_admission(
            review,
            allowed=True,
            messages=[],
            policy_set_hash=policy_set_hash(policy_set, catalogs, own),
            violations=evaluation.violations,
        )
        same = replay_record(store, record.id, policy_set, catalogs, own)
        assert same.same and not same.policy_set_changed, render_replay(same)
        default = replay_record(store, record.id, policy_set, catalogs)
        assert not default.same and default.policy_set_changed, render_replay(default)


def test_the_documented_section_and_defaults_are_what_regie_reads(tmp_path: Path) -> None:
    """docs/cli.md, `[ownership]`: its example loads, and its table of defaults is Ownership()'s."""
    import re

    doc = (Path(__file__).resolve().parent.parent / "docs" / "cli.md").read_text(encoding="utf-8")
    [example] = [b for b in re.findall(r"```toml\n(.*?)```", doc, re.S) if b.startswith("[ownership]")]
    cfg = load_config(config(tmp_path, example))
    assert cfg.ownership.classification[-1] == "data-class" and cfg.prefer == "inventory"
    rows = dict(re.findall(r"^\| `(\w+)` \| (`.*`) \|$", doc, re.M))
    documented = {fact: tuple(re.findall(r"`([^`]+)`", names)) for fact, names in rows.items()}
    defaults = Ownership()
    assert documented == {fact: getattr(defaults, fact) for fact in ("service", "classification", "vital",
                                                                     "exit_plan", "owner")}  # fmt: skip
