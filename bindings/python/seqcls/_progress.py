"""Keras-like progress of Model.fit (verbose=1: a bar per epoch, verbose=2:
one line per epoch), written to sys.stdout as it is when fit runs."""

import math
import sys
import time

_WIDTH = 30        # characters of the bar, as Keras
_INTERVAL = 0.05   # seconds between redraws of the bar


def _seconds(t):
    return "%.0fs" % t if t >= 10 else "%.1fs" % t if t >= 1 else "%.2fs" % t


def _per_step(t, steps):
    per = t / max(steps, 1)
    return "%.0fms/step" % (per * 1e3) if per >= 1e-3 else "%.0fus/step" % (per * 1e6)


def _figures(loss, acc, vloss=math.nan, vacc=math.nan):
    out = " - loss: %.4f - accuracy: %.4f" % (loss, acc)
    if not math.isnan(vloss):
        out += " - val_loss: %.4f - val_accuracy: %.4f" % (vloss, vacc)
    return out


class Progress:
    """The display of one fit call: on_batch and on_epoch are called from
    fit's callbacks; close() ends a line left open (training stopped by an
    exception)."""

    def __init__(self, verbose, epochs, stream=None):
        if verbose == "auto":
            verbose = 1
        if isinstance(verbose, bool) or verbose not in (0, 1, 2):
            raise ValueError("seqcls: verbose must be 0 (silent), 1 (a progress bar), 2 "
                             "(one line per epoch) or \"auto\" (1), not %r" % (verbose,))
        self.verbose = verbose
        self.epochs = epochs
        self.out = stream if stream is not None else sys.stdout
        try:
            self.tty = self.out.isatty()
        except (AttributeError, ValueError):
            self.tty = False
        self.start = time.monotonic()    # of the current epoch
        self.drawn = 0.0
        self.drawn_len = 0
        self.open_line = False
        self.loss_sum = self.acc_sum = 0.0
        self.seen = self.batches = 0

    def _write(self, s):
        self.out.write(s)
        self.out.flush()

    def on_batch(self, epoch, batch, batches, loss, acc):
        if batch == 0:
            self.loss_sum = self.acc_sum = 0.0
            self.seen = 0
            if self.verbose == 1:
                self._write("Epoch %d/%d\n" % (epoch + 1, self.epochs))
        self.batches = batches
        self.seen += 1
        self.loss_sum += loss
        self.acc_sum += acc
        if self.verbose != 1 or not self.tty:
            return
        now = time.monotonic()
        if 0 < batch < batches - 1 and now - self.drawn < _INTERVAL:
            return
        self.drawn = now
        done = (batch + 1) * _WIDTH // batches
        bar = "=" * done + (">" if done < _WIDTH else "") + "." * (_WIDTH - done - 1)
        eta = (now - self.start) / (batch + 1) * (batches - batch - 1)
        digits = len(str(batches))
        self._redraw("%*d/%d [%s] - ETA: %s%s" % (
            digits, batch + 1, batches, bar, _seconds(eta),
            _figures(self.loss_sum / self.seen, self.acc_sum / self.seen)))

    def _redraw(self, line, end=""):
        """Overwrite the bar's line (padded over a longer previous one)."""
        pad = max(self.drawn_len - len(line), 0) if self.open_line else 0
        self._write("\r" + line + " " * pad + end)
        self.drawn_len = len(line)
        self.open_line = not end

    def on_epoch(self, epoch, loss, acc, vloss, vacc):
        elapsed = time.monotonic() - self.start
        steps = self.seen or self.batches
        if self.verbose == 1:
            if self.seen == 0:     # no batch ran (nothing to train on)
                self._write("Epoch %d/%d\n" % (epoch + 1, self.epochs))
            line = "%d/%d [%s] - %s %s%s" % (
                steps, self.batches or steps, "=" * _WIDTH, _seconds(elapsed),
                _per_step(elapsed, steps), _figures(loss, acc, vloss, vacc))
            if self.tty:
                self._redraw(line, "\n")
            else:
                self._write(line + "\n")
        elif self.verbose == 2:
            self._write("Epoch %d/%d - %s - %s%s\n" % (
                epoch + 1, self.epochs, _seconds(elapsed), _per_step(elapsed, steps),
                _figures(loss, acc, vloss, vacc)))
        self.open_line = False
        self.start = time.monotonic()

    def kept(self, best, last, val_loss):
        """Say that fit ended with the weights of epoch `best`, not `last`."""
        if self.verbose and best is not None and best != last:
            self._write("Kept the weights of epoch %d (the lowest val_loss, %.4f), not those "
                        "of the last epoch, %d (restore_best=True)\n"
                        % (best + 1, val_loss, last + 1))

    def close(self):
        if self.open_line:
            self._write("\n")
            self.open_line = False
