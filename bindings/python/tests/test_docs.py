"""The getting-started page shows the snippets the tests run, verbatim;
docs/api-reference.md is generated from the header and up to date; the
Python snippet runs."""
import os
import re
import subprocess
import sys

from conftest import PYDIR, ROOT, needs_save_load

PAGE = os.path.join(ROOT, "docs", "getting-started.md")


def marked_blocks(page):
    """{path: code} for every block preceded by <!-- snippet: path -->."""
    text = open(page).read()
    return {m.group(1): m.group(2) for m in re.finditer(
        r"<!-- snippet: (\S+) -->\n```\w+\n(.*?)```\n", text, re.S)}


def test_getting_started_shows_the_tested_snippets():
    blocks = marked_blocks(PAGE)
    assert set(blocks) == {"docs/snippets/first_model.c", "docs/snippets/first_model.py",
                           "docs/snippets/first_model.rs"}
    for path, code in blocks.items():
        assert code == open(os.path.join(ROOT, path)).read(), \
            "%s differs from its copy in docs/getting-started.md" % path
    # every code block of the page that is a program is one of them
    fenced = re.findall(r"```(c|python|rust)\n", open(PAGE).read())
    assert len(fenced) == 3


def test_getting_started_commands_are_the_ones_make_check_runs():
    """tests/docs/run_commands.py runs the ```sh blocks (make check-docs):
    every command that installs, builds or runs something is in one."""
    text = open(PAGE).read()
    sh = "\n".join(re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S))
    for needed in ("make install PREFIX=", "pkg-config --variable=libdir seqcls",
                   "-Wl,-rpath,", "LD_LIBRARY_PATH=", "./first_model",
                   "/usr/bin/python3 -m venv", "pip install", "docs/snippets/first_model.py",
                   "cargo run --example first_model"):
        assert needed in sh, needed
    indented = re.findall(r"^(?:    |\t)(.*)$", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S),
                          re.M)
    for line in indented:
        assert not re.match(r"\s*(cc |gcc |python|\S*/python|pip |\S*/pip |cargo |"
                            r"PYTHONPATH=|\./|make install|cd )", line), \
            "a command outside the ```sh blocks, which make check does not run: " + line


def test_api_reference_is_up_to_date():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "gen_api_reference.py"),
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_api_reference_lists_every_function():
    from test_declarations import header_functions
    ref = open(os.path.join(ROOT, "docs", "api-reference.md")).read()
    for name in header_functions():
        assert "### `%s`" % name in ref, name
    assert ref.count("- *Ownership*:") == ref.count("- *Errors*:") == len(header_functions())


def test_architectures_shows_the_tested_transformer_snippets():
    page = os.path.join(ROOT, "docs", "architectures.md")
    blocks = marked_blocks(page)
    assert set(blocks) == {"docs/snippets/transformer.c", "docs/snippets/transformer.py"}
    for path, code in blocks.items():
        assert code == open(os.path.join(ROOT, path)).read(), \
            "%s differs from its copy in docs/architectures.md" % path


def test_transformer_snippet_runs(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYDIR, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "snippets", "transformer.py")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert float(lines[0].split()[-1]) >= 0.95, r.stdout
    weights = [float(l.split()[2]) for l in lines[1:]]
    assert abs(sum(weights) - 1) < 1e-2 and len(weights) >= 4, r.stdout   # (3 decimals each)
    assert sum("<- key" in l for l in lines[1:]) == 1, r.stdout


@needs_save_load
def test_python_snippet_runs(tmp_path):
    env = dict(os.environ, PYTHONPATH=PYDIR, PYTHONDONTWRITEBYTECODE="1")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "docs", "snippets", "first_model.py")],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("p(positive) =")
