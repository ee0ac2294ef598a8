"""seqcls quantize and seqcls info with a quantised model (issue 19): the
quantised files are smaller, predict as the float32 model does on an easy
task, test/predict read them, info shows their precision, --quant-error
reports the whole model and each layer, and bad usage exits with 2."""
import os
import random
import subprocess
import tempfile
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEQCLS = os.path.join(ROOT, "bin", "seqcls")


def run(*args):
    return subprocess.run([SEQCLS] + list(args), capture_output=True, text=True, timeout=300)


class Quantize(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        rng = random.Random(5)
        good = ["great", "superb", "lovely", "fine", "excellent", "nice"]
        bad = ["awful", "poor", "dreadful", "bad", "terrible", "boring"]
        filler = ["the", "film", "was", "a", "plot", "and", "acting", "very", "quite"]

        def line():
            pos = rng.random() < 0.5
            words = [rng.choice(filler) for _ in range(rng.randint(3, 9))]
            words.insert(rng.randint(0, len(words)), rng.choice(good if pos else bad))
            return "__label__%s %s\n" % ("pos" if pos else "neg", " ".join(words))

        cls.train = os.path.join(d, "train.txt")
        cls.test = os.path.join(d, "test.txt")
        with open(cls.train, "w") as f:
            f.writelines(line() for _ in range(1500))
        with open(cls.test, "w") as f:
            f.writelines(line() for _ in range(150))
        cls.model = os.path.join(d, "m.sqcl")
        r = run("train", "-i", cls.train, "-o", cls.model, "--arch", "bilstm-attn",
                "--epochs", "8", "--dim", "16", "--hidden", "16", "--threads", "1")
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def accuracy(self, path):
        r = run("test", path, self.test)
        self.assertEqual(r.returncode, 0, r.stderr)
        return float([l for l in r.stdout.splitlines() if l.startswith("accuracy")][0].split()[1])

    def test_quantize_int8_and_bf16(self):
        base = self.accuracy(self.model)
        self.assertGreater(base, 0.9)
        for flag, name in (("--int8", "int8"), ("--bf16", "bfloat16")):
            out = os.path.join(self.dir.name, "m-%s.sqcl" % flag[2:])
            r = run("quantize", self.model, out, flag)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(name, r.stderr)
            self.assertLess(os.path.getsize(out), os.path.getsize(self.model))
            self.assertGreaterEqual(self.accuracy(out), base - 0.02)
            info = run("info", out)
            self.assertEqual(info.returncode, 0, info.stderr)
            self.assertIn("precision: %s" % name, info.stdout)
            self.assertIn("  %s\n" % flag[2:], info.stdout)
            p = run("predict", out, self.test)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(len(p.stdout.splitlines()), 150)
            # a quantised model is not quantised again
            again = run("quantize", out, os.path.join(self.dir.name, "x.sqcl"), "--int8")
            self.assertEqual(again.returncode, 2)
            self.assertIn("quantised already", again.stderr)
            # nor reported on
            rep = run("info", out, "--quant-error", self.test)
            self.assertEqual(rep.returncode, 2)

    def test_quant_error_report(self):
        r = run("info", self.model, "--quant-error", self.test)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("quantisation error on", r.stdout)
        for row in ("float32", "int8", "bf16", "embedding", "lstm", "output"):
            self.assertIn(row, r.stdout.split("quantisation error on")[1])

    def test_usage(self):
        out = os.path.join(self.dir.name, "u.sqcl")
        for args in ((self.model, out), (self.model, out, "--int8", "--bf16"), (self.model,)):
            r = run("quantize", *args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.startswith("seqcls: "), r.stderr)
        self.assertFalse(os.path.exists(out))
        h = run("quantize", "--help")
        self.assertEqual(h.returncode, 0)
        self.assertIn("--int8", h.stdout)


if __name__ == "__main__":
    unittest.main()
