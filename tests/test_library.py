"""The built-in policy library as a whole: its requirements register, its metadata, its
documentation page, the classification scale and the `regie catalog` command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_cli import assert_clean, regie

from regie.engine.catalog import CatalogError, Catalogs
from regie.engine.evaluate import PolicySet
from regie.library import library_markdown, load_requirements, uncovered
from regie.loading import BUILTIN_POLICIES, Config, InputError, load_catalogs, load_config, load_modules

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = ROOT.parent / "shared" / "policy-domain.md"


@pytest.fixture(scope="module")
def library() -> PolicySet:
    modules, diags = load_modules([BUILTIN_POLICIES])
    assert not diags
    result = PolicySet.build(modules)
    assert not isinstance(result, list), result
    return result


def test_the_register_holds_the_44_requirements_of_the_research() -> None:
    reqs = load_requirements()
    assert len(reqs.requirements) == 44
    if DOMAIN.is_file():  # the research note beside the checkout names the same ids
        ids = set(re.findall(r"\*\*([A-Z]+-\d\d)\*\*", DOMAIN.read_text(encoding="utf-8")))
        assert ids == set(reqs.requirements)


def test_every_requirement_has_a_policy_or_says_which_fact_is_missing(library: PolicySet) -> None:
    reqs = load_requirements()
    checked = [lp.checked for lp in library.policies]
    assert uncovered(reqs, checked) == []
    cited = {r for p in checked for r in p.meta.requirements}
    assert cited <= set(reqs.requirements), cited - set(reqs.requirements)


def test_every_policy_carries_what_a_compliance_officer_needs(library: PolicySet) -> None:
    assert len(library.policies) >= 30
    for lp in library.policies:
        meta = lp.checked.meta
        where = lp.id
        assert "en" in meta.titles and meta.title != meta.titles["en"], where
        assert meta.description and meta.extra.get("description.en"), where
        assert meta.requirements and meta.basis in ("verified", "secondary", "inferred"), where
        assert meta.source and any(ch.isdigit() for ch in meta.source), where  # a dated or numbered source
        families = {"cloud", "genai", "csbn", "bio", "eusov", "euwatch", "aia", "classification"}
        assert lp.id.split(".")[0] in families, where


def test_every_policy_has_a_compliant_and_a_violating_test(library: PolicySet) -> None:
    expectations: dict[str, set[str]] = {}
    for block, _ in library.tests:
        for exp in block.expects:
            if exp.policy is not None:
                kind = "no" if exp.negated or getattr(exp, "count", None) == 0 else exp.outcome
                expectations.setdefault(exp.policy, set()).add(kind)
    for lp in library.policies:
        seen = expectations.get(lp.id, set())
        assert "violation" in seen or "unknown" in seen, f"{lp.id}: no test expects a finding"
        assert "no" in seen, f"{lp.id}: no test expects a compliant case"


def test_the_policies_page_is_generated_from_the_library(library: PolicySet) -> None:
    text = library_markdown(load_requirements(), [lp.checked for lp in library.policies], load_catalogs())
    assert (ROOT / "docs" / "policies.md").read_text(encoding="utf-8") == text
    assert "### CLOUD-01" in text and "Not decidable yet: needs internet.nl" in text


def test_regie_docs_check_fails_on_a_stale_page(tmp_path: Path) -> None:
    stale = tmp_path / "policies.md"
    stale.write_text("# old\n", encoding="utf-8")
    run = assert_clean(regie("docs", "--check", "--output", str(stale), cwd=tmp_path))
    assert run.code == 1 and "out of date" in run.stderr
    written = assert_clean(regie("docs", "--output", str(stale), cwd=tmp_path))
    assert written.code == 0 and stale.read_text(encoding="utf-8").startswith("# The built-in policy library")
    assert assert_clean(regie("docs", "--check", "--output", str(stale), cwd=tmp_path)).code == 0


def test_a_register_error_names_the_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "requirements.yaml"
    bad.write_text(
        "documents:\n  D: {title: t, citation: c, binding: b}\nrequirements:\n"
        "  X-01: {document: D, section: s, mark: Q, text: t}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as info:
        load_requirements(bad)
    assert info.value.where == f"{bad}:4" and "mark" in info.value.message


# --- the classification scale ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("label", "level"),
    [
        ("BBN2", "bbn2"),
        ("  bbn 3 ", "bbn3"),
        ("Dep. V", "dep-v"),
        ("Departementaal Vertrouwelijk", "dep-v"),
        ("Stg. Zeer Geheim", "stg-zg"),
        ("STG CONFIDENTIEEL", "stg-c"),
        ("Openbaar", "openbaar"),
    ],
)
def test_both_vocabularies_and_their_aliases_name_a_level(label: str, level: str) -> None:
    labels = load_catalogs().globals()["classifications"]
    assert labels[label.strip().lower()]["level"] == level


def test_levels_are_ordered_across_the_two_schemes() -> None:
    entries = load_catalogs().entries["classifications"]
    rank = {k: v["rank"] for k, v in entries.items()}
    assert rank["openbaar"] < rank["bbn1"] < rank["bbn2"] < rank["dep-v"] < rank["stg-c"] < rank["stg-zg"]
    assert rank["bbn3"] == rank["dep-v"]  # BBN3 protects Departementaal Vertrouwelijk information


def test_a_label_naming_two_levels_is_an_error() -> None:
    catalogs = Catalogs()
    catalogs.merge("classifications", {"a": {"aliases": ["x"], "source": "t"}}, "one.yaml")
    catalogs.merge("classifications", {"b": {"aliases": ["X"], "source": "t"}}, "two.yaml")
    with pytest.raises(CatalogError, match="already names level `a`"):
        catalogs.globals()


# --- catalogues in force ------------------------------------------------------------------------


def test_catalog_show_merges_the_organisations_entries(tmp_path: Path) -> None:
    config = ROOT / "examples" / "ministry" / "regie.toml"
    run = assert_clean(regie("catalog", "show", "registries", "--config", str(config), cwd=tmp_path))
    assert run.code == 0 and "harbor.mindi.example" in run.stdout and "built-in" in run.stdout
    one = assert_clean(
        regie("catalog", "show", "registries", "harbor.mindi.example", "--format", "yaml",
              "--config", str(config), cwd=tmp_path)
    )  # fmt: skip
    assert "jurisdiction: NL" in one.stdout and "examples/ministry/catalog/registries.yaml" in one.stdout


def test_catalog_show_replaces_a_builtin_entry_and_says_where_from(tmp_path: Path) -> None:
    own = tmp_path / "providers.yaml"
    own.write_text(
        "catalog: providers\nentries:\n  self-hosted:\n    name: Own DC\n    parent_jurisdiction: BE\n"
        "    source: our register\n",
        encoding="utf-8",
    )
    run = assert_clean(
        regie("catalog", "show", "providers", "self-hosted", "--format", "json", "--catalog", str(own),
              cwd=tmp_path)
    )  # fmt: skip
    assert run.code == 0 and '"parent_jurisdiction": "BE"' in run.stdout and str(own) in run.stdout


def test_catalog_show_of_an_unknown_name_suggests_one(tmp_path: Path) -> None:
    run = assert_clean(regie("catalog", "show", "provider", cwd=tmp_path))
    assert run.code == 2 and "did you mean `providers`" in run.stderr
    listed = assert_clean(regie("catalog", "list", cwd=tmp_path))
    assert listed.code == 0 and "classifications: 10 entries" in listed.stdout


# --- configuration of a scan --------------------------------------------------------------------


def test_scan_sources_in_the_config_are_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    cfg = load_config("examples/ministry/regie.toml")
    assert cfg.sources[0] == "terraform:examples/ministry/terraform/prod.tfstate"
    assert "k8s:manifests:examples/ministry/k8s" in cfg.sources
    assert cfg.inventory == "examples/ministry/services.yaml"
    bad = tmp_path / "regie.toml"
    bad.write_text('[scan]\nsource = ["x"]\n', encoding="utf-8")
    with pytest.raises(InputError, match="unknown key"):
        load_config(str(bad))
    assert Config().sources == []


# --- the organisation's enforcement levels ----------------------------------------------------------


def test_an_organisation_sets_enforcement_levels_without_editing_the_library(tmp_path: Path) -> None:
    from regie.loading import apply_enforcement

    config = tmp_path / "regie.toml"
    config.write_text(
        '[enforce]\n"genai.preference.open_model" = "deny"\n"cloud.exit.plan.admission" = "deny"\n',
        encoding="utf-8",
    )
    modules, _ = load_modules([BUILTIN_POLICIES])
    built = PolicySet.build(modules)
    assert not isinstance(built, list)
    apply_enforcement(built.policies, load_config(str(config)))
    open_model = built.get("genai.preference.open_model")
    exit_plan = built.get("cloud.exit.plan")
    assert open_model is not None and exit_plan is not None
    assert open_model.checked.meta.enforce == "deny"  # the default; per-context levels stay
    assert exit_plan.checked.meta.enforcement("admission") == "deny"
    assert exit_plan.checked.meta.enforcement(None) == "warn"  # only admission was changed


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('"genai.preference.open_modle" = "deny"', "did you mean `genai.preference.open_model`"),
        ('"cloud.exit.plan" = "block"', "expected one of advisory, warn, deny"),
    ],
)
def test_a_wrong_enforcement_entry_is_an_error_naming_it(tmp_path: Path, line: str, message: str) -> None:
    from regie.loading import apply_enforcement

    config = tmp_path / "regie.toml"
    config.write_text(f"[enforce]\n{line}\n", encoding="utf-8")
    modules, _ = load_modules([BUILTIN_POLICIES])
    built = PolicySet.build(modules)
    assert not isinstance(built, list)
    with pytest.raises(InputError) as info:
        apply_enforcement(built.policies, load_config(str(config)))
    assert message in info.value.message and "enforce" in info.value.where


# --- estate-wide policies are not asked about one object at admission -------------------------------


def test_estate_wide_policies_are_left_out_of_admission_decisions() -> None:
    import orjson

    from regie.service.admission import decide
    from regie.service.reload import load_snapshot

    snapshot = load_snapshot([str(BUILTIN_POLICIES)], [], None)
    estate = {lp.id for lp in snapshot.policy_set.policies if lp.checked.meta.scope == "estate"}
    assert "cloud.concentration.parent" in estate and "csbn.spof.single_parent" in estate
    assert not estate & snapshot.admission_policies
    review = orjson.loads((ROOT / "bench" / "admission" / "deployment-review.json").read_bytes())
    decision = decide(review["request"], snapshot, fail_closed=True)
    assert decision.violations and not {v.policy for v in decision.violations} & estate


def test_a_wrong_scope_is_an_error() -> None:
    from regie.dsl.build import parse_module
    from regie.dsl.source import Source

    text = 'policy p { title "t" source "s" scope estat for r in resources require true }'
    module = parse_module(Source("p.regie", text))
    assert not isinstance(module, list)
    result = PolicySet.build([module])
    assert isinstance(result, list)
    assert any("estat" in d.message or "scope" in d.message for d in result)
