"""Structural hash: same alpha, same hash; different alpha, different hash."""

from __future__ import annotations

import hashlib
import re

from core.dsl import (
    Call,
    Terminal,
    Window,
    canonical_text,
    parse,
    random_trees,
    structural_hash,
    to_text,
)


def test_format_is_16_hex_chars_of_sha256_of_the_canonical_simplified_text():
    h = structural_hash("(add close open)")
    assert re.fullmatch(r"[0-9a-f]{16}", h)
    assert h == hashlib.sha256(b"(add close open)").hexdigest()[:16]
    assert canonical_text("(add open close)") == "(add close open)"


def test_spacing_and_comments_do_not_matter():
    assert structural_hash("(ts_mean (delta close 5) 10)") == structural_hash(
        "  (ts_mean\n\t(delta   close 5) ; change\n 10)  ; mean\n")


def test_commutative_argument_order_does_not_matter():
    assert structural_hash("(add close open)") == structural_hash("(add open close)")
    assert structural_hash("(ts_corr close volume 20)") == structural_hash(
        "(ts_corr volume close 20)")


def test_foldable_constants_and_identities_do_not_matter():
    assert structural_hash("(mul close 2)") == structural_hash("(mul close (add 1 1))")
    assert structural_hash("(mul close 2)") == structural_hash("(mul (div 4 2) close)")
    assert structural_hash("(ts_mean close 5)") == structural_hash(
        "(add (ts_mean (neg (neg close)) 5) 0)")


def test_number_spelling_does_not_matter():
    assert structural_hash("(add close 0.5)") == structural_hash("(add close .50)")
    assert structural_hash("(add close 2)") == structural_hash("(add close 2.0e0)")


def test_macros_hash_as_their_expansion():
    assert structural_hash("(zmom close 5 20)") == structural_hash(
        "(ts_zscore (delta close 5) 20)")


def test_node_and_text_give_the_same_hash():
    text = "(sub (ts_mean close 5) (ts_mean close 20))"
    assert structural_hash(parse(text)) == structural_hash(text)
    hand = Call("ma_cross", (Terminal("close"), Window(5), Window(20)))
    assert structural_hash(hand) == structural_hash(text)


def test_different_alphas_differ():
    hashes = {structural_hash(t) for t in [
        "(ts_mean close 10)", "(ts_mean close 11)", "(ts_mean open 10)", "(ts_sum close 10)",
        "(sub close open)", "(sub open close)", "(mul close 0)", "close", "(mul close 2)",
        "(add close 1e-05)",
    ]}
    assert len(hashes) == 10


def test_random_trees_distinct_canonical_texts_have_distinct_hashes():
    trees = random_trees(7, 500)
    canon = {canonical_text(t) for t in trees}
    assert len({structural_hash(parse(c)) for c in canon}) == len(canon)
    assert all(structural_hash(to_text(t)) == structural_hash(t) for t in trees[:100])
