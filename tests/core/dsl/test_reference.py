from pathlib import Path

from core.dsl import OPERATORS, list_macros
from core.dsl.reference import reference_markdown

DOC = Path(__file__).resolve().parents[3] / "docs" / "DSL.md"


def test_docs_dsl_md_is_in_sync_with_the_registry():
    assert DOC.read_text() == reference_markdown(), "run: python scripts/dsl_reference.py"


def test_every_operator_and_macro_is_documented():
    text = reference_markdown()
    for name in OPERATORS:
        assert f"`({name} " in text
    for line in text.splitlines():
        if line.startswith("| `"):
            assert line.replace("\\|", "").count("|") == 4, line  # 3 cells, pipes escaped
    for macro in list_macros():
        assert macro["signature"] in text
