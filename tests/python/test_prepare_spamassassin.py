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


if __name__ == "__main__":
    unittest.main()
