"""Keras-layout .npz (random weights, Keras' kernels [in, units] and GRU gate
order [z | r | h]) -> tools/convert_keras.py -> seqcls file -> Model.load:
outputs equal a numpy implementation of the Keras equations to 1e-5.

No TensorFlow here: the reference below is written from Keras' own cell
code (LSTMCell, GRUCell with reset_after True and False, Bidirectional with
masking, Dense, BatchNormalization at inference, old hard_sigmoid)."""
import numpy as np
import pytest

from conftest import TOL, ragged_ids, record, run_tool, seqcls, write_spec


# ---- the Keras equations (float64) ----

def activation(name, x):
    if name == "hard_sigmoid":      # Keras 2: clip(0.2 x + 0.5, 0, 1)
        return np.clip(0.2 * x + 0.5, 0.0, 1.0)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-x))
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "tanh":
        return np.tanh(x)
    if name in (None, "linear"):
        return x
    if name == "softmax":
        e = np.exp(x - x.max(-1, keepdims=True))
        return e / e.sum(-1, keepdims=True)
    raise ValueError(name)


def lstm_step(w, x, h, c, ra):
    z = x @ w["kernel"] + h @ w["recurrent_kernel"] + w["bias"]
    i, f, g, o = np.split(z, 4)
    c = activation(ra, f) * c + activation(ra, i) * np.tanh(g)
    return activation(ra, o) * np.tanh(c), c


def gru_step(w, x, h, c, ra):
    H = h.shape[0]
    K, U, b = w["kernel"], w["recurrent_kernel"], w["bias"]
    if b.ndim == 2:                                  # reset_after=True
        xz, xr, xh = np.split(x @ K + b[0], 3)
        hz, hr, hh = np.split(h @ U + b[1], 3)
        z, r = activation(ra, xz + hz), activation(ra, xr + hr)
        cand = np.tanh(xh + r * hh)
    else:                                            # reset_after=False
        xz, xr, xh = np.split(x @ K + b, 3)
        z = activation(ra, xz + h @ U[:, :H])
        r = activation(ra, xr + h @ U[:, H:2 * H])
        cand = np.tanh(xh + (r * h) @ U[:, 2 * H:])
    return z * h + (1 - z) * cand, c


def rnn(kind, w, seq, lengths, ra, backwards=False):
    """One direction over the valid steps: (outputs [B, T, H] aligned in time, final h)."""
    B, T, _ = seq.shape
    H = w["recurrent_kernel"].shape[0]
    step = lstm_step if kind == "lstm" else gru_step
    out, final = np.zeros((B, T, H)), np.zeros((B, H))
    for b in range(B):
        h, c = np.zeros(H), np.zeros(H)
        ts = range(lengths[b])
        for t in (reversed(ts) if backwards else ts):
            h, c = step(w, seq[b, t], h, c, ra)
            out[b, t] = h
        final[b] = h
    return out, final


def keras_forward(layers, weights, ids, lengths):
    """layers: [(kind, name, config)] as in the Keras model; returns (probs, attention)."""
    x, seq, state, att = None, None, None, None
    for kind, name, cfg in layers:
        if kind == "embedding":
            seq = weights[name + "/embeddings"][ids]
        elif kind in ("lstm", "gru"):
            ra = cfg.get("recurrent_activation", "sigmoid")
            if cfg.get("bidirectional"):
                fw = {k: weights["%s/forward_%s/%s" % (name, kind, k)] for k in cfg["keys"]}
                bw = {k: weights["%s/backward_%s/%s" % (name, kind, k)] for k in cfg["keys"]}
                of, hf = rnn(kind, fw, seq, lengths, ra)
                ob, hb = rnn(kind, bw, seq, lengths, ra, backwards=True)
                seq_out, state = np.concatenate((of, ob), -1), np.concatenate((hf, hb), -1)
            else:
                w = {k: weights["%s/%s" % (name, k)] for k in cfg["keys"]}
                seq_out, state = rnn(kind, w, seq, lengths, ra)
            if cfg.get("return_sequences"):
                seq = seq_out
            else:
                x = state
        elif kind == "bahdanau":
            def dense(n, v):
                return v @ weights[n + "/kernel"] + weights.get(n + "/bias", 0.0)
            W1, W2, V = cfg["W1"], cfg["W2"], cfg["V"]
            score = dense(V, np.tanh(dense(W1, seq) + dense(W2, state)[:, None, :]))[..., 0]
            T = seq.shape[1]
            mask = np.arange(T)[None, :] < lengths[:, None]
            score = np.where(mask, score, -np.inf)
            att = np.exp(score - score.max(1, keepdims=True))
            att /= att.sum(1, keepdims=True)
            x = (att[..., None] * seq).sum(1)
        elif kind == "dense":
            x = activation(cfg.get("activation"),
                           x @ weights[name + "/kernel"] + weights[name + "/bias"])
        elif kind == "batchnorm":
            g = lambda k: weights[name + "/" + k]  # noqa: E731
            x = g("gamma") * (x - g("moving_mean")) / np.sqrt(g("moving_variance")
                                                                  + cfg.get("epsilon", 1e-3)) \
                + g("beta")
        elif kind == "dropout":
            pass
        else:
            raise ValueError(kind)
    return x, att


# ---- random Keras weights, keys as Keras names them ----

def keras_weights(layers, vocab, rng):
    w = {}
    dim = None

    def u(*shape, scale=0.5):
        return rng.uniform(-scale, scale, size=shape)
    for kind, name, cfg in layers:
        if kind == "embedding":
            dim = cfg["dim"]
            w[name + "/embeddings"] = u(vocab, dim, scale=1.0)
        elif kind in ("lstm", "gru"):
            H, G = cfg["units"], 4 if kind == "lstm" else 3
            dirs = ["%s/forward_%s/" % (name, kind), "%s/backward_%s/" % (name, kind)] \
                if cfg.get("bidirectional") else [name + "/"]
            for d in dirs:
                w[d + "kernel"] = u(dim, G * H)
                w[d + "recurrent_kernel"] = u(H, G * H)
                if kind == "gru" and cfg.get("reset_after", True):
                    w[d + "bias"] = u(2, G * H)
                else:
                    w[d + "bias"] = u(G * H)
            cfg["keys"] = ("kernel", "recurrent_kernel", "bias")
            out = H * len(dirs)
            if cfg.get("return_sequences"):
                dim = out
            else:
                feat = out
            state = out
        elif kind == "bahdanau":
            U = cfg["units"]
            w[cfg["W1"] + "/kernel"], w[cfg["W1"] + "/bias"] = u(dim, U), u(U)
            w[cfg["W2"] + "/kernel"], w[cfg["W2"] + "/bias"] = u(state, U), u(U)
            w[cfg["V"] + "/kernel"], w[cfg["V"] + "/bias"] = u(U, 1), u(1)
            feat = dim
        elif kind == "dense":
            w[name + "/kernel"], w[name + "/bias"] = u(feat, cfg["units"]), u(cfg["units"])
            feat = cfg["units"]
        elif kind == "batchnorm":
            w[name + "/gamma"] = rng.uniform(0.5, 1.5, feat)
            w[name + "/beta"] = u(feat)
            w[name + "/moving_mean"] = u(feat)
            w[name + "/moving_variance"] = rng.uniform(0.3, 2.0, feat)
    return {k: v.astype(np.float32) for k, v in w.items()}


def spec_of(layers):
    """The converter's spec for the Keras model."""
    spec = []
    for i, (kind, name, cfg) in enumerate(layers):
        last = i == len(layers) - 1
        if kind == "embedding":
            spec.append({"embedding": name})
        elif kind in ("lstm", "gru"):
            e = {kind: name, "bidirectional": bool(cfg.get("bidirectional")),
                 "return_sequences": bool(cfg.get("return_sequences"))}
            if "recurrent_activation" in cfg:
                e["recurrent_activation"] = cfg["recurrent_activation"]
            if kind == "gru" and "reset_after" in cfg:
                e["reset_after"] = cfg["reset_after"]
            spec.append(e)
        elif kind == "bahdanau":
            spec.append({"attention": "bahdanau", "W1": cfg["W1"], "W2": cfg["W2"],
                         "V": cfg["V"]})
        elif kind == "dense" and last:
            spec.append({"output": name})
        elif kind == "dense":
            spec.append({"dense": name, "activation": cfg.get("activation")})
        elif kind == "batchnorm":
            e = {"batchnorm": name}
            if "epsilon" in cfg:
                e["epsilon"] = cfg["epsilon"]
            spec.append(e)
        elif kind == "dropout":
            spec.append({"dropout": cfg["rate"]})
    return spec


def keyed(weights, style):
    """Key spellings of real exports: tf.keras ':0' suffixes, Keras 3 cell paths."""
    out = {}
    for k, v in weights.items():
        parts = k.split("/")
        if style >= 1 and parts[-1] in ("kernel", "recurrent_kernel", "bias") and \
                any(p.startswith(("forward_lstm", "backward_lstm", "forward_gru",
                                  "backward_gru", "lstm", "gru")) for p in parts[:-1]):
            cell = "lstm_cell" if "lstm" in k else "gru_cell"
            k = "/".join(parts[:-1] + [cell, parts[-1]])
        if style == 2:
            k += ":0"
        out[k] = v
    return out


MODELS = {
    # BiLSTM (sequences) -> BiGRU reset_after=True, hard sigmoid -> Dense relu -> BN -> sigmoid
    "bilstm-bigru-hard-bn": [
        ("embedding", "embedding", {"dim": 7}),
        ("lstm", "bidirectional", {"units": 5, "bidirectional": True, "return_sequences": True}),
        ("gru", "bidirectional_1", {"units": 4, "bidirectional": True, "reset_after": True,
                                    "recurrent_activation": "hard_sigmoid"}),
        ("dense", "dense", {"units": 6, "activation": "relu"}),
        ("batchnorm", "batch_normalization", {}),
        ("dropout", "dropout", {"rate": 0.3}),
        ("dense", "dense_1", {"units": 1, "activation": "sigmoid"})],
    # GRU reset_after=False (old Keras) -> BN eps 1e-2 -> softmax over 3
    "gru-reset-before-softmax": [
        ("embedding", "embedding_1", {"dim": 6}),
        ("gru", "gru", {"units": 5, "reset_after": False}),
        ("batchnorm", "bn", {"epsilon": 1e-2}),
        ("dense", "dense_2", {"units": 3, "activation": "softmax"})],
    # BiGRU reset_after=False + hard sigmoid, sequences -> Bahdanau of Dense layers
    "bigru-reset-before-hard-bahdanau": [
        ("embedding", "emb", {"dim": 5}),
        ("gru", "bidirectional_2", {"units": 4, "bidirectional": True, "reset_after": False,
                                    "recurrent_activation": "hard_sigmoid",
                                    "return_sequences": True}),
        ("bahdanau", "att", {"units": 6, "W1": "dense_3", "W2": "dense_4", "V": "dense_5"}),
        ("dense", "dense_6", {"units": 5, "activation": "tanh"}),
        ("dense", "out", {"units": 4, "activation": "softmax"})],
    # plain LSTM with old Keras' hard sigmoid, GRU reset_after=True unidirectional
    "lstm-hard-gru": [
        ("embedding", "embedding", {"dim": 6}),
        ("lstm", "lstm", {"units": 5, "recurrent_activation": "hard_sigmoid",
                          "return_sequences": True}),
        ("gru", "gru_1", {"units": 4}),
        ("dense", "dense", {"units": 1, "activation": "sigmoid"})],
}


@pytest.mark.parametrize("style", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_parity(name, style, tmp_path):
    layers = [(k, n, dict(c)) for k, n, c in MODELS[name]]
    vocab, B, T = 40, 6, 9
    rng = np.random.default_rng(sum(map(ord, name)) + style)
    weights = keras_weights(layers, vocab, rng)
    npz = tmp_path / "weights.npz"
    np.savez(npz, **keyed(weights, style))
    spec = write_spec(tmp_path / "spec.json", spec_of(layers))
    out = tmp_path / "model.sqcl"
    status, _, stderr = run_tool("convert_keras.py", npz, spec, out, "--strict")
    assert status == 0, stderr

    ids, lengths = ragged_ids(rng, B, T, vocab)
    ref, att_ref = keras_forward(layers, {k: v.astype(np.float64) for k, v in weights.items()},
                                 ids, lengths)
    m = seqcls.Model.load(str(out))
    if att_ref is not None:
        probs, att = m.predict(ids, lengths, return_attention=True)
        assert record("keras attention weights", np.abs(att - att_ref).max()) <= TOL
    else:
        probs = m.predict(ids, lengths)
    if ref.shape[1] == 1:
        assert layers[-1][2]["activation"] == "sigmoid"
    assert probs.shape == ref.shape
    assert record("keras probabilities", np.abs(probs - ref).max()) <= TOL
