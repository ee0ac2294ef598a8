"""The seqcls command line end to end, on a small generated fastText file,
and every kind of bad input: exit status 2 with a one-line message."""
import ctypes
import html as htmllib
import json
import math
import os
import random
import re
import resource
import signal
import stat
import subprocess
import tempfile
import time
import unittest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEQCLS = os.path.join(ROOT, "bin", "seqcls")

GOOD = ["great", "wonderful", "superb", "loved", "excellent"]
BAD = ["awful", "boring", "terrible", "hated", "dreadful"]
FILLER = ["the", "film", "plot", "actor", "scene", "was", "and", "a", "story", "music"]


def make_file(path, n, seed, tsv=False):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            pos = rng.random() < 0.5
            words = [rng.choice(FILLER) for _ in range(rng.randint(3, 12))]
            words.insert(rng.randrange(len(words) + 1), rng.choice(GOOD if pos else BAD))
            label = "pos" if pos else "neg"
            text = " ".join(words).capitalize() + "."
            f.write("%s\t%s\n" % (label, text) if tsv else "__label__%s %s\n" % (label, text))


def blow_up(src, dst):
    """Load model `src`, set every weight to +-1e30 (finite, so the model
    loads and saves) and save it as `dst`: its logits overflow to infinity
    and its probabilities become NaN."""
    lib = ctypes.CDLL(os.path.join(ROOT, "lib", "libseqcls.so"))
    vp = ctypes.c_void_p
    lib.seqcls_model_load.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
    lib.seqcls_model_save.argtypes = [vp, ctypes.c_char_p]
    lib.seqcls_model_free.argtypes = [vp]
    lib.seqcls_param_count.argtypes = [vp]
    lib.seqcls_param_name.argtypes = [vp, ctypes.c_int]
    lib.seqcls_param_name.restype = ctypes.c_char_p
    lib.seqcls_param.argtypes = [vp, ctypes.c_int, ctypes.POINTER(vp), vp]
    lib.seqcls_tensor_data.argtypes = [vp]
    lib.seqcls_tensor_data.restype = vp
    lib.seqcls_tensor_numel.argtypes = [vp]
    lib.seqcls_tensor_numel.restype = ctypes.c_int64
    lib.seqcls_last_error.restype = ctypes.c_char_p
    m = vp()
    assert lib.seqcls_model_load(ctypes.byref(m), src.encode()) == 0, lib.seqcls_last_error()
    for i in range(lib.seqcls_param_count(m)):
        t = vp()
        assert lib.seqcls_param(m, i, ctypes.byref(t), None) == 0
        n = lib.seqcls_tensor_numel(t)
        values = (ctypes.c_float * n).from_address(lib.seqcls_tensor_data(t))
        alternate = b"output.weight" in lib.seqcls_param_name(m, i)
        for j in range(n):
            values[j] = -1e30 if alternate and j % 2 else 1e30
    assert lib.seqcls_model_save(m, dst.encode()) == 0, lib.seqcls_last_error()
    lib.seqcls_model_free(m)


def library_predict_status(path):
    """What seqcls_predict returns for model `path` on one short row of
    token ids: SEQCLS_E_NUMERIC (-6) once the library refuses non-finite
    outputs itself (issue 14, item 1), SEQCLS_OK from a library that lets
    NaN through.  Its message too."""
    lib = ctypes.CDLL(os.path.join(ROOT, "lib", "libseqcls.so"))
    vp = ctypes.c_void_p
    lib.seqcls_model_load.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
    lib.seqcls_model_free.argtypes = [vp]
    lib.seqcls_model_output_width.argtypes = [vp]
    lib.seqcls_tensor_create.argtypes = [ctypes.POINTER(vp), ctypes.c_int, ctypes.c_int,
                                         ctypes.POINTER(ctypes.c_int64)]
    lib.seqcls_tensor_data.argtypes = [vp]
    lib.seqcls_tensor_data.restype = vp
    lib.seqcls_tensor_free.argtypes = [vp]
    lib.seqcls_predict.argtypes = [vp, vp, vp, vp, vp]
    lib.seqcls_last_error.restype = ctypes.c_char_p
    m, x, p = vp(), vp(), vp()
    assert lib.seqcls_model_load(ctypes.byref(m), path.encode()) == 0, lib.seqcls_last_error()
    assert lib.seqcls_tensor_create(ctypes.byref(x), 2, 2, (ctypes.c_int64 * 2)(1, 4)) == 0
    ids = (ctypes.c_int32 * 4).from_address(lib.seqcls_tensor_data(x))
    ids[:] = [1, 1, 1, 1]
    assert lib.seqcls_tensor_create(ctypes.byref(p), 1, 2,
                                    (ctypes.c_int64 * 2)(1, lib.seqcls_model_output_width(m))) == 0
    status = lib.seqcls_predict(m, x, None, p, None)
    message = (lib.seqcls_last_error() or b"").decode()
    lib.seqcls_tensor_free(x)
    lib.seqcls_tensor_free(p)
    lib.seqcls_model_free(m)
    return status, message


def per_step_model(src, dst):
    """A tagger (an output layer after a sequence) with model `src`'s
    vocabulary, saved as `dst`."""
    lib = ctypes.CDLL(os.path.join(ROOT, "lib", "libseqcls.so"))
    vp = ctypes.c_void_p
    lib.seqcls_model_load.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
    lib.seqcls_model_create.argtypes = [ctypes.POINTER(vp), ctypes.c_uint64]
    lib.seqcls_model_vocab.argtypes = [vp]
    lib.seqcls_model_vocab.restype = vp
    lib.seqcls_model_set_vocab.argtypes = [vp, vp]
    lib.seqcls_add_embedding.argtypes = [vp, ctypes.c_int, ctypes.c_int, ctypes.c_int, vp]
    lib.seqcls_add_lstm.argtypes = [vp, ctypes.c_int, ctypes.c_uint, vp]
    lib.seqcls_add_output.argtypes = [vp, ctypes.c_int, vp]
    lib.seqcls_vocab_size.argtypes = [vp]
    lib.seqcls_model_save.argtypes = [vp, ctypes.c_char_p]
    lib.seqcls_model_free.argtypes = [vp]
    m, t = vp(), vp()
    assert lib.seqcls_model_load(ctypes.byref(m), src.encode()) == 0
    v = lib.seqcls_model_vocab(m)
    assert lib.seqcls_model_create(ctypes.byref(t), 1) == 0
    assert lib.seqcls_add_embedding(t, lib.seqcls_vocab_size(v), 4, 0, None) == 0
    assert lib.seqcls_add_lstm(t, 4, 2, None) == 0          # SEQCLS_RETURN_SEQUENCES
    assert lib.seqcls_add_output(t, 3, None) == 0
    assert lib.seqcls_model_set_vocab(t, v) == 0
    assert lib.seqcls_model_save(t, dst.encode()) == 0
    lib.seqcls_model_free(m)
    lib.seqcls_model_free(t)


def run(*args, stdin=None, cwd=None):
    return subprocess.run([SEQCLS, *args], input=stdin, capture_output=True, text=True, timeout=300,
                          cwd=cwd)


class CommandLine(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        d = cls.dir.name
        cls.train = os.path.join(d, "train.txt")
        cls.test = os.path.join(d, "test.txt")
        cls.model = os.path.join(d, "model.sqcl")
        make_file(cls.train, 400, 1)
        make_file(cls.test, 100, 2, tsv=True)
        r = run("train", "-i", cls.train, "-o", cls.model, "--arch", "bilstm-attn", "--epochs", "8", "--lr", "0.01",
                "--dim", "16", "--hidden", "16", "--maxlen", "32", "--min-count", "1",
                "--valid-split", "0.1", "--threads", "1")
        assert r.returncode == 0, r.stderr
        cls.train_out = r.stdout

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_train_reports_epochs_with_validation(self):
        self.assertIn("400 documents, 2 labels", self.train_out)
        # plain lines (not a terminal): one per epoch, then which epoch was kept
        epochs = [l for l in self.train_out.splitlines() if l.startswith("epoch ")]
        self.assertEqual(len(epochs), 8)
        self.assertTrue(all("val_accuracy" in l for l in epochs))
        self.assertTrue(self.train_out.splitlines()[-1].startswith("kept model (epoch "))

    def test_test_prints_metrics_and_confusion(self):
        r = run("test", self.model, self.test)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = dict(l.split("\t", 1) for l in r.stdout.splitlines() if "\t" in l)
        self.assertEqual(lines["N"], "100")
        self.assertGreaterEqual(float(lines["accuracy"]), 0.9)
        self.assertIn("confusion matrix", r.stdout)
        self.assertIn("macro F1", r.stdout)

    def test_predict_top_k_from_stdin(self):
        r = run("predict", self.model, "-k", "2", "-", stdin="a wonderful film\nan awful plot\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        first, second = r.stdout.splitlines()
        self.assertTrue(first.startswith("__label__pos "), first)
        self.assertTrue(second.startswith("__label__neg "), second)
        self.assertEqual(len(first.split()), 4)
        p = [float(x) for x in first.split()[1::2]]
        self.assertAlmostEqual(sum(p), 1.0, places=4)

    def test_explain_prints_tokens_and_writes_html(self):
        html = os.path.join(self.dir.name, "heat.html")
        r = run("explain", self.model, "-", "--html", html, stdin="The plot was superb <b>indeed</b>\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [l.split("\t") for l in r.stdout.splitlines()[1:] if "\t" in l]
        self.assertEqual([w for w, _ in rows], ["The", "plot", "was", "superb", "indeed"])
        self.assertAlmostEqual(sum(float(x) for _, x in rows), 1.0, places=3)
        with open(html, encoding="utf-8") as f:
            page = f.read()
        self.assertIn("superb</span>", page)
        self.assertTrue(page.rstrip().endswith("</html>"))

    def test_info_lists_layers_and_parameters(self):
        r = run("info", self.model)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("lstm(hidden=16, bidirectional, return_sequences)", r.stdout)
        self.assertIn("1.lstm.weight_ih_l0_reverse", r.stdout)
        self.assertIn("labels: neg pos", r.stdout)

    def test_meanpool_and_gru_architectures(self):
        for arch in ("meanpool", "bigru-attn"):
            out = os.path.join(self.dir.name, arch + ".sqcl")
            r = run("train", "-i", self.train, "-o", out, "--arch", arch, "--epochs", "2",
                    "--dim", "8", "--hidden", "8", "--maxlen", "16")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(run("test", out, self.test).returncode, 0)

    def test_cnn_architecture(self):
        out = os.path.join(self.dir.name, "cnn.sqcl")
        r = run("train", "-i", self.train, "-o", out, "--arch", "cnn", "--kernel", "4",
                "--epochs", "6", "--lr", "0.01", "--dim", "16", "--hidden", "24", "--maxlen", "32")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("architecture cnn", r.stdout)
        r = run("info", out)
        self.assertIn("conv1d(filters=24, kernel=4, same, relu) -> sequence of 24", r.stdout)
        self.assertIn("pooling(max)", r.stdout)
        r = run("test", out, self.test)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = dict(l.split("\t", 1) for l in r.stdout.splitlines() if "\t" in l)
        self.assertGreaterEqual(float(lines["accuracy"]), 0.9)
        # a one-token document still has a feature ('same' padding)
        r = run("predict", out, "-", stdin="wonderful\nawful\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([l.split()[0] for l in r.stdout.splitlines()],
                         ["__label__pos", "__label__neg"])
        # a model without attention has nothing to explain with
        self.assertBad(run("explain", out, "-", stdin="a film\n"), "no attention layer")

    def test_truncate_keeps_the_first_or_the_last_tokens(self):
        doc = " ".join(["the film"] * 20) + " wonderful\n"   # the word that decides is last
        post = run("predict", self.model, "--maxlen", "5", "-", stdin=doc)
        pre = run("predict", self.model, "--maxlen", "5", "--truncate", "pre", "-", stdin=doc)
        self.assertEqual(pre.returncode, 0, pre.stderr)
        p_post = float(post.stdout.split()[1]) if post.stdout.startswith("__label__pos") \
            else 1 - float(post.stdout.split()[1])
        self.assertTrue(pre.stdout.startswith("__label__pos "), pre.stdout)
        self.assertGreater(float(pre.stdout.split()[1]), max(p_post, 0.9))
        r = run("explain", self.model, "--maxlen", "3", "--truncate", "pre", "-", stdin=doc)
        rows = [l.split("\t")[0] for l in r.stdout.splitlines()[1:] if "\t" in l]
        self.assertEqual(rows, ["the", "film", "wonderful"])
        # trained with --truncate pre: saved in the model, used by default
        out = os.path.join(self.dir.name, "pre.sqcl")
        r = run("train", "-i", self.train, "-o", out, "--arch", "meanpool", "--epochs", "1",
                "--dim", "8", "--maxlen", "4", "--truncate", "pre")
        self.assertEqual(r.returncode, 0, r.stderr)
        info = run("info", out).stdout
        self.assertRegex(info, r"truncate\s*[=:]?\s*\"?pre")
        same = run("predict", out, "-", stdin=doc)
        forced = run("predict", out, "--truncate", "pre", "-", stdin=doc)
        other = run("predict", out, "--truncate", "post", "-", stdin=doc)
        self.assertEqual(same.stdout, forced.stdout)
        self.assertNotEqual(same.stdout, other.stdout)

    def assertBad(self, r, needle):
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("seqcls: "), r.stderr)
        self.assertIn(needle, r.stderr)
        self.assertMessageClean(r.stderr)

    def assertMessageClean(self, message):
        # issue 14, item 12: no doubled words, no size_t of -1, no NULL
        self.assertIsNone(re.search(r"(?i)\b(\w+)\s+\1\b", message), message)
        self.assertNotIn("18446744073709551615", message)
        self.assertNotIn("4294967295", message)
        self.assertNotIn("(null)", message)

    def write(self, name, data):
        path = os.path.join(self.dir.name, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_bad_inputs_exit_2_with_a_message(self):
        d = self.dir.name
        out = os.path.join(d, "never.sqcl")
        self.assertBad(run("train", "-i", os.path.join(d, "missing.txt"), "-o", out),
                       "No such file")
        self.assertBad(run("train", "-i", self.write("empty.txt", b""), "-o", out), "no documents")
        self.assertBad(run("train", "-i", self.write("nolabel.txt", b"__label__a x\nno label here\n"),
                           "-o", out), "nolabel.txt:2: no label")
        self.assertBad(run("train", "-i", self.write("utf8.txt", b"__label__a caf\xe9\n"), "-o", out),
                       "utf8.txt:1: invalid UTF-8")
        self.assertBad(run("train", "-i", self.write("bin.txt", b"__label__a \x00\x01\x02"), "-o", out),
                       "NUL byte")
        self.assertBad(run("train", "-i", self.write("one.txt", b"__label__a x\n__label__a y\n"),
                           "-o", out), "only one label")
        self.assertBad(run("train", "-i", d, "-o", out), "not a regular file")
        fifo = os.path.join(d, "fifo")
        os.mkfifo(fifo)
        self.assertBad(run("train", "-i", fifo, "-o", out), "not a regular file")
        long_line = self.write("long.txt", b"__label__a " + b"x" * (3 << 20) + b"\n")
        self.assertBad(run("train", "-i", long_line, "-o", out), "longer than")
        sparse = os.path.join(d, "sparse.txt")
        with open(sparse, "wb") as f:
            f.truncate(2 << 30)   # a 2 GB line of NULs, without using the disk
        self.assertBad(run("train", "-i", sparse, "-o", out), "sparse.txt:1")
        self.assertFalse(os.path.exists(out))
        notmodel = self.write("notmodel.sqcl", b"this is not a model")
        self.assertBad(run("test", notmodel, self.test), "notmodel.sqcl")
        self.assertBad(run("predict", d), "is a directory")
        self.assertBad(run("train", "-i", self.train, "-o", out, "--epochs", "zero"), "--epochs")
        self.assertBad(run("train", "-i", self.train, "-o", out, "--arch", "svm"), "--arch")
        self.assertBad(run("frobnicate"), "unknown command")
        self.assertBad(run("test", self.model, self.write("labels.txt", b"__label__other text\n")),
                       "label 'other'")
        self.assertFalse(os.path.exists(out))

    def three_classes(self):
        data = os.path.join(self.dir.name, "three.txt")
        with open(data, "w") as f:
            for i in range(30):
                f.write("__label__%s the film was %s\n" % ("abc"[i % 3], ["great", "awful", "ok"][i % 3]))
        return data

    def huge_model(self, arch):
        """A three-class model of `arch` whose weights are all +-1e30: its
        logits overflow and its softmax is NaN."""
        d = self.dir.name
        small, huge = os.path.join(d, arch + "-3.sqcl"), os.path.join(d, arch + "-huge.sqcl")
        if not os.path.exists(huge):
            r = run("train", "-i", self.three_classes(), "-o", small, "--arch", arch, "--epochs", "1",
                    "--dim", "4", "--hidden", "4", "--maxlen", "8", "--min-count", "1")
            self.assertEqual(r.returncode, 0, r.stderr)
            blow_up(small, huge)
        return huge

    def test_model_with_non_finite_outputs_exits_2(self):
        # Issue 14, item 1: huge finite weights give NaN probabilities;
        # predict used to find no best class and write before its buffer
        # (double free, exit 134).  Every command must exit 2 with a
        # message saying the outputs are not finite.
        data = self.three_classes()
        for arch in ("meanpool", "bilstm-attn", "transformer"):
            huge = self.huge_model(arch)
            commands = [("predict", huge, data), ("predict", huge, "-k", "3", data), ("test", huge, data)]
            if arch != "meanpool":
                commands.append(("explain", huge, data))
            status, _ = library_predict_status(huge)
            self.assertIn(status, (0, -6))   # SEQCLS_OK (NaN let through) or SEQCLS_E_NUMERIC
            for args in commands:
                r = run(*args)
                self.assertBad(r, "not finite")
                self.assertNotIn("(null)", r.stdout)
                if status == -6:   # the library names the first layer that overflowed
                    self.assertRegex(r.stderr, r"layer \d+ \(\w+\)")

    def test_per_step_model_is_refused_with_a_message(self):
        # 1.1: a tagger's results are per token; the commands classify lines
        tagger = os.path.join(self.dir.name, "tagger.sqcl")
        per_step_model(self.model, tagger)
        for args in (("predict", tagger, self.test), ("test", tagger, self.test),
                     ("explain", tagger, self.test)):
            r = run(*args)
            self.assertBad(r, "result per token")
        self.assertEqual(run("info", tagger).returncode, 0)

    def test_crlf_and_byte_order_mark_are_read_as_plain_lines(self):
        # Issue 14, item 11: "\r" stayed in labels (pos and pos\r were two
        # classes) and a UTF-8 byte-order mark was refused as "no label".
        d = self.dir.name
        lines = []
        with open(self.train, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if i % 2:   # both formats, CRLF everywhere
                    label, text = line.split(" ", 1)
                    line = label[len("__label__"):] + "\t" + text
                lines.append(line.rstrip("\n") + "\r\n")
        lines[0] = "\ufeff" + lines[0]
        lines[200] = "\ufeff" + lines[200]        # files joined with cat
        lines[300] = "__label__pos\r\n"           # a label and no text
        path = os.path.join(d, "crlf.txt")
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.writelines(lines)
        model = os.path.join(d, "crlf.sqcl")
        r = run("train", "-i", path, "-o", model, "--epochs", "1", "--dim", "8", "--hidden", "8",
                "--maxlen", "16", "--min-count", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("400 documents, 2 labels", r.stdout)
        r = run("info", model)
        self.assertIn("labels: neg pos\n", r.stdout)
        # test and predict read CRLF too: the same answers as with "\n"
        r = run("test", model, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("N\t400", r.stdout)
        lf = run("predict", self.model, "-k", "2", "-", stdin="a wonderful film\nan awful plot\n")
        crlf = run("predict", self.model, "-k", "2", "-",
                   stdin="\ufeffa wonderful film\r\nan awful plot\r\n")
        self.assertEqual(crlf.returncode, 0, crlf.stderr)
        self.assertEqual(lf.stdout, crlf.stdout)
        r = run("explain", self.model, "-", stdin="\ufeffa wonderful film\r\n")
        self.assertEqual([l.split("\t")[0] for l in r.stdout.splitlines()[1:] if l],
                         ["a", "wonderful", "film"])
        # UTF-16 is named as such, not as NUL bytes
        utf16 = self.write("utf16.txt", "__label__a x\n__label__b y\n".encode("utf-16"))
        self.assertBad(run("train", "-i", utf16, "-o", os.path.join(d, "never.sqcl")), "UTF-16")

    def test_output_file_is_checked_before_training(self):
        # Issue 14, item 11: -o into a missing directory was found only
        # after the training.  Every unwritable -o fails at once.
        d = self.dir.name
        def bad(out, needle):
            r = run("train", "-i", self.train, "-o", out, "--epochs", "50")
            self.assertBad(r, needle)
            self.assertEqual(r.stdout, "")   # nothing read, nothing trained
        bad(os.path.join(d, "missing", "model.sqcl"), "the directory %s does not exist" % os.path.join(d, "missing"))
        bad(os.path.join(d, "missing", "deeper", "m.sqcl"), "does not exist")
        bad(d, "is a directory")
        bad("", "an empty file name")
        bad("-", "give a file name")
        bad("/dev/null", "not a regular file")
        bad(os.path.join(self.train, "m.sqcl"), "Not a directory")
        bad(os.path.join(d, "x" * 300 + ".sqcl"), "File name too long")
        with open(self.train, "rb") as f:
            before = f.read()
        bad(self.train, "is also the input")
        valid = self.write("valid-copy.txt", before)
        self.assertBad(run("train", "-i", self.test, "-o", valid, "--valid", valid), "is also the input")
        with open(self.train, "rb") as f:
            self.assertEqual(f.read(), before)
        with open(valid, "rb") as f:
            self.assertEqual(f.read(), before)
        if os.geteuid() != 0:
            ro = os.path.join(d, "readonly")
            os.mkdir(ro, 0o555)
            bad(os.path.join(ro, "m.sqcl"), "cannot create a file in %s: Permission denied" % ro)
        else:   # root writes anywhere that is writable at all
            bad("/proc/m.sqcl", "cannot create a file in /proc")
        self.assertEqual([f for f in os.listdir(d) if f.startswith(".seqcls-")], [])

    def test_small_files_train(self):
        # Issue 14, item 11: the default 10% validation split refused
        # fewer than 10 documents.
        small = self.write("small.txt", b"__label__pos good film\n__label__neg bad film\n"
                                        b"__label__pos great\n__label__neg awful plot\n")
        out = os.path.join(self.dir.name, "small.sqcl")
        r = run("train", "-i", small, "-o", out, "--epochs", "1", "--min-count", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("note: 4 documents are too few", r.stdout)
        self.assertNotIn("val_accuracy", r.stdout)
        r = run("train", "-i", small, "-o", out, "--epochs", "1", "--valid-split", "0.2")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("holding out one document", r.stdout)
        self.assertIn("val_accuracy", r.stdout)
        two = self.write("two.txt", b"__label__pos good\n__label__neg bad\n")
        r = run("train", "-i", two, "-o", out, "--epochs", "1")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_html_output_is_checked_first_and_failures_give_the_reason(self):
        # Issue 14, item 11: explain --html said "cannot write" without
        # the reason, and only after the work.
        d = self.dir.name
        text = "a wonderful film\n"
        r = run("explain", self.model, "-", "--html", os.path.join(d, "nodir", "h.html"), stdin=text)
        self.assertBad(r, "does not exist")
        self.assertEqual(r.stdout, "")
        self.assertBad(run("explain", self.model, "-", "--html", d, stdin=text), "is a directory")
        self.assertBad(run("explain", self.model, "-", "--html", self.model, stdin=text),
                       "is also the input")
        self.assertBad(run("explain", self.model, self.test, "--html", self.test), "is also the input")
        self.assertBad(run("explain", self.model, "-", "--html", "/dev/full", stdin=text),
                       "/dev/full: cannot write: No space left on device")
        # a failure half-way leaves the previous page and no temporary file
        page = self.write("old.html", b"old page")
        r = run("explain", self.huge_model("bilstm-attn"), "-", "--html", page, stdin=text)
        self.assertEqual(r.returncode, 2, r.stderr)
        with open(page, "rb") as f:
            self.assertEqual(f.read(), b"old page")
        self.assertEqual([f for f in os.listdir(d) if f.startswith(".seqcls-")], [])
        # a new page gets the ordinary permissions, not mkstemp's rw-------
        fresh = os.path.join(d, "fresh.html")
        r = run("explain", self.model, "-", "--html", fresh, stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        umask = os.umask(0)
        os.umask(umask)
        self.assertEqual(stat.S_IMODE(os.stat(fresh).st_mode), 0o666 & ~umask)

    def test_html_temporary_file_is_removed_when_killed(self):
        # explain blocks writing to a pipe nobody reads, with its page
        # half written in a temporary file: SIGTERM must not leave it.
        d = os.path.join(self.dir.name, "killed")
        os.mkdir(d)
        big = self.write("big.txt", b"the plot was superb and the music wonderful\n" * 20000)
        p = subprocess.Popen([SEQCLS, "explain", self.model, big, "--html", os.path.join(d, "h.html")],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                if os.listdir(d):
                    break
                time.sleep(0.05)
            self.assertTrue(os.listdir(d), "no temporary file appeared")
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=60), -signal.SIGTERM)
        finally:
            p.kill()
            p.wait()
            p.stdout.close()
        self.assertEqual(os.listdir(d), [])

    def test_standard_output_write_errors_exit_2(self):
        with open("/dev/full", "w") as full:
            r = subprocess.run([SEQCLS, "predict", self.model, self.test], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr, "seqcls: standard output: cannot write: No space left on device\n")

    def test_out_of_memory_names_what_was_being_done(self):
        # Issue 14, item 12: "out of memory" alone did not say what for.
        # 20000 x 100000 token ids are 8 GB: beyond a 2 GB address space
        many = self.write("many.txt", b"the film was great\n" * 20000)
        def limit():
            resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        r = subprocess.run([SEQCLS, "predict", self.model, "--maxlen", "100000", many],
                           capture_output=True, text=True, timeout=300, preexec_fn=limit, env=env)
        if "AddressSanitizer" in r.stderr:
            self.skipTest("AddressSanitizer cannot run under a memory limit")
        self.assertBad(r, "out of memory for the token ids of 20000 documents of up to 100000 tokens")

    def test_messages_are_one_line_whatever_the_model_holds(self):
        # A model file is not trusted: a newline or an escape sequence in
        # its metadata must not split the message or reach the terminal.
        lib = ctypes.CDLL(os.path.join(ROOT, "lib", "libseqcls.so"))
        vp = ctypes.c_void_p
        lib.seqcls_model_load.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
        lib.seqcls_model_save.argtypes = [vp, ctypes.c_char_p]
        lib.seqcls_model_set_meta.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p]
        lib.seqcls_model_free.argtypes = [vp]
        m = vp()
        self.assertEqual(lib.seqcls_model_load(ctypes.byref(m), self.model.encode()), 0)
        if lib.seqcls_model_set_meta(m, b"maxlen", b"8\nsecond line\x1b[31m") != 0:
            lib.seqcls_model_free(m)
            self.skipTest("the library refuses control characters in metadata")
        odd = os.path.join(self.dir.name, "odd-meta.sqcl")
        self.assertEqual(lib.seqcls_model_save(m, odd.encode()), 0)
        lib.seqcls_model_free(m)
        self.assertBad(run("predict", odd, "-", stdin="a film\n"), "metadata is not a length")
        r = run("info", odd)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("maxlen = 8\\x0asecond line\\x1b[31m\n", r.stdout)
        self.assertBad(run("predict", "model\nwith a newline.sqcl"), "model?with a newline.sqcl")

    def test_bad_command_lines_exit_2_with_one_line(self):
        # Hand-made fuzz of the argument parsers: missing values, huge and
        # negative numbers, empty strings, values that are options.
        d = self.dir.name
        out = os.path.join(d, "cmdline.sqcl")
        train = ["train", "-i", self.train, "-o", out]
        cases = [
            ([], "missing command"),
            ([""], "unknown command ''"),
            (["train"], "-i TRAIN.txt and -o MODEL.sqcl are required"),
            (["train", "-i"], "-i needs a value"),
            (["train", "-i", self.train, "-o"], "-o needs a value"),
            (["train", "-i", "", "-o", out], "an empty file name"),
            (["train", "-i", "-o", out], "-i needs a file name, not '-o'"),
            (["train", "-i", self.train, "-o", "--epochs", "3"], "-o needs a file name, not '--epochs'"),
            (train + ["extra"], "unexpected argument 'extra'"),
            (train + ["--arch"], "--arch needs a value"),
            (train + ["--arch", "--lr"], "--arch needs a value, not '--lr'"),
            (train + ["--arch", ""], "--arch must be"),
            (train + ["--epochs", ""], "--epochs: '' is not an integer"),
            (train + ["--epochs", "-1"], "--epochs: '-1' is not an integer in [1, 100000]"),
            (train + ["--epochs", "99999999999999999999999"], "is not an integer"),
            (train + ["--epochs", "1.5"], "is not an integer"),
            (train + ["--epochs", "5x"], "is not an integer"),
            (train + ["--dim", "0"], "--dim"),
            (train + ["--seed", "-5"], "--seed"),
            (train + ["--threads", "100000"], "--threads"),
            (train + ["--lr", "nan"], "--lr: 'nan' is not a number"),
            (train + ["--lr", "inf"], "--lr: 'inf' is not a number"),
            (train + ["--lr", "1e400"], "--lr"),
            (train + ["--lr", "-0.1"], "--lr"),
            (train + ["--valid-split", "1"], "--valid-split"),
            (train + ["--valid-split", "0.2", "--valid", self.test], "exclude each other"),
            (train + ["--valid"], "--valid needs a value"),
            (train + ["--bogus", "1"], "unknown option '--bogus'"),
            (train + ["--truncate", "middle"], "--truncate must be post or pre, not 'middle'"),
            (train + ["--truncate"], "--truncate needs a value"),
            (train + ["--kernel", "3"], "--kernel is for --arch cnn"),
            (train + ["--arch", "cnn", "--kernel", "0"], "--kernel: '0' is not an integer"),
            (["predict", self.model, "--truncate", "both"], "--truncate must be post or pre"),
            (["info", self.model, "--truncate", "pre"], "unknown option '--truncate'"),
            (["test"], "missing the MODEL and FILE arguments"),
            (["test", self.model], "missing the FILE argument"),
            (["test", self.model, self.test, self.test], "unexpected argument"),
            (["test", self.model, self.test, "-k", "2"], "unknown option '-k'"),
            (["predict"], "missing the MODEL argument"),
            (["predict", ""], "''"),
            (["predict", self.model, "-k"], "-k needs a value"),
            (["predict", self.model, "-k", "0"], "-k: '0' is not an integer"),
            (["predict", self.model, "-k", "-3"], "-k: '-3'"),
            (["predict", self.model, "-k", "99999999999999999999"], "-k"),
            (["predict", self.model, "--maxlen", "0"], "--maxlen"),
            (["predict", self.model, "--maxlen", "100001"], "--maxlen"),
            (["predict", self.model, "--html", "x.html"], "unknown option '--html'"),
            (["predict", self.model, ""], "an empty file name"),
            (["explain", self.model, "--html"], "--html needs a value"),
            (["explain", self.model, "--html", "--maxlen", "5"], "--html needs a file name, not '--maxlen'"),
            (["explain", self.model, "-", "--html", "-"], "give a file name"),
            (["info"], "missing the MODEL argument"),
            (["info", self.model, "--maxlen", "5"], "unknown option '--maxlen'"),
            (["info", self.model, self.test], "unexpected argument"),
        ]
        before = set(os.listdir(d))
        for args, needle in cases:
            with self.subTest(args=args):
                self.assertBad(run(*args, stdin="a film\n", cwd=d), needle)
        self.assertEqual(set(os.listdir(d)), before)   # no file "--epochs" etc.
        for args in (["--help"], ["train", "--help"], ["predict", "-h"]):
            r = run(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("usage: seqcls"), r.stdout)

    # ---- issue 15, item 1: which epoch was kept, early stopping ----

    def noise_files(self):
        """Random labels: the validation loss soon rises, so the best epoch
        is an early one."""
        paths = []
        for name, n, seed in (("noise-train.txt", 200, 3), ("noise-valid.txt", 60, 4)):
            rng = random.Random(seed)
            path = os.path.join(self.dir.name, name)
            with open(path, "w", encoding="utf-8") as f:
                for _ in range(n):
                    f.write("__label__%s %s\n" % (rng.choice("ab"), " ".join(
                        rng.choice(FILLER + GOOD + BAD) for _ in range(6))))
            paths.append(path)
        return paths

    @staticmethod
    def epoch_figures(out):
        """[(epoch, val_loss text)] of a training log, and the last line's
        val_loss, val_accuracy and kept epoch."""
        rows = [(int(m.group(1)), m.group(2)) for m in
                re.finditer(r"^epoch (\d+)/\d+ .* - val_loss: ([\d.]+) - val_accuracy: [\d.]+$", out, re.M)]
        last = out.splitlines()[-1]
        m = re.match(r"kept model \(epoch (\d+)\), without dropout: loss: [\d.]+ - accuracy: [\d.]+ - "
                     r"val_loss: ([\d.]+) - val_accuracy: ([\d.]+)$", last)
        return rows, m

    def test_training_says_which_epoch_it_kept(self):
        train, valid = self.noise_files()
        out = os.path.join(self.dir.name, "kept.sqcl")
        common = ["-i", train, "-o", out, "--valid", valid, "--dim", "16", "--hidden", "16",
                  "--maxlen", "16", "--min-count", "1", "--lr", "0.02", "--threads", "1"]
        r = run("train", *common, "--epochs", "30", "--patience", "3")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows, last = self.epoch_figures(r.stdout)
        self.assertIsNotNone(last, r.stdout)
        losses = [float(v) for _, v in rows]
        best = losses.index(min(losses)) + 1
        # early stopping: three epochs without a lower val_loss, then stop
        self.assertIn("early stopping: val_loss has not improved for 3 epochs (--patience 3)", r.stdout)
        self.assertEqual(len(rows), best + 3)
        self.assertLess(len(rows), 30)
        self.assertIn("kept epoch %d/30: the lowest val_loss (%s)" % (best, rows[best - 1][1]), r.stdout)
        # the last line is the kept model's, not the last epoch's
        self.assertEqual(int(last.group(1)), best)
        self.assertEqual(last.group(2), rows[best - 1][1])
        # and it is the model saved: test on the validation file agrees
        t = run("test", out, valid)
        loss = float(re.search(r"^loss\t([\d.]+)$", t.stdout, re.M).group(1))
        self.assertAlmostEqual(loss, float(last.group(2)), delta=2e-4)
        self.assertIn("accuracy\t%s\n" % last.group(3), t.stdout)

        # --restore-best no: the last epoch, and the log says so
        r = run("train", *common, "--epochs", "6", "--restore-best", "no")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows, last = self.epoch_figures(r.stdout)
        self.assertEqual(len(rows), 6)
        self.assertIn("kept epoch 6/6, the last (--restore-best no)", r.stdout)
        self.assertEqual((int(last.group(1)), last.group(2)), (6, rows[-1][1]))
        t = run("test", out, valid)
        loss = float(re.search(r"^loss\t([\d.]+)$", t.stdout, re.M).group(1))
        self.assertAlmostEqual(loss, float(rows[-1][1]), delta=2e-4)

        # no validation data: the last epoch; --patience is said to do nothing
        r = run("train", "-i", train, "-o", out, "--valid-split", "0", "--epochs", "2",
                "--patience", "1", "--dim", "4", "--hidden", "4", "--maxlen", "8")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("--patience 1 needs validation data", r.stdout)
        self.assertIn("kept epoch 2/2, the last: without validation data", r.stdout)
        self.assertRegex(r.stdout.splitlines()[-1],
                         r"^kept model \(epoch 2\), without dropout: loss: [\d.]+ - accuracy: [\d.]+$")
        # the options and their defaults are in the help; bad values refused
        entries = self.help_entries(run("train", "--help").stdout)
        self.assertEqual(entries["--patience"][1], "0")
        self.assertEqual(entries["--restore-best"][1], "yes")
        self.assertBad(run("train", *common, "--restore-best", "maybe"),
                       "--restore-best must be yes or no, not 'maybe'")
        self.assertBad(run("train", *common, "--patience", "-1"), "--patience")

    # ---- issue 15, item 2: a stratified, seeded validation split ----

    def sorted_file(self, name, neg, pos):
        """neg documents of label neg, then pos of label pos: a file sorted
        by label, where the last rows are all of one label."""
        path = os.path.join(self.dir.name, name)
        rng = random.Random(len(name))
        with open(path, "w", encoding="utf-8") as f:
            for label, count, words in (("neg", neg, BAD), ("pos", pos, GOOD)):
                for _ in range(count):
                    text = [rng.choice(FILLER) for _ in range(rng.randint(3, 8))]
                    text.insert(rng.randrange(len(text) + 1), rng.choice(words))
                    f.write("__label__%s %s\n" % (label, " ".join(text)))
        return path

    def test_valid_split_is_stratified_and_seeded(self):
        out = os.path.join(self.dir.name, "split.sqcl")
        common = ["-o", out, "--epochs", "1", "--dim", "4", "--hidden", "4", "--maxlen", "8",
                  "--threads", "1"]
        balanced = self.sorted_file("sorted.txt", 200, 200)
        r = run("train", "-i", balanced, *common)
        self.assertEqual(r.returncode, 0, r.stderr)
        # the last 40 rows are all "pos": a split of the last rows would be one label
        self.assertIn("validation: 40 of 400 documents held out, stratified by label "
                      "(--valid-split 0.1, shuffled with --seed 1): 20 neg, 20 pos\n", r.stdout)
        skewed = self.sorted_file("skewed.txt", 300, 100)
        first = run("train", "-i", skewed, "--valid-split", "0.25", *common)
        self.assertIn("100 of 400 documents held out", first.stdout)
        self.assertIn(": 75 neg, 25 pos\n", first.stdout)
        # remainders: 0.1 of 13 and of 7 is 1.3 and 0.7; floor(2.0) = 2 in all
        odd = self.sorted_file("odd.txt", 13, 7)
        r = run("train", "-i", odd, *common)
        self.assertIn("validation: 2 of 20 documents held out", r.stdout)
        self.assertIn(": 1 neg, 1 pos\n", r.stdout)
        # the same seed gives the same split (and the same run); the help says so
        again = run("train", "-i", skewed, "--valid-split", "0.25", *common)
        strip = lambda s: re.sub(r"\d+\.\ds \d+ms/step|\(\d+\.\ds\)", "", s)
        self.assertEqual(strip(again.stdout), strip(first.stdout))
        help_text = run("train", "--help").stdout
        self.assertIn("stratified", help_text)
        self.assertIn("seeded with --seed", help_text)
        # a label never loses its last training document
        rare = self.write("rare.txt", b"".join(b"__label__a good film %d\n" % i for i in range(30)) +
                          b"__label__b awful\n")
        r = run("train", "-i", rare, *common)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("3 of 31 documents held out", r.stdout)
        self.assertIn(": 3 a, 0 b\n", r.stdout)

    # ---- issue 15, item 7: explanations that do not mislead; --json ----

    ODD = ('Tab\there, "quotes" \\ back <b>bold</b> & amp; caf\u00e9 \U0001F600 '
           'esc\x1bape del\x7f c1\x85 sep\u2028arator  spaced  out!')

    def test_predict_json_one_object_per_line(self):
        text = "a wonderful film\n\n__label__neg an awful plot\npos\tan awful plot\n"
        r = run("predict", self.model, "--json", "-k", "2", "-", stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([o["line"] for o in rows], [1, 2, 3, 4])
        self.assertEqual(rows[0]["labels"][0], "pos")
        self.assertEqual(sorted(rows[0]["labels"]), ["neg", "pos"])
        self.assertAlmostEqual(sum(rows[0]["probabilities"]), 1.0, places=4)
        self.assertGreaterEqual(rows[0]["probabilities"][0], rows[0]["probabilities"][1])
        self.assertNotIn("true_label", rows[0])
        self.assertEqual(rows[1], {"line": 2, "labels": [], "probabilities": []})
        self.assertEqual((rows[2]["true_label"], rows[2]["correct"]), ("neg", True))
        self.assertEqual((rows[3]["true_label"], rows[3]["correct"]), ("pos", False))
        # the same answers as the plain output
        plain = run("predict", self.model, "-k", "2", "-", stdin=text).stdout.splitlines()
        first = plain[0].split()
        self.assertEqual(first[0], "__label__" + rows[0]["labels"][0])
        self.assertAlmostEqual(float(first[1]), rows[0]["probabilities"][0], places=4)
        # odd characters in the input do not break the JSON
        r = run("predict", self.model, "--json", "-", stdin=self.ODD + "\n")
        self.assertEqual(json.loads(r.stdout)["line"], 1)
        h = run("predict", "--help").stdout
        self.assertIn("--json", h)
        self.assertIn('"probabilities"', h)
        self.assertIn('"true_label"', h)

    def test_explain_json_gives_tokens_spans_and_weights(self):
        text = "The plot was superb!\n\n" + self.ODD + "\n"
        r = run("explain", self.model, "--json", "-", stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [json.loads(l) for l in r.stdout.splitlines()]
        self.assertEqual([o["line"] for o in rows], [1, 2, 3])
        self.assertEqual(rows[1], {"line": 2, "labels": [], "probabilities": [], "text": "",
                                   "tokens": [], "cut": False})
        for o, original in ((rows[0], "The plot was superb!"), (rows[2], self.ODD)):
            self.assertEqual(o["text"], original)
            raw = o["text"].encode("utf-8")
            n = len(o["tokens"])
            self.assertGreater(n, 3)
            for tok in o["tokens"]:
                # spans are UTF-8 byte offsets into the text
                self.assertEqual(raw[tok["start"]:tok["end"]].decode("utf-8"), tok["token"])
                self.assertAlmostEqual(tok["relative"], tok["weight"] * n, delta=1e-3 * max(1, tok["relative"]))
            self.assertAlmostEqual(sum(t["weight"] for t in o["tokens"]), 1.0, places=3)
            self.assertFalse(o["cut"])
        self.assertIn("superb", [t["token"] for t in rows[0]["tokens"]])
        # the JSON is on one line each, control characters escaped
        for line in r.stdout.splitlines():
            self.assertFalse(any(ord(c) < 0x20 or c in "\x7f\x85\u2028" for c in line), line)
        # a text longer than --maxlen: the tokens read, and "cut"
        r = run("explain", self.model, "--json", "--maxlen", "3", "-", stdin="one two three four five\n")
        o = json.loads(r.stdout)
        self.assertEqual([t["token"] for t in o["tokens"]], ["one", "two", "three"])
        self.assertTrue(o["cut"])
        h = run("explain", "--help").stdout
        for field in ('"tokens"', '"start"', '"weight"', '"relative"', '"cut"', "byte offsets"):
            self.assertIn(field, h)

    def page_docs(self, page):
        """[(head, text, [(alpha, title, token)])] of an explain --html page."""
        out = []
        for m in re.finditer(r'<div class="doc"><p class="head">(.*?)</p>\n<p class="text">(.*?)</p>',
                             page, re.S):
            spans = [(float(a), t, htmllib.unescape(w)) for a, t, w in re.findall(
                r'<span class="t" style="background:rgba\(220,30,30,([\d.]+)\)" title="([^"]*)">(.*?)</span>',
                m.group(2), re.S)]
            text = htmllib.unescape(re.sub(r"<[^>]*>", "", m.group(2)))
            out.append((m.group(1), text, spans))
        return out

    def test_explain_html_shades_relative_to_uniform(self):
        d = self.dir.name
        page_path = os.path.join(d, "relative.html")
        text = "__label__neg The plot was superb <b>indeed</b>!  Yes, (really).\n\n" \
               "neg\tan awful plot\n" + "the film " * 20 + "\n"
        r = run("explain", self.model, "-", "--html", page_path, stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = [json.loads(l) for l in run("explain", self.model, "--json", "-", stdin=text).stdout.splitlines()]
        j = [o for o in j if o["tokens"]]
        with open(page_path, encoding="utf-8") as f:
            page = f.read()
        # a legend that says what the shades mean
        self.assertIn("relative to uniform", page)
        self.assertIn("16&times;", page)
        docs = self.page_docs(page)
        self.assertEqual(len(docs), 3)   # the blank line has no block
        for (head, shown, spans), o in zip(docs, j):
            # the original text, punctuation and spacing included
            self.assertEqual(shown, o["text"])
            n = len(o["tokens"])
            self.assertEqual([w for _, _, w in spans], [t["token"] for t in o["tokens"]])
            for (alpha, title, _), tok in zip(spans, o["tokens"]):
                rel = tok["weight"] * n
                want = 0 if rel <= 1 else min(1.0, math.log2(rel) / 4)
                self.assertAlmostEqual(alpha, want, delta=0.002)
                self.assertIn("weight %.4f" % tok["weight"], title)
        # the true label, and whether the prediction was right
        self.assertIn("true label <b>neg</b>", docs[0][0])
        self.assertIn("wrong", docs[0][0])
        self.assertIn("true label <b>neg</b>", docs[1][0])
        self.assertIn("right", docs[1][0])
        self.assertNotIn("true label", docs[2][0])
        # near-uniform attention (one repeated phrase) stays pale: nothing is
        # shaded as if it mattered alone, although one token has the maximum
        self.assertLess(max(a for a, _, _ in docs[2][2]), 0.5)

    def test_explain_html_escapes_everything(self):
        d = self.dir.name
        data = os.path.join(d, "markup.txt")
        with open(data, "w", encoding="utf-8") as f:
            for i in range(40):
                f.write("__label__%s the film was %s <script>x</script>\n" %
                        (["<i>x", "a&b\"c"][i % 2], ["great", "awful"][i % 2]))
        model = os.path.join(d, "markup.sqcl")
        r = run("train", "-i", data, "-o", model, "--epochs", "1", "--dim", "4", "--hidden", "4",
                "--maxlen", "16", "--min-count", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        page_path = os.path.join(d, "markup.html")
        r = run("explain", model, "-", "--html", page_path,
                stdin="__label__<i>x great <script>alert(1)</script> \"q\" 'a' \x1b[31m\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(page_path, encoding="utf-8") as f:
            page = f.read()
        self.assertNotIn("<script", page)
        self.assertNotIn("<i>x", page)
        self.assertNotIn("\x1b", page)
        self.assertIn("&lt;script&gt;", page)
        self.assertIn("&lt;i&gt;x", page)
        self.assertIn("&#x241b;", page)            # ESC as its control picture
        self.assertIn("true label <b>&lt;i&gt;x</b>", page)
        self.assertRegex(page, r"predicted <b>(&lt;i&gt;x|a&amp;b&quot;c)</b>")
        r = run("explain", model, "--json", "-", stdin="__label__a&b\"c great\n")
        self.assertEqual(json.loads(r.stdout)["true_label"], 'a&b"c')

    # ---- review of issue 15: predict answers line by line ----

    def test_predict_output_lines_match_input_lines(self):
        text = "\na wonderful film\n\n  \t \nan awful plot\n\n"
        r = run("predict", self.model, "-", stdin=text)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = r.stdout.split("\n")
        self.assertEqual(out[-1], "")                     # ends with a newline
        lines = out[:-1]
        self.assertEqual(len(lines), len(text.split("\n")) - 1)
        self.assertEqual([bool(l) for l in lines], [False, True, False, False, True, False])
        self.assertTrue(lines[1].startswith("__label__pos "), lines)
        self.assertTrue(lines[4].startswith("__label__neg "), lines)
        # without a final newline, and -k: still one line per line
        r = run("predict", self.model, "-k", "2", "-", stdin="\n\na wonderful film")
        self.assertEqual(r.stdout.split("\n")[:3], ["", "", r.stdout.split("\n")[2]])
        self.assertEqual(len(r.stdout.split("\n")[2].split()), 4)
        # blank lines only: as many empty answers; no lines at all: an error
        r = run("predict", self.model, "-", stdin="\n \n\r\n")
        self.assertEqual((r.returncode, r.stdout), (0, "\n\n\n"))
        self.assertBad(run("predict", self.model, "-", stdin=""), "no documents")
        # the help says what a blank line gets
        self.assertIn("a blank input line", run("predict", "--help").stdout)

    def test_predict_reads_a_labelled_line_without_its_label(self):
        plain = run("predict", self.model, "-k", "2", "-", stdin="a wonderful film\n").stdout
        for line in ("__label__neg a wonderful film\n", "pos\ta wonderful film\n",
                     "neg \ta wonderful film\n"):
            self.assertEqual(run("predict", self.model, "-k", "2", "-", stdin=line).stdout, plain)
        # a tab after a word that is not a label is text
        other = run("predict", self.model, "-k", "2", "-", stdin="wonderful\ta film\n").stdout
        self.assertEqual(other, run("predict", self.model, "-k", "2", "-",
                                    stdin="wonderful a film\n").stdout)

    # ---- review of issue 15: labels the output can carry ----

    def test_labels_with_spaces_are_refused_at_training(self):
        out = os.path.join(self.dir.name, "spaces.sqcl")
        data = self.write("spaces.txt", b"spam\tbuy now\n\nnot spam\thello there\n")
        r = run("train", "-i", data, "-o", out)
        self.assertBad(r, "spaces.txt:3: label 'not spam' contains a space")
        self.assertIn("name it not_spam", r.stderr)
        self.assertFalse(os.path.exists(out))
        data = self.write("control.txt", b"__label__a\x1bb x\n__label__c y\n")
        self.assertBad(run("train", "-i", data, "-o", out), "control.txt:1: label 'a?b' contains")
        self.assertIn("A label cannot\ncontain a space", run("train", "--help").stdout)

    def test_model_labels_with_spaces_need_json(self):
        # a model made through the library may have any UTF-8 label: the
        # plain output would be ambiguous, --json is not
        lib = ctypes.CDLL(os.path.join(ROOT, "lib", "libseqcls.so"))
        vp = ctypes.c_void_p
        lib.seqcls_model_load.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
        lib.seqcls_model_save.argtypes = [vp, ctypes.c_char_p]
        lib.seqcls_model_set_labels.argtypes = [vp, ctypes.c_int, ctypes.POINTER(ctypes.c_char_p)]
        lib.seqcls_model_free.argtypes = [vp]
        m = vp()
        self.assertEqual(lib.seqcls_model_load(ctypes.byref(m), self.model.encode()), 0)
        names = (ctypes.c_char_p * 2)(b"neg", b"not spam")
        self.assertEqual(lib.seqcls_model_set_labels(m, 2, names), 0)
        spaced = os.path.join(self.dir.name, "spaced-labels.sqcl")
        self.assertEqual(lib.seqcls_model_save(m, spaced.encode()), 0)
        lib.seqcls_model_free(m)
        for cmd in ("predict", "explain"):
            self.assertBad(run(cmd, spaced, "-", stdin="a wonderful film\n"),
                           "label 'not spam' contains white space")
            r = run(cmd, spaced, "--json", "-", stdin="a wonderful film\n")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["labels"], ["not spam"])

    # ---- issue 15, item 6: each command's own help, with every default ----

    @staticmethod
    def help_entries(text):
        """{option: (help text, default)} of a command's help: an entry
        starts with "  -" and goes on with the lines indented deeper."""
        entries, name = {}, None
        for line in text.splitlines():
            m = re.match(r"  (?:(-\w), )?(--?[\w-]+)(?: (\S+))?(\s+(.*))?$", line)
            if m and line.startswith("  -"):
                name = m.group(2)
                entries[name] = m.group(5) or ""
            elif name and line.startswith("    "):
                entries[name] += " " + line.strip()
            else:
                name = None
        return {k: (v, (re.findall(r"\[([^\]]*)\]$", v) or [None])[-1]) for k, v in entries.items()}

    def test_each_command_prints_its_own_help(self):
        expected = {
            "train": ["--input", "--output", "--arch", "--epochs", "--lr", "--dim", "--hidden",
                      "--maxlen", "--batch", "--valid", "--valid-split", "--min-count", "--vocab",
                      "--seed", "--threads", "--patience", "--restore-best"],
            "test": ["--maxlen"],
            "predict": ["-k", "--maxlen", "--json"],
            "explain": ["-k", "--maxlen", "--html", "--json"],
            "info": [],
        }
        for cmd, options in expected.items():
            with self.subTest(cmd=cmd):
                r = run(cmd, "--help")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, "")
                self.assertTrue(r.stdout.startswith("usage: seqcls %s " % cmd), r.stdout)
                self.assertEqual(run(cmd, "-h").stdout, r.stdout)
                self.assertEqual(run("help", cmd).stdout, r.stdout)
                # --help wins over anything else on the line, even a bad value
                self.assertEqual(run(cmd, "--maxlen", "0", "--help").stdout, r.stdout)
                entries = self.help_entries(r.stdout)
                self.assertIn("--help", entries)
                for opt in options:
                    self.assertIn(opt, entries)
                    self.assertIsNotNone(entries[opt][1], "%s %s has no default" % (cmd, opt))
                self.assertLessEqual(max(len(l) for l in r.stdout.splitlines()), 100)
        self.assertIn("-i, --input FILE", run("train", "--help").stdout)
        self.assertBad(run("help", "frobnicate"), "unknown command 'frobnicate'")
        # the general usage lists every command and points to their help
        r = run("--help")
        for cmd in expected:
            self.assertIn("seqcls %s " % cmd, r.stdout)
        self.assertIn("seqcls <command> --help", r.stdout)

    def test_help_defaults_are_what_the_commands_do(self):
        train = self.help_entries(run("train", "--help").stdout)
        defaults = {k: v[1] for k, v in train.items()}
        self.assertEqual(defaults["--arch"], "bilstm-attn")
        self.assertEqual(defaults["--input"], "required")
        # train without --epochs runs the help's number of epochs
        small = os.path.join(self.dir.name, "defaults.txt")
        make_file(small, 60, 7)
        out = os.path.join(self.dir.name, "defaults.sqcl")
        r = run("train", "-i", small, "-o", out, "--dim", "4", "--hidden", "4", "--maxlen", "8")
        self.assertEqual(r.returncode, 0, r.stderr)
        epochs = int(defaults["--epochs"])
        self.assertIn("epoch %d/%d " % (epochs, epochs), r.stdout)
        self.assertNotIn("epoch %d/" % (epochs + 1), r.stdout)
        self.assertIn("architecture %s" % defaults["--arch"], r.stdout)
        # the model keeps --maxlen as given, and the default when not given
        r = run("train", "-i", small, "-o", out, "--epochs", "1", "--arch", "meanpool", "--dim", "4")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("maxlen = %s\n" % defaults["--maxlen"], run("info", out).stdout)
        # predict's -k default: that many labels a line
        k = int(self.help_entries(run("predict", "--help").stdout)["-k"][1])
        r = run("predict", self.model, "-", stdin="a wonderful film\n")
        self.assertEqual(r.stdout.count("__label__"), k)

    def test_version_names_the_command_line_and_the_library(self):
        with open(os.path.join(ROOT, "include", "seqcls.h"), encoding="utf-8") as f:
            header = re.search(r'#define SEQCLS_VERSION_STRING "([^"]+)"', f.read()).group(1)
        lib = ctypes.CDLL(os.path.join(ROOT, "lib", "libseqcls.so"))
        lib.seqcls_version_string.restype = ctypes.c_char_p
        running = lib.seqcls_version_string().decode()
        for flag in ("--version", "-V"):
            r = run(flag)
            self.assertEqual(r.returncode, 0, r.stderr)
            first, second = r.stdout.splitlines()[:2]
            self.assertTrue(first.startswith("seqcls %s " % header), first)
            self.assertTrue(second.startswith("libseqcls %s " % running), second)
            self.assertIn("libseqcls.so", second)   # which file it runs with


if __name__ == "__main__":
    unittest.main()
