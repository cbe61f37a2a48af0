"""The build's teaching checks (docs/hooks/teaching.py): the learning path against the nav and
the pages' Prerequisites, links, References and the visible code share."""

import importlib.util
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "docs" / "hooks"
sys.path.insert(0, str(HOOKS))
_spec = importlib.util.spec_from_file_location("teaching_hook", HOOKS / "teaching.py")
teaching = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(teaching)


def _config():
    class Loader(yaml.SafeLoader):
        pass

    # mkdocs.yml's !ENV and !!python tags: stand-ins, only the nav and extra are read here
    Loader.add_multi_constructor("", lambda loader, suffix, node: None)
    return yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)


def _nav_pages(items):
    order = []
    for item in items:
        value = next(iter(item.values())) if isinstance(item, dict) else item
        order += _nav_pages(value) if isinstance(value, list) else [value]
    return order


def test_the_path_reaches_a_trained_model_within_five_pages_in_nav_order():
    config = _config()
    path, order = config["extra"]["learning_path"], _nav_pages(config["nav"])
    assert teaching.path_problems(path, order, {}) == []
    pages = path["pages"]
    assert pages.index(path["first_model"]) + 1 <= 5
    for page in pages + path["beside"]:
        assert (ROOT / "docs" / page).is_file(), page


def test_the_path_check_fails_where_it_should():
    path = {"pages": ["a.md", "b.md", "m.md"], "first_model": "m.md", "first_model_within": 2}
    order = ["index.md", "b.md", "a.md", "m.md"]
    problems = teaching.path_problems(path, order, {"a.md": ["b.md"], "b.md": ["x.md"]})
    text = "\n".join(problems)
    assert "not in nav order" in text
    assert "page 3, more than 2" in text
    assert "a.md lists b.md under Prerequisites, which the path introduces later" in text
    assert "b.md lists x.md under Prerequisites, which the path introduces nowhere" in text


def test_prerequisites_and_links_are_read_from_markdown():
    page = (
        "# GroupNorm\n\n## Prerequisites\n\n[LayerNorm](normalization.md#layernorm), "
        "[SGD](../optim/sgd.md), [paper](https://arxiv.org/abs/1803.08494)\n\n## Idea\n\n"
        "See [Linear](linear.md).\n\n## References\n\n- Wu & He, "
        "[Group Normalization](https://arxiv.org/abs/1803.08494), 2018\n"
    )
    prerequisites = teaching.section(page, "Prerequisites")
    assert teaching.page_links(prerequisites, "modules/groupnorm.md") == [
        "modules/normalization.md",
        "optim/sgd.md",
    ]
    assert "modules/linear.md" in teaching.page_links(page, "modules/groupnorm.md")
    assert teaching.external_links(teaching.section(page, "References"))
    assert teaching.section("# x\n\nno sections\n", "References") is None
    assert teaching.page_links("[self](#a) [img](../figures/a.png)", "modules/a.md") == []


def test_code_share_leaves_out_folded_code():
    shown = "<p>" + "word " * 30 + "</p><pre><code>" + "x = 1\n" * 10 + "</code></pre>"
    folded = '<details class="note"><summary>Full source</summary><pre>' + "y=2" * 50
    folded += "</pre></details>"
    opened = "<details open><pre><code>" + "z" * 40 + "</code></pre></details>"
    code, text, hidden = teaching.code_share(shown + folded + opened)
    assert (code, hidden) == (10 * 3 + 40, 150)
    assert text == 30 * 4 + 30 + 40
