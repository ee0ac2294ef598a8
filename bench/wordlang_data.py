#!/usr/bin/env python3
"""Words labelled by language, from the Debian word lists under
/usr/share/dict (packages wamerican, wngerman, wfrench, witalian, wspanish,
wportuguese, wdutch, wswedish), for bench/fasttext_compare.sh.

Each list is read (Swedish's is ISO-8859-1, the others UTF-8), lower-cased;
only words of 3 or more letters (str.isalpha: no apostrophe, hyphen or
digit, so that fastText's whitespace tokeniser and seqcls's agree: one word
a line, one token) are kept, each once; a word found in two or more lists
(e.g. "radio") is dropped from all of them, so every word has one true
language.  PER_LANG words of each language are drawn with a fixed seed and
shuffled; the first 80% are the training file, the rest the test file, in
fastText's format ("__label__de wort").  Every test word is absent from the
training file (words are unique), so only a word's characters can tell its
language: a task for character n-grams.

    wordlang_data.py OUT_DIR [PER_LANG]      (default 15000; seed 1)
"""
import os
import random
import sys
import unicodedata

LISTS = [("en", "american-english", "utf-8"), ("de", "ngerman", "utf-8"),
         ("fr", "french", "utf-8"), ("it", "italian", "utf-8"), ("es", "spanish", "utf-8"),
         ("pt", "portuguese", "utf-8"), ("nl", "dutch", "utf-8"),
         ("sv", "swedish", "iso-8859-1")]


def words(path, encoding):
    out = set()
    with open(path, encoding=encoding) as f:
        for line in f:
            w = unicodedata.normalize("NFC", line.strip().lower())
            if len(w) >= 3 and w.isalpha():
                out.add(w)
    return out


def main():
    out_dir = sys.argv[1]
    per_lang = int(sys.argv[2]) if len(sys.argv) > 2 else 15000
    sets = {lang: words(os.path.join("/usr/share/dict", name), enc) for lang, name, enc in LISTS}
    seen = {}
    for lang, ws in sets.items():
        for w in ws:
            seen[w] = seen.get(w, 0) + 1
    rng = random.Random(1)
    rows = []
    for lang, _, _ in LISTS:
        unique = sorted(w for w in sets[lang] if seen[w] == 1)
        if len(unique) < per_lang:
            sys.exit("%s: only %d unique words" % (lang, len(unique)))
        rows += [(lang, w) for w in rng.sample(unique, per_lang)]
    rng.shuffle(rows)
    cut = len(rows) * 8 // 10
    os.makedirs(out_dir, exist_ok=True)
    for name, part in (("train.txt", rows[:cut]), ("test.txt", rows[cut:])):
        with open(os.path.join(out_dir, name), "w", encoding="utf-8") as f:
            f.writelines("__label__%s %s\n" % r for r in part)
    print("wordlang: %d languages x %d words: %d train, %d test (%s)"
          % (len(LISTS), per_lang, cut, len(rows) - cut, out_dir))


if __name__ == "__main__":
    main()
