"""seqcls train --arch transformer (issue 16): the embedding scaled by
sqrt(--dim), sinusoidal positions, --layers encoder layers of --heads heads
and --ff-dim feed-forward units, mean pooling; its options in the help,
their errors (exit 2, one line, no file written), and test, predict, info,
explain and --resume on the model."""
import json
import os
import re
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from test_cli import GOOD, BAD, ROOT, make_file, run  # noqa: E402


class Transformer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        cls.train = os.path.join(d, "train.txt")
        cls.test = os.path.join(d, "test.txt")
        cls.model = os.path.join(d, "model.sqcl")
        make_file(cls.train, 400, 1)
        make_file(cls.test, 100, 2, tsv=True)
        r = run("train", "-i", cls.train, "-o", cls.model, "--arch", "transformer",
                "--epochs", "6", "--lr", "0.005", "--dim", "16", "--heads", "2", "--layers", "3",
                "--maxlen", "32", "--min-count", "1", "--threads", "1")
        assert r.returncode == 0, r.stdout + r.stderr
        cls.train_out = r.stdout

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def assertBad(self, r, needle):
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("seqcls: "), r.stderr)
        self.assertIn(needle, r.stderr)

    def test_the_model_is_the_documented_stack(self):
        self.assertIn("architecture transformer", self.train_out)
        info = run("info", self.model)
        self.assertEqual(info.returncode, 0, info.stderr)
        layers = re.findall(r"^\s+\d+  (\S.*?) ->", info.stdout, re.M)
        self.assertEqual(layers, ["embedding(vocab=22, dim=16, padding_idx=0)",
                                  "positional(sinusoidal, max_len=32, scale_input)"] +
                         ["transformer(heads=2, ff_dim=64, relu, dropout=0.1)"] * 3 +
                         ["pooling(mean)", "output(classes=1, sigmoid)"])
        # PyTorch's state_dict names, per layer
        self.assertIn("2.transformer.self_attn.in_proj_weight [48, 16]", info.stdout)
        self.assertIn("4.transformer.linear1.weight         [64, 16]", info.stdout)

    def test_test_and_predict(self):
        r = run("test", self.model, self.test)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = dict(l.split("\t", 1) for l in r.stdout.splitlines() if "\t" in l)
        self.assertGreaterEqual(float(lines["accuracy"]), 0.95)
        r = run("predict", self.model, "-", stdin="the film was wonderful\nawful plot\n\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l.split()[0] if l else "" for l in r.stdout.splitlines()],
                         ["__label__pos", "__label__neg", ""])

    def test_explain_shows_the_attention_the_tokens_receive(self):
        # the weights are the last encoder layer's self-attention averaged
        # over heads and (mean pooling) over the valid queries: checked
        # against the library's own weights through the Python binding
        sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
        import numpy as np
        import seqcls
        docs = ["the film was %s and the plot a story" % w for w in GOOD[:3] + BAD[:3]]
        r = run("explain", self.model, "--json", stdin="\n".join(docs) + "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        m = seqcls.Model.load(self.model)
        last = max(i for i in range(len(m)) if m.layer_kind(i) == "transformer_encoder")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), len(docs))
        for line, doc in zip(lines, docs):
            tokens = json.loads(line)["tokens"]
            self.assertEqual([t["token"] for t in tokens], doc.split())
            self.assertAlmostEqual(sum(t["weight"] for t in tokens), 1.0, places=5)
            ids, lens = m.encode_text([doc])
            m.forward(ids[:, :lens[0]], lens, training=False)
            want = m.self_attention_weights(last)[0].mean(axis=(0, 1))
            np.testing.assert_allclose([t["weight"] for t in tokens], want, atol=2e-6)
        r = run("explain", self.model, "-", stdin="superb\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[1], "superb\t1.0000")
        self.assertIn("self-attention", run("explain", "--help").stdout)

    def test_options_in_the_help_with_their_defaults(self):
        r = run("train", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("transformer: embedding (of --dim, the model width) scaled by", r.stdout)
        self.assertRegex(r.stdout, r"--layers N\s+transformer: encoder layers \[2\]")
        self.assertRegex(r.stdout, r"--heads H\s+transformer: .*\(must divide --dim\) \[4\]")
        self.assertRegex(r.stdout, r"--ff-dim F\s+transformer: .*\[4 x --dim\]")

    def test_defaults_and_given_widths(self):
        out = os.path.join(self.dir.name, "defaults.sqcl")
        r = run("train", "-i", self.train, "-o", out, "--arch", "transformer", "--epochs", "1",
                "--dim", "8", "--maxlen", "16")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = run("info", out).stdout
        self.assertEqual(info.count("transformer(heads=4, ff_dim=32, relu, dropout=0.1)"), 2)
        r = run("train", "-i", self.train, "-o", out, "--arch", "transformer", "--epochs", "1",
                "--dim", "12", "--heads", "3", "--ff-dim", "20", "--layers", "1", "--maxlen", "16")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = run("info", out).stdout
        self.assertEqual(info.count("transformer(heads=3, ff_dim=20, relu, dropout=0.1)"), 1)

    def test_subwords_feed_a_transformer(self):
        out = os.path.join(self.dir.name, "sub.sqcl")
        r = run("train", "-i", self.train, "-o", out, "--arch", "transformer", "--epochs", "2",
                "--dim", "8", "--heads", "2", "--layers", "1", "--maxlen", "16", "--minn", "2",
                "--maxn", "3", "--bucket", "1000")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("embedding_bag(rows=", run("info", out).stdout)
        r = run("explain", out, "--json", stdin="a superb film\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertAlmostEqual(sum(t["weight"] for t in json.loads(r.stdout)["tokens"]), 1, 5)

    def test_resume_continues_to_the_uninterrupted_model(self):
        d = self.dir.name
        common = ["-i", self.train, "--arch", "transformer", "--dim", "8", "--heads", "2",
                  "--layers", "1", "--maxlen", "16", "--threads", "1"]
        whole, part = os.path.join(d, "whole.sqcl"), os.path.join(d, "part.sqcl")
        self.assertEqual(run("train", *common, "-o", whole, "--epochs", "3").returncode, 0)
        r = run("train", *common, "-o", part, "--epochs", "3", "--checkpoint-every", "2")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = run("train", "-i", self.train, "-o", part, "--resume", part + ".ckpt", "--threads", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(whole, "rb") as a, open(part, "rb") as b:
            self.assertEqual(a.read(), b.read())
        self.assertBad(run("train", "-i", self.train, "-o", part, "--resume", part + ".ckpt",
                           "--heads", "4"), "--heads cannot be given with it")

    def test_bad_options_exit_2_and_write_nothing(self):
        out = os.path.join(self.dir.name, "bad.sqcl")
        train = ["train", "-i", self.train, "-o", out]
        for args, needle in (
                (["--arch", "transformer", "--dim", "10", "--heads", "4"],
                 "--heads 4 does not divide --dim 10"),
                (["--arch", "transformer", "--heads", "3"], "--heads 3 does not divide --dim 64"),
                (["--arch", "transformer", "--heads", "0"], "--heads: '0'"),
                (["--arch", "transformer", "--layers", "0"], "--layers: '0'"),
                (["--arch", "transformer", "--ff-dim", "0"], "--ff-dim: '0'"),
                (["--arch", "transformer", "--ff-dim"], "--ff-dim needs a value"),
                (["--arch", "meanpool", "--layers", "2"], "--layers is for --arch transformer"),
                (["--heads", "2"], "--heads is for --arch transformer"),
                (["--arch", "cnn", "--ff-dim", "16"], "--ff-dim is for --arch transformer")):
            with self.subTest(args=args):
                self.assertBad(run(*train, *args), needle)
                self.assertFalse(os.path.exists(out))
        self.assertEqual(os.listdir(self.dir.name).count("bad.sqcl"), 0)


if __name__ == "__main__":
    unittest.main()
