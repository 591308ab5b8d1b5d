"""URL values are untrusted input: `ui.url` checks every one (pure functions, no Streamlit)."""

from __future__ import annotations

import pytest

from ui.url import clean_encoder, clean_params, clean_workspace_params

DATASETS = ["stdlib-docs", "pydocs", "glove-6b-50d", "synthetic"]


def clean(query: dict) -> tuple[dict, list[str]]:
    return clean_workspace_params(query, datasets=DATASETS, uploads=["user:notes"], default_dataset="stdlib-docs",
                                  default_encoder="minilm")


@pytest.mark.parametrize(("raw", "expected", "warning"), [
    ('{"n": 5000, "dim": 64}', {"n": 5000, "dim": 64}, None),
    ('{"n": 1e9}', {"n": 200_000}, "n=1,000,000,000 is above 200,000; using 200,000"),
    ('{"n": -5}', {"n": 100}, "n=-5 is below 100; using 100"),
    ('{"n": "abc"}', {"n": 10_000}, "n='abc' is not a number; using 10,000"),
    ('{"n": true}', {"n": 10_000}, "n=True is not a number; using 10,000"),
    ('{"n": 2500.5}', {"n": 2500}, "n=2500.5 is not a whole number; using 2,500"),
    ('{"noise": 1e999}', {"noise": 0.0}, "noise=inf is not a finite number; using 0"),
    ('{"noise": NaN}', {"noise": 0.0}, "noise='NaN' is not a finite number; using 0"),
    ('{"noise": 0.25}', {"noise": 0.25}, None),
    ('{"dim": 8, "intrinsic_dim": 64}', {"dim": 8, "intrinsic_dim": 8}, "intrinsic_dim=64 is above dim=8; using 8"),
    ('{"colour": "red"}', {}, "synthetic has no parameter 'colour'; ignored"),
    ("{oops", {}, "params='{oops' is not valid JSON; using the dataset's defaults"),
    ('"a string"', {}, "is not a JSON object"),
])
def test_synthetic_params_from_a_link(raw, expected, warning):
    params, warnings = clean_params("synthetic", raw)
    assert params == expected
    assert (warnings == []) if warning is None else any(warning in w for w in warnings), warnings


def test_uploads_take_a_limit_and_seed_only():
    assert clean_params("user:notes", '{"limit": 50, "seed": 2}', uploaded=True) == ({"limit": 50, "seed": 2}, [])
    params, warnings = clean_params("user:notes", '{"n": 50}', uploaded=True)
    assert params == {} and warnings == ["user:notes has no parameter 'n'; ignored"]


@pytest.mark.parametrize("raw", ["/etc", "/no/such/dir", "bert-base-uncased", "../../etc", "", "x\x00y", 5])
def test_encoders_outside_the_registry_are_refused_alike(raw, monkeypatch):
    monkeypatch.delenv("DENSESCOPE_MODELS", raising=False)
    encoder, warning = clean_encoder(raw, "minilm")
    assert encoder == "minilm"
    assert raw == "" or (warning and "not an encoder this server offers" in warning and "exist" not in warning)


def test_registered_encoders_and_operator_allowed_folders_are_accepted(tmp_path, monkeypatch):
    for name in ("minilm", "tfidf-svd", "glove-avg", "given-vectors"):
        assert clean_encoder(name, "minilm") == (name, None)
    models = tmp_path / "models"
    (models / "mine").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    monkeypatch.setenv("DENSESCOPE_MODELS", str(models))
    assert clean_encoder(str(models / "mine"), "minilm") == (str(models / "mine"), None)
    assert clean_encoder("mine", "minilm") == ("mine", None)  # relative to an allowed root
    for refused in (str(tmp_path / "outside"), str(models / "mine" / ".." / ".." / "outside"), str(models),
                    str(models / "missing")):
        assert clean_encoder(refused, "minilm")[0] == "minilm", refused


def test_a_whole_link_is_cleaned_with_one_warning_per_changed_value():
    spec, warnings = clean({"dataset": "synthetic", "params": '{"n": -1, "dim": 16}', "encoder": "/etc/passwd"})
    assert spec == {"dataset": "synthetic", "params": {"n": 100, "dim": 16}, "encoder": "minilm",
                    "encoder_options": {}}
    assert len(warnings) == 2
    spec, warnings = clean({"dataset": "[t](https://x)", "params": None, "encoder": None})
    assert spec["dataset"] == "stdlib-docs" and warnings == ["dataset='[t](https://x)' is not a dataset here; "
                                                             "showing stdlib-docs"]
    assert clean({})[0] == {"dataset": "stdlib-docs", "params": {}, "encoder": "minilm", "encoder_options": {}}
    assert clean({"dataset": "user:notes", "params": '{"limit": 9}'})[0]["params"] == {"limit": 9}
