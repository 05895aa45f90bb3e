import os

from actors.numba_cache import KEEP, configure, source_digest


def test_digest_changes_with_any_source(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    before = source_digest(tmp_path)
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    assert source_digest(tmp_path) != before


def test_configure_sets_a_keyed_folder_and_prunes_old_ones(tmp_path, monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    for i in range(KEEP + 2):
        old = tmp_path / f"old{i}"
        old.mkdir()
        os.utime(old, (i, i))
    folder = configure(tmp_path)
    assert folder is not None and os.environ["NUMBA_CACHE_DIR"] == str(folder)
    assert folder.is_dir() and len(list(tmp_path.iterdir())) == KEEP


def test_an_explicit_cache_dir_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", "/somewhere")
    assert configure(tmp_path) is None
    assert os.environ["NUMBA_CACHE_DIR"] == "/somewhere"
