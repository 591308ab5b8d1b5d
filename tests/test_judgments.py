"""Query and qrels files attached to a dataset, and BEIR / VectorDBBench sets as .zip archives."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.data import archives
from core.data.dataset import Dataset
from core.data.judgments import attach_judgments, read_qrels, read_queries
from core.data.loading import inspect_file, load_file


def text_ds():
    return Dataset(name="docs", ids=["d1", "d2", "d3"], texts=["alpha text", "beta text", "gamma text"])


def vector_ds(d=4):
    return Dataset(name="vecs", ids=["0", "1", "2"], vectors=np.eye(3, d, dtype=np.float32))


def test_trec_and_beir_qrels(tmp_path):
    trec = tmp_path / "q.trec"
    trec.write_text("1 0 d1 1\n1 0 d2 0\n\n2 Q0 d3 2\n")
    assert read_qrels(trec) == {"1": {"d1": 1, "d2": 0}, "2": {"d3": 2}}
    beir = tmp_path / "test.tsv"
    beir.write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td3\t1\n")
    assert read_qrels(beir) == {"1": {"d1": 1}, "2": {"d3": 1}}
    bad = tmp_path / "bad.tsv"
    bad.write_text("1 0 d1 high\n")
    with pytest.raises(ValueError, match="line 1 has relevance 'high'"):
        read_qrels(bad)
    bad.write_text("1 d1\n")
    with pytest.raises(ValueError, match="line 1 has 2 fields"):
        read_qrels(bad)


def test_text_queries_and_qrels_attach_to_a_text_dataset(tmp_path):
    qfile = tmp_path / "queries.jsonl"
    qfile.write_text('{"_id": "1", "text": "what is alpha"}\n{"_id": "2", "text": "gamma?"}\n')
    queries = read_queries(qfile)
    assert queries.ids == ["1", "2"] and queries.texts == ["what is alpha", "gamma?"]
    ds = attach_judgments(text_ds(), queries, {"1": {"d1": 1, "nope": 1}, "2": {"d3": 1}, "9": {"d2": 1}})
    assert ds.qrels == {"1": {"d1": 1}, "2": {"d3": 1}} and ds.has_qrels
    assert "1 judgments on documents not in the dataset and 1 queries" in ds.params["qrels_dropped"]
    assert ds.fingerprint() != text_ds().fingerprint()


def test_vector_queries_must_match_the_dimension(tmp_path):
    np.save(tmp_path / "q.npy", np.ones((2, 4), dtype=np.float32))
    queries = read_queries(tmp_path / "q.npy")
    assert queries.ids == ["q0", "q1"] and queries.vectors.shape == (2, 4)
    ds = attach_judgments(vector_ds(), queries, {"q0": {"1": 1}})
    assert ds.queries.vectors.shape == (2, 4) and ds.qrels == {"q0": {"1": 1}}
    with pytest.raises(ValueError, match="query vectors have 4 dims but vecs's vectors have 5"):
        attach_judgments(vector_ds(5), queries)
    with pytest.raises(ValueError, match="text dataset: its queries must be texts"):
        attach_judgments(text_ds(), queries)


def test_qrels_that_match_nothing_say_what_the_ids_look_like(tmp_path):
    qfile = tmp_path / "q.txt"
    qfile.write_text("alpha\nbeta\n")
    with pytest.raises(ValueError, match="dataset's ids look like 'd1' and the queries' like '1'"):
        attach_judgments(text_ds(), read_queries(qfile), {"x": {"y": 1}})
    with pytest.raises(ValueError, match="has no queries of its own"):
        attach_judgments(text_ds(), None, {"1": {"d1": 1}})


# ---------------------------------------------------------------------------------------- zip


def beir_zip(path, members=None):
    members = members or {
        "scifact/corpus.jsonl": "\n".join(json.dumps({"_id": f"d{i}", "title": "", "text": f"passage {i}"})
                                          for i in range(4)),
        "scifact/queries.jsonl": json.dumps({"_id": "1", "text": "which passage"}),
        "scifact/qrels/test.tsv": "query-id\tcorpus-id\tscore\n1\td2\t1\n",
    }
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return path


def test_beir_zip_loads_like_its_folder(tmp_path):
    path = beir_zip(tmp_path / "scifact.zip")
    ds = load_file(path)
    assert ds.name == "scifact" and ds.n == 4 and ds.qrels == {"1": {"d2": 1}}
    assert ds.params["path"] == str(path)
    info = inspect_file(path)
    assert info.format == "zip (beir)" and info.n_rows == 4 and info.n_queries == 1


def test_vdbbench_zip(tmp_path):
    folder = tmp_path / "vdb"
    folder.mkdir()
    x = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
    pq.write_table(pa.table({"id": [0, 1, 2, 3], "emb": x.tolist()}), folder / "train.parquet")
    pq.write_table(pa.table({"id": [0], "emb": [x[1].tolist()]}), folder / "test.parquet")
    with zipfile.ZipFile(tmp_path / "vdb.zip", "w") as z:
        for p in folder.iterdir():
            z.write(p, p.name)
    ds = load_file(tmp_path / "vdb.zip")
    np.testing.assert_array_equal(ds.vectors, x)
    assert ds.queries.ids == ["q0"]


@pytest.mark.parametrize("member", ["../evil.txt", "/etc/evil", "a/../../evil", "C:/evil"])
def test_zip_with_escaping_members_unpacks_nothing(tmp_path, member):
    path = beir_zip(tmp_path / "bad.zip", {member: "x", "corpus.jsonl": "{}"})
    with pytest.raises(ValueError, match="outside the folder"):
        load_file(path)
    assert not (tmp_path / "evil.txt").exists()


def test_zip_size_limit_and_links(tmp_path, monkeypatch):
    path = beir_zip(tmp_path / "big.zip")
    monkeypatch.setattr(archives, "MAX_UNPACKED_BYTES", 10)
    with pytest.raises(ValueError, match=r"would unpack to .* over the"):
        archives.unpack(path, tmp_path / "out", max_bytes=10)
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as z:
        info = zipfile.ZipInfo("corpus.jsonl")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(ValueError, match="is a link or special file"):
        load_file(link)
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK no zip")
    with pytest.raises(ValueError, match=r"not a readable \.zip"):
        load_file(junk)


def test_cli_attaches_query_and_qrels_files(tmp_path, capsys):
    from core.cli.common import open_workspace
    from core.cli.main import build_parser

    table = tmp_path / "docs.csv"
    table.write_text("id,text\nd1,alpha text\nd2,beta text\nd3,gamma text\n")
    qfile = tmp_path / "q.csv"
    qfile.write_text("id,text\n1,alpha\n")
    qrels = tmp_path / "qrels.txt"
    qrels.write_text("1 0 d1 1\n")
    args = build_parser().parse_args(["id", "--path", str(table), "--id-column", "id",
                                      "--query-file", str(qfile), "--qrels", str(qrels)])
    ws = open_workspace(args)
    assert ws.dataset.queries.texts == ["alpha"] and ws.dataset.qrels == {"1": {"d1": 1}}


# ------------------------------------------------------------------------------- uploads in the app


def test_upload_with_query_and_qrels_files_is_kept_and_reopened(fresh_home):
    from core.data.uploads import list_user_datasets, open_dataset, save_upload, upload_kind, uploads_dir

    docs = b"id,text\nd1,alpha text\nd2,beta text\nd3,gamma text\n"
    name = save_upload(docs, "docs.csv", {"text_column": "text", "id_column": "id"},
                       {"queries": (b"id,text\n1,alpha\n2,gamma\n", "q.csv"),
                        "qrels": (b"1 0 d1 1\n2 0 d3 1\n", "q.trec")})
    ds = open_dataset(name)
    assert ds.queries.texts == ["alpha", "gamma"] and ds.qrels == {"1": {"d1": 1}, "2": {"d3": 1}}
    assert ds.params["path"] == "docs.csv" and upload_kind(name) == "text"
    assert list_user_datasets() == [name]
    # a bad attachment keeps nothing: no dataset, no staging folder
    with pytest.raises(ValueError, match="has no queries of its own"):
        save_upload(docs, "docs2.csv", {"text_column": "text"}, {"qrels": (b"1 0 zz 1\n", "bad.trec")})
    assert list_user_datasets() == [name]
    assert [p.name for p in uploads_dir().iterdir()] == [name.removeprefix("upload:")]


def test_vector_table_and_zip_uploads(fresh_home, tmp_path):
    import io

    from core.data.uploads import open_dataset, save_upload, upload_kind

    buf = io.BytesIO()
    pq.write_table(pa.table({"id": ["a", "b"], "embedding": [[1.0, 0.0], [0.0, 1.0]], "text": ["x <b>", "y"]}), buf)
    name = save_upload(buf.getvalue(), "mine.parquet", {"id_column": "id"})
    ds = open_dataset(name)
    assert upload_kind(name) == "vectors" and ds.ids == ["a", "b"] and ds.titles == ["x <b>", "y"]
    zname = save_upload(beir_zip(tmp_path / "scifact.zip").read_bytes(), "scifact.zip")
    zds = open_dataset(zname)
    assert zds.n == 4 and zds.qrels == {"1": {"d2": 1}} and zds.params["path"] == "scifact.zip"
