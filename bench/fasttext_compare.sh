#!/bin/sh
# bench/fasttext_compare.sh -- seqcls's fastText classifier (--arch meanpool
# with character n-grams) beside fastText 0.9.2 itself (Debian `fasttext`),
# on the same files, in the same run, one thread each.
#
# The task: the language of a word, among 8 (English, German, French,
# Italian, Spanish, Portuguese, Dutch, Swedish), from the Debian word lists
# under /usr/share/dict (bench/wordlang_data.py: lower-cased words of 3 or
# more letters found in one list only, 15000 a language, 80/20 split with a
# fixed seed).  No test word is in the training file, so only its
# characters tell: fastText's subword model is what the task needs.
#
# Both train with the same epochs, dimension, n-gram lengths and buckets,
# each with its own optimiser at its default learning rate (fastText: SGD
# with lr 0.1 decaying linearly to 0, one example at a time; seqcls: Adam,
# lr 0.002, batches of 32, gradients clipped to norm 5); seqcls trains on
# the whole file as fastText does (--valid-split 0).  Each side runs ROUNDS
# times, alternating; the table gives the median wall and CPU (user +
# system) seconds of the whole `train` command (reading, building,
# training, saving the model) and the test accuracy (fastText's P@1, which
# is the accuracy with one label a line).
#
#   sh bench/fasttext_compare.sh            (or make bench-fasttext)
#   EPOCHS=5 DIM=100 MINN=2 MAXN=5 BUCKET=2000000 ROUNDS=3 PER_LANG=15000
#   FT_LR=0.1 SQ_LR=0.002 SQ_BATCH=32       override the settings
#
# As root, missing packages (fasttext, the word lists) are installed;
# otherwise the apt-get line to run is printed.
set -eu
cd "$(dirname "$0")/.."

EPOCHS=${EPOCHS:-5}
DIM=${DIM:-100}
MINN=${MINN:-2}
MAXN=${MAXN:-5}
BUCKET=${BUCKET:-2000000}
ROUNDS=${ROUNDS:-3}
PER_LANG=${PER_LANG:-15000}
FT_LR=${FT_LR:-0.1}
SQ_LR=${SQ_LR:-0.002}
SQ_BATCH=${SQ_BATCH:-32}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=${OUT:-build/bench/fasttext}

sh tools/ensure-deps.sh fasttext time wamerican wngerman wfrench witalian wspanish wportuguese \
    wdutch wswedish
make --no-print-directory all >/dev/null
mkdir -p "$OUT"
"$PYTHON" bench/wordlang_data.py "$OUT" "$PER_LANG"

SEQCLS=bin/seqcls
TIME=/usr/bin/time

# run NAME CMD...: time CMD, append "wall cpu" to $OUT/NAME.times
run() {
    name=$1
    shift
    "$TIME" -f "%e %U %S" -o "$OUT/$name.time1" "$@" >"$OUT/$name.log" 2>&1 || {
        echo "fasttext_compare: $name failed:" >&2
        cat "$OUT/$name.log" >&2
        exit 1
    }
    awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$OUT/$name.time1" >>"$OUT/$name.times"
}

rm -f "$OUT"/*.times
i=1
while [ "$i" -le "$ROUNDS" ]; do
    echo "round $i/$ROUNDS: fastText, then seqcls"
    run fasttext fasttext supervised -input "$OUT/train.txt" -output "$OUT/ft" -dim "$DIM" \
        -epoch "$EPOCHS" -lr "$FT_LR" -minn "$MINN" -maxn "$MAXN" -bucket "$BUCKET" -thread 1 \
        -verbose 0
    run seqcls "$SEQCLS" train -i "$OUT/train.txt" -o "$OUT/sq.sqcl" --arch meanpool \
        --dim "$DIM" --epochs "$EPOCHS" --lr "$SQ_LR" --batch "$SQ_BATCH" --minn "$MINN" \
        --maxn "$MAXN" --bucket "$BUCKET" --threads 1 --valid-split 0 --min-count 1
    i=$((i + 1))
done

ft_acc=$(fasttext test "$OUT/ft.bin" "$OUT/test.txt" | awk '$1 == "P@1" {print $2}')
sq_acc=$("$SEQCLS" test "$OUT/sq.sqcl" "$OUT/test.txt" 2>/dev/null | awk -F'\t' '$1 == "accuracy" {print $2}')
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ft_wall=$(cut -d' ' -f1 "$OUT/fasttext.times" | median)
ft_cpu=$(cut -d' ' -f2 "$OUT/fasttext.times" | median)
sq_wall=$(cut -d' ' -f1 "$OUT/seqcls.times" | median)
sq_cpu=$(cut -d' ' -f2 "$OUT/seqcls.times" | median)

echo
echo "language of a word, 8 languages: $(wc -l <"$OUT/train.txt") train, $(wc -l <"$OUT/test.txt") test words"
echo "epochs $EPOCHS, dim $DIM, n-grams $MINN-$MAXN, bucket $BUCKET, one thread; median of $ROUNDS runs"
printf "%-44s %9s %10s %9s\n" "" "accuracy" "wall (s)" "CPU (s)"
printf "%-44s %9.4f %10.2f %9.2f\n" "fastText 0.9.2 supervised (SGD, lr $FT_LR)" "$ft_acc" "$ft_wall" "$ft_cpu"
printf "%-44s %9.4f %10.2f %9.2f\n" "seqcls train --arch meanpool (Adam, lr $SQ_LR)" "$sq_acc" "$sq_wall" "$sq_cpu"
echo "(every run: $OUT/fasttext.times, $OUT/seqcls.times: wall and CPU seconds)"
