"""The command line's tokenisation options (issue 15, items 3, 3b and 4):
--tokens char, --oov-buckets, fastText's --minn/--maxn/--bucket with
every --arch, the vocabulary's coverage at training and the warning of
test/predict/explain when most tokens are unknown; the options are
stored in the model (its vocabulary and its "tokens" metadata) and used
by test, predict and explain without being given again."""
import json
import os
import random
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEQCLS = os.path.join(ROOT, "bin", "seqcls")

# two made-up languages: words of one are built from "k a l m t", of the
# other from "s o r n i t"; the test words are not in the training file
LANG_A = ["kalaka", "malaka", "talak", "kakala", "lakama", "makala", "alaka", "kamala",
          "takala", "lalaka", "kakalam", "lamaka"]
LANG_B = ["sorrin", "torrin", "norris", "rosrin", "sinnor", "tirros", "ornis", "nosrin",
          "sorrit", "rinnos", "torris", "nirros"]
UNSEEN_A = ["makalak", "lakalaka", "kalama", "tamaka"]
UNSEEN_B = ["norrin", "sorrins", "rinnor", "osrin"]


def run(*args, stdin=None):
    return subprocess.run([SEQCLS] + list(args), input=stdin, capture_output=True, text=True,
                          timeout=300)


class Tokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        rng = random.Random(3)
        cls.train = os.path.join(d, "train.txt")
        with open(cls.train, "w") as f:
            for _ in range(400):
                a = rng.random() < 0.5
                f.write("__label__%s %s\n" % ("a" if a else "b", rng.choice(LANG_A if a else LANG_B)))
        cls.unseen = os.path.join(d, "unseen.txt")
        with open(cls.unseen, "w") as f:
            f.writelines("__label__a %s\n" % w for w in UNSEEN_A)
            f.writelines("__label__b %s\n" % w for w in UNSEEN_B)

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def model(self, name, *options):
        path = os.path.join(self.dir.name, name + ".sqcl")
        if "-i" not in options:
            options = ("-i", self.train) + options
        r = run("train", "-o", path, "--epochs", "6", "--dim", "8", "--hidden", "8", "--lr",
                "0.02", "--threads", "1", *options)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return path, r.stdout

    def accuracy(self, path, data):
        r = run("test", path, data)
        self.assertEqual(r.returncode, 0, r.stderr)
        return float(dict(l.split("\t", 1) for l in r.stdout.splitlines() if "\t" in l)["accuracy"])

    def test_char_mode_is_stored_and_used(self):
        path, out = self.model("char", "--tokens", "char", "--arch", "bilstm-attn")
        self.assertIn("vocabulary of 12 char tokens", out)   # <pad>, <unk> and 10 letters
        info = run("info", path).stdout
        self.assertIn("tokens = char", info)
        self.assertIn("characters", info)
        with open(path, "rb") as f:
            self.assertIn(b"VOPT", f.read())   # seqcls 1.0 must refuse this model
        r = run("explain", path, "--json", stdin="Ka la\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        tokens = json.loads(r.stdout)["tokens"]
        self.assertEqual([(t["token"], t["start"], t["end"]) for t in tokens],
                         [("K", 0, 1), ("a", 1, 2), (" ", 2, 3), ("l", 3, 4), ("a", 4, 5)])
        self.assertAlmostEqual(sum(t["weight"] for t in tokens), 1.0, places=4)

    def test_word_mode_models_stay_version_1(self):
        path, out = self.model("word", "--arch", "meanpool")
        with open(path, "rb") as f:
            self.assertNotIn(b"VOPT", f.read())
        self.assertIn("tokens = word", run("info", path).stdout)

    def test_oov_buckets(self):
        path, out = self.model("oov", "--arch", "meanpool", "--oov-buckets", "16",
                               "--min-count", "1")
        self.assertIn("hashed into 16 vectors (--oov-buckets)", out)
        info = run("info", path).stdout
        self.assertIn("16 buckets for unknown tokens", info)
        self.assertIn("0.embedding.weight                   [42, 8]", info)   # 2 + 24 + 16

    def test_subwords_with_every_architecture(self):
        # the test words are all unknown: only their n-grams tell
        for arch in ("meanpool", "bilstm-attn", "bigru-attn"):
            path, out = self.model("sub-" + arch, "--arch", arch, "--minn", "2", "--maxn", "4",
                                   "--bucket", "5000", "--epochs", "10")
            self.assertIn("character 2- to 4-grams, hashed into 5000 vectors", out)
            info = run("info", path).stdout
            self.assertIn("embedding_bag(rows=5026, dim=8, per_step=", info)
            self.assertIn("character 2- to 4-grams in 5000 buckets", info)
            self.assertGreaterEqual(self.accuracy(path, self.unseen), 0.75, arch)
            r = run("predict", path, self.unseen)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(len(r.stdout.splitlines()), 8)
            # one line on stderr: most tokens are unknown, n-grams or not
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn("100% of the 8 tokens read are not in the model's vocabulary",
                          r.stderr)
            self.assertIn("n-grams", r.stderr)

    def test_subwords_of_the_last_tokens(self):
        # --truncate pre with n-grams: with --maxlen 1 only the last word is
        # read; here it decides the label, the first word is noise
        rng = random.Random(5)
        train = os.path.join(self.dir.name, "two.txt")
        with open(train, "w") as f:
            for _ in range(300):
                a = rng.random() < 0.5
                f.write("__label__%s %s %s\n" % ("a" if a else "b", rng.choice(LANG_A + LANG_B),
                                                rng.choice(LANG_A if a else LANG_B)))
        for trunc, want in (("pre", 0.75), ("post", None)):
            path, out = self.model("two-" + trunc, "-i", train, "--arch", "meanpool",
                                   "--minn", "2", "--maxn", "3", "--bucket", "2000",
                                   "--maxlen", "1", "--truncate", trunc, "--epochs", "10")
            test = os.path.join(self.dir.name, "two-test.txt")
            with open(test, "w") as f:
                f.writelines("__label__a %s %s\n" % (w, u) for w, u in zip(UNSEEN_B, UNSEEN_A))
                f.writelines("__label__b %s %s\n" % (w, u) for w, u in zip(UNSEEN_A, UNSEEN_B))
            acc = self.accuracy(path, test)
            if want:
                self.assertGreaterEqual(acc, want)
            else:
                self.assertLessEqual(acc, 0.625)   # the first word, noise: nothing learnt
            r = run("explain", path, "--json", stdin="kalaka sorrin\n")
            self.assertEqual(r.returncode, 2)   # meanpool: no attention (the model loads, reads)

    def test_coverage_and_the_warning(self):
        path, out = self.model("cov", "--arch", "meanpool", "--min-count", "1")
        line = [l for l in out.splitlines() if l.startswith("vocabulary coverage: ")]
        self.assertEqual(len(line), 1, out)
        self.assertIn("100.0% of the 360 training tokens, 100.0% of the 40 validation tokens",
                      line[0])
        # known words: no warning; mostly unknown ones: one line on stderr, exit 0
        r = run("predict", path, stdin="kalaka\nsorrin\n")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        r = run("test", path, self.unseen)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"^seqcls: warning: 100% of the 8 tokens read are not in the "
                                   r"model's vocabulary \(trained with --tokens word\)[^\n]*\n$")
        r = run("predict", path, stdin="kalaka zzz yyy\n")
        self.assertIn("67% of the 3 tokens", r.stderr)

    def test_bad_options(self):
        out = os.path.join(self.dir.name, "bad.sqcl")
        for args, needle in ((["--minn", "3"], "--minn 3 is above --maxn 0"),
                             (["--minn", "5", "--maxn", "3"], "--minn 5 is above --maxn 3"),
                             (["--maxn", "3", "--bucket", "0"], "needs --bucket above 0"),
                             (["--maxn", "33"], "--maxn"),
                             (["--oov-buckets", "-1"], "--oov-buckets"),
                             (["--tokens", "bytes"], "--tokens")):
            r = run("train", "-i", self.train, "-o", out, *args)
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
            self.assertIn(needle, r.stderr)
            self.assertFalse(os.path.exists(out))

    def test_resume_keeps_the_tokenisation(self):
        """--resume takes --tokens and the n-grams from the checkpoint: 2 epochs,
        a checkpoint, resumed to 4 = 4 in one run, the saved file bit for bit."""
        d = self.dir.name
        opts = ("--tokens", "char", "--minn", "1", "--maxn", "2", "--bucket", "500",
                "--arch", "meanpool")
        whole, _ = self.model("resume_whole", *opts)
        half, _ = self.model("resume_half", "--epochs", "3", "--checkpoint-every", "1", *opts)
        out = os.path.join(d, "resumed.sqcl")
        r = run("train", "--resume", half + ".ckpt", "-i", self.train, "-o", out, "--epochs", "6")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        with open(whole, "rb") as a, open(out, "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_help_lists_the_options(self):
        r = run("train", "--help")
        for opt in ("--tokens T", "--oov-buckets N", "--minn N", "--maxn N", "--bucket N"):
            self.assertIn(opt, r.stdout)
        self.assertIn("[2000000]", r.stdout)


if __name__ == "__main__":
    unittest.main()
