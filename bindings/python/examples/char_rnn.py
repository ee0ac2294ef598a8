"""A character-level language model that writes text, from Python: the
same as examples/char_rnn.c (a stacked LSTM predicting each next character
of /usr/share/common-licenses/GPL-3, which every Debian system has), then
generation one character at a time with a stream and temperature sampling.

    python3 char_rnn.py [--quick] [--text FILE] [--epochs N] [--hidden H] [--chars N]

--quick: a small model on the first 12000 characters, a few seconds; exits
non-zero unless the held-out loss falls below 0.75 x the entropy of the
character frequencies (run by `make check`).
"""
import argparse
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import seqcls  # noqa: E402


def generate(model, alphabet, id_of, prompt, chars, temperature, seed):
    """`chars` characters after `prompt`, one stream push per character."""
    draw = seqcls.Sampler(seed)
    out = [prompt]
    with model.stream() as s:
        ids = np.array([id_of.get(c, id_of[ord(" ")]) for c in prompt.encode("latin-1")], np.int32)
        probs = s.push(ids)[-1]                 # per step: one row per character pushed
        for _ in range(chars):
            c = draw(probs, temperature)
            out.append(chr(alphabet[c]))
            probs = s.push(np.array([c], np.int32))[0]
    return "".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--text", default="/usr/share/common-licenses/GPL-3")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--seqlen", type=int, default=100)
    ap.add_argument("--chars", type=int, default=600)
    ap.add_argument("--prompt", default="This License ")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    lr, batch = 0.005, 32
    text = open(a.text, "rb").read()
    if a.quick:
        text, a.epochs, a.hidden, a.seqlen, a.chars, lr, batch = text[:12000], 12, 64, 50, 200, \
            0.01, 16
    alphabet = sorted(set(text))
    id_of = {c: i for i, c in enumerate(alphabet)}
    freq = np.bincount(np.frombuffer(text, np.uint8))
    p = freq[freq > 0] / len(text)
    entropy = float(-(p * np.log(p)).sum())
    codes = np.array([id_of[c] for c in text], np.int32)
    L = a.seqlen
    starts = np.arange(0, len(codes) - L - 1 + 1, L // 2)
    x = np.stack([codes[s:s + L] for s in starts])          # [N, L]
    y = np.stack([codes[s + 1:s + L + 1] for s in starts])  # [N, L]: the next characters
    print("text %s: %d characters, %d distinct; entropy of their frequencies %.3f nats/char"
          % (a.text, len(text), len(alphabet), entropy))

    m = seqcls.Model(seed=a.seed)
    m.add_embedding(len(alphabet), 32, padding_idx=None)
    m.add_lstm(a.hidden, return_sequences=True)
    m.add_lstm(a.hidden, return_sequences=True)
    m.add_output(len(alphabet))          # after a sequence: logits at every step
    t0 = time.time()

    def on_epoch(epoch, loss, acc, vloss, vacc):
        print("  epoch %2d  loss %.3f nats/char, accuracy %.3f; held out %.3f, accuracy %.3f  "
              "%5.1f s" % (epoch + 1, loss, acc, vloss, vacc, time.time() - t0), flush=True)

    m.fit(x, y, epochs=a.epochs, batch_size=batch, validation_split=0.1, seed=a.seed, patience=4,
          optimizer=seqcls.Adam(lr, clipnorm=5.0), on_epoch=on_epoch)
    nval = int(math.floor(len(x) * 0.1))
    held = m.evaluate(x[-nval:], y[-nval:])
    print("held-out loss %.3f nats/char (%.0f%% of the frequency entropy), accuracy %.3f"
          % (held.loss, 100 * held.loss / entropy, held.accuracy))
    for temperature in (0.5, 1.0):
        print("--- temperature %.2f ---" % temperature)
        print(generate(m, alphabet, id_of, a.prompt, a.chars, temperature, a.seed))
    if a.quick:
        # the one check of the quick run, in the form make check counts
        ok = held.loss < 0.75 * entropy
        if not ok:
            print("char_rnn.py: the held-out loss %.3f did not fall below 0.75 x %.3f"
                  % (held.loss, entropy), file=sys.stderr)
        print("char_rnn.py --quick: %d passed, %d failed" % (ok, not ok))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
