"""Every Terraform state in the corpus either loads (with this many resources) or is refused (saying this)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from regie.connectors.base import ConnectorError, PullContext
from regie.connectors.terraform import pull
from regie.loading import load_catalogs

ROOT = Path(__file__).resolve().parent.parent
STATES = Path(os.environ.get("REGIE_CORPUS", ROOT.parent / "shared" / "corpus")) / "tfstate"

EXPECTED: dict[str, int | str] = {
    "EDGE_driftctl_unsupported-terraform-version.tfstate": 1,  # driftctl refuses its version; format 4
    "EDGE_tfjson_invalid-state.json": "not valid JSON",
    "driftctl_aws-s3-full.tfstate": 26,
    "driftctl_aws-vpc-security-group-rule.tfstate": 11,
    "driftctl_data-source.tfstate": 0,  # data sources only: not resources of the estate
    "opentofu_sensitive-variables.tfstate": 1,
    "opentofu_show-json-state-basic.json": "not a plan (for a state, pass",  # `show -json` of a state
    "opentofu_v3-simple.tfstate": "format version 3",
    "opentofu_v4-create-before-destroy.tfstate": 1,
    "opentofu_v4-foreach.tfstate": 1,
    "opentofu_v4-legacy-simple.tfstate": 3,
    "opentofu_v4-modules.tfstate": 4,
    "opentofu_v4-simple.tfstate": 3,
    "tfjson_110-sensitive-values.tfstate": 7,
    "tfstate-lookup_aws-modules-count.tfstate": 11,
}


def test_every_corpus_state_has_an_expectation() -> None:
    assert sorted(p.name for p in STATES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_state_loads_or_is_refused_clearly(name: str) -> None:
    expected = EXPECTED[name]
    ctx = PullContext(catalogs=load_catalogs())
    if isinstance(expected, int):
        resources = pull(str(STATES / name), ctx)
        assert len(resources) == expected
        assert all(r.id.startswith(f"terraform:{STATES / name}#") for r in resources)
    else:
        with pytest.raises(ConnectorError) as err:
            pull(str(STATES / name), ctx)
        assert expected in err.value.message
        assert name in err.value.where
