"""Issue 14 item 9: `pip install .` and `pip install ".[test]"` must resolve the same jsonschema-rs,
or the suite never runs on the validator users get. A test dependency (schemathesis) bounds it, so
the product's own range must be the same one; when schemathesis moves its bound, this says so."""

from __future__ import annotations

from importlib.metadata import requires

from packaging.requirements import Requirement


def jsonschema_rs_range(distribution: str) -> str:
    for line in requires(distribution) or []:
        requirement = Requirement(line)
        if requirement.name.replace("_", "-") == "jsonschema-rs" and requirement.marker is None:
            return str(requirement.specifier)
    raise AssertionError(f"{distribution} does not require jsonschema-rs")


def test_the_product_allows_exactly_the_jsonschema_rs_its_test_dependencies_allow() -> None:
    ours, theirs = jsonschema_rs_range("mock-masivo"), jsonschema_rs_range("schemathesis")
    assert set(ours.split(",")) == set(theirs.split(",")), (
        f"pyproject.toml asks for jsonschema-rs{ours}, schemathesis for {theirs}: make them the same range"
    )
